/**
 * Canonical JSON and digests. Every hash the engine computes goes through here, so that one
 * value always has one byte representation on every machine (sorted keys, no whitespace, no
 * undefined), whatever order its fields were built in.
 */
import { createHash } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A hex sha256. Branded so that a file digest cannot be passed where a cache key is meant. */
export type Sha256<Brand extends string> = string & { readonly __digest: Brand };
/** The cache key of a stage instance: sha256 of its canonical fingerprint record. */
export type CacheKey = Sha256<'cache-key'>;
/** The identity of an artifact: sha256 of its canonical manifest. */
export type ArtifactDigest = Sha256<'artifact'>;
/** sha256 of one file's bytes (artifact files) or normalised text (code files). */
export type FileDigest = Sha256<'file'>;

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Serialise a JSON value with object keys sorted. Throws on values JSON cannot represent
 * faithfully (NaN, Infinity, functions, class instances), naming where they were found,
 * because silently turning them into null would make two different params share a key.
 */
export function canonicalJson(value: unknown, where = 'value'): string {
  return JSON.stringify(toCanonical(value, where));
}

function toCanonical(value: unknown, where: string, seen: Set<object> = new Set()): Json {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where} is ${value}, which JSON cannot represent`);
    return Object.is(value, -0) ? 0 : value;
  }
  if (typeof value === 'object' && seen.has(value))
    throw new TypeError(
      `${where} is a circular reference (it contains itself); only tree-shaped JSON values are allowed`,
    );
  if (Array.isArray(value)) {
    seen.add(value);
    const out = value.map((v, i) => toCanonical(v, `${where}[${i}]`, seen));
    seen.delete(value);
    return out;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `${where} is a ${proto?.constructor?.name ?? 'non-plain object'}; only plain JSON values are allowed`,
      );
    }
    const out: { [key: string]: Json } = {};
    seen.add(value);
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      out[key] = toCanonical(v, `${where}.${key}`, seen);
    }
    seen.delete(value);
    return out;
  }
  throw new TypeError(`${where} is a ${typeof value}; only JSON values are allowed`);
}

export function digestOf<Brand extends string>(value: unknown): Sha256<Brand> {
  return sha256(canonicalJson(value)) as Sha256<Brand>;
}

/** Structural equality of two JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Parse a command-line value: JSON when it parses (numbers, booleans, arrays), else the raw string. */
export function parseCliValue(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/**
 * A short human rendering of a value, for reasons and messages. Strings are quoted, so a string
 * "0.1" never reads as the number 0.1.
 */
export function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  return JSON.stringify(value);
}
