/**
 * CIFAR-10/100 binary format (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
 * label byte(s) then 3,072 pixel bytes, the red, green and blue 32×32 planes in turn. CIFAR-100
 * records carry a coarse and a fine label. Images come out channels-last (32×32×3) like tfjs.
 */
import { readFileSync } from 'node:fs';
import type { RawImages } from './dataset.ts';

const PIXELS = 32 * 32;

export interface CifarOptions {
  readonly variant: 10 | 100;
  /** CIFAR-100 only: which of the two labels to use. */
  readonly label?: 'fine' | 'coarse';
}

export function parseCifar(bytes: Uint8Array, options: CifarOptions, source = 'CIFAR data'): RawImages {
  const labelBytes = options.variant === 100 ? 2 : 1;
  const record = labelBytes + 3 * PIXELS;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new Error(
      `${source}: ${bytes.length} bytes is not a whole number of CIFAR-${options.variant} records of ${record} bytes`,
    );
  }
  const count = bytes.length / record;
  const pixels = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  const labelOffset = options.variant === 100 && options.label !== 'coarse' ? 1 : 0;
  for (let n = 0; n < count; n++) {
    const base = n * record;
    labels[n] = bytes[base + labelOffset]!;
    const img = bytes.subarray(base + labelBytes, base + record);
    const out = n * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      pixels[out + 3 * p] = img[p]!;
      pixels[out + 3 * p + 1] = img[PIXELS + p]!;
      pixels[out + 3 * p + 2] = img[2 * PIXELS + p]!;
    }
  }
  const classes = options.variant === 10 ? 10 : options.label === 'coarse' ? 20 : 100;
  for (const l of labels)
    if (l >= classes) throw new Error(`${source}: label ${l} is out of range for ${classes} classes`);
  return { pixels, labels, shape: [32, 32, 3], classes };
}

/** Read and concatenate several batch files (e.g. data_batch_1.bin … data_batch_5.bin). */
export function readCifar(paths: readonly string[], options: CifarOptions): RawImages {
  const parts = paths.map((p) => {
    try {
      return parseCifar(readFileSync(p), options, p);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`CIFAR file not found: ${p}`);
      throw error;
    }
  });
  const count = parts.reduce((n, p) => n + p.labels.length, 0);
  const pixels = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * 3 * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return { pixels, labels, shape: [32, 32, 3], classes: parts[0]?.classes ?? options.variant };
}

/** Encode channels-last images into CIFAR records (the tests write small files this way). */
export function encodeCifar(images: RawImages, options: CifarOptions & { coarse?: Int32Array }): Uint8Array {
  const labelBytes = options.variant === 100 ? 2 : 1;
  const record = labelBytes + 3 * PIXELS;
  const out = new Uint8Array(images.labels.length * record);
  images.labels.forEach((label, n) => {
    const base = n * record;
    if (options.variant === 100) {
      out[base] = options.coarse?.[n] ?? 0;
      out[base + 1] = label;
    } else out[base] = label;
    for (let p = 0; p < PIXELS; p++) {
      for (let c = 0; c < 3; c++) out[base + labelBytes + c * PIXELS + p] = images.pixels[n * 3 * PIXELS + 3 * p + c]!;
    }
  });
  return out;
}
