/**
 * Seeded randomness in plain JavaScript. Initial weights, data order and splits are drawn here,
 * not by a backend's RNG, so the same seed gives the same numbers on every backend and machine.
 */

export type Rng = () => number;

/** mulberry32: a small, fast 32-bit generator; uniform in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for a sub-stream (e.g. epoch 3 of seed 7): independent of how far other streams ran. */
export function deriveSeed(seed: number, ...path: (number | string)[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of path) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  }
  return h;
}

/** Standard normal samples (Box–Muller). */
export function normalArray(rand: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Normal samples redrawn until within two standard deviations (as TF's truncated_normal). */
export function truncatedNormalArray(rand: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  const pair = new Float32Array(2);
  for (let i = 0; i < n; ) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    pair[0] = r * Math.cos(2 * Math.PI * v);
    pair[1] = r * Math.sin(2 * Math.PI * v);
    for (const z of pair) if (i < n && Math.abs(z) <= 2) out[i++] = z * std;
  }
  return out;
}

export function uniformArray(rand: Rng, n: number, low: number, high: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * rand();
  return out;
}

/** Fisher–Yates permutation of 0..n−1. */
export function permutation(rand: Rng, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
