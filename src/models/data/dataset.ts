/**
 * In-memory datasets: raw uint8 images as read from disk, and float datasets ready to batch
 * (channels-last, one label per example). Every transformation is a pure function returning a
 * new dataset; every random choice takes a seed.
 */
import * as tf from '../tf.ts';
import { deriveSeed, mulberry32, permutation } from '../random.ts';

/** Images as stored: uint8 pixels, channels-last. */
export interface RawImages {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  /** Per-example shape, [height, width, channels]. */
  readonly shape: readonly number[];
  readonly classes: number;
  readonly classNames?: readonly string[];
}

/** Float examples ready for training: `x` holds `size` examples of `shape`, row after row. */
export interface Dataset {
  readonly x: Float32Array;
  readonly labels: Int32Array;
  /** Per-example shape: [h, w, c] for images, [d] for vectors. */
  readonly shape: readonly number[];
  readonly classes: number;
  readonly classNames?: readonly string[];
}

export interface ChannelStats {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export function exampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sizeOf(ds: Pick<Dataset, 'labels'>): number {
  return ds.labels.length;
}

/** Pixels scaled to [0, 1]. */
export function toDataset(raw: RawImages): Dataset {
  const x = new Float32Array(raw.pixels.length);
  for (let i = 0; i < x.length; i++) x[i] = raw.pixels[i]! / 255;
  return {
    x,
    labels: raw.labels,
    shape: raw.shape,
    classes: raw.classes,
    ...(raw.classNames ? { classNames: raw.classNames } : {}),
  };
}

/** The examples at `indices`, in that order. */
export function take<T extends Dataset>(ds: T, indices: ArrayLike<number>): Dataset {
  const per = exampleSize(ds.shape);
  const x = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    x.set(ds.x.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j]!;
  }
  return { ...ds, x, labels };
}

/** Examples [start, end) as one batch tensor; the caller disposes it. */
function batchTensor(ds: Dataset, start: number, end: number): tf.Tensor {
  const per = exampleSize(ds.shape);
  return tf.tensor(ds.x.subarray(start * per, end * per), [end - start, ...ds.shape]);
}

/** The first `n` examples (or all, when fewer) as one batch tensor; the caller disposes it. */
export function headBatch(ds: Dataset, n: number): tf.Tensor {
  return batchTensor(ds, 0, Math.min(n, ds.labels.length));
}

/** Every example in order, `size` at a time (the last batch may be smaller); the caller disposes each. */
export function* batches(ds: Dataset, size: number): Generator<tf.Tensor> {
  for (let start = 0; start < ds.labels.length; start += size)
    yield batchTensor(ds, start, Math.min(ds.labels.length, start + size));
}

export function takeRaw(raw: RawImages, indices: ArrayLike<number>): RawImages {
  const per = exampleSize(raw.shape);
  const pixels = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    pixels.set(raw.pixels.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = raw.labels[j]!;
  }
  return { ...raw, pixels, labels };
}

/**
 * Keep only `classes` (in the order given) and relabel them 0…k−1: the difficulty knob on real
 * data (trouser vs bag is easy; shirt vs T-shirt vs pullover vs coat is hard).
 */
export function classSubset(ds: Dataset, classes: readonly number[]): Dataset {
  const seen = new Set<number>();
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= ds.classes)
      throw new Error(`class subset: class ${c} is not one of 0…${ds.classes - 1}`);
    if (seen.has(c)) throw new Error(`class subset: class ${c} is listed twice`);
    seen.add(c);
  }
  if (classes.length < 2) throw new Error('class subset: choose at least two classes');
  const relabel = new Map(classes.map((c, i) => [c, i]));
  const indices: number[] = [];
  for (let i = 0; i < ds.labels.length; i++) if (relabel.has(ds.labels[i]!)) indices.push(i);
  const sub = take(ds, indices);
  const labels = sub.labels.map((l) => relabel.get(l)!);
  return {
    ...sub,
    labels,
    classes: classes.length,
    ...(ds.classNames ? { classNames: classes.map((c) => ds.classNames![c]!) } : {}),
  };
}

/** Average-pool images by `factor` (28×28 → 14×14 with 2). Height and width must divide. */
export function downsample(ds: Dataset, factor: number): Dataset {
  if (factor === 1) return ds;
  const [h, w, c] = ds.shape as [number, number, number];
  if (ds.shape.length !== 3) throw new Error('downsample: the dataset does not hold images');
  if (!Number.isInteger(factor) || factor < 1 || h % factor !== 0 || w % factor !== 0) {
    throw new Error(`downsample: factor ${factor} does not divide the ${h}×${w} images`);
  }
  const oh = h / factor;
  const ow = w / factor;
  const n = ds.labels.length;
  const x = new Float32Array(n * oh * ow * c);
  const scale = 1 / (factor * factor);
  for (let i = 0; i < n; i++) {
    const src = i * h * w * c;
    const dst = i * oh * ow * c;
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let dy = 0; dy < factor; dy++) {
            for (let dx = 0; dx < factor; dx++) sum += ds.x[src + ((y * factor + dy) * w + xx * factor + dx) * c + ch]!;
          }
          x[dst + (y * ow + xx) * c + ch] = sum * scale;
        }
      }
    }
  }
  return { ...ds, x, shape: [oh, ow, c] };
}

/** Per-channel mean and standard deviation (the last axis is the channel). */
export function channelStats(ds: Dataset): ChannelStats {
  const c = ds.shape.at(-1)!;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i]!;
    sum[i % c]! += v;
    sq[i % c]! += v * v;
  }
  const n = ds.x.length / c;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, i) => Math.sqrt(Math.max(s / n - mean[i]! ** 2, 0)) || 1);
  return { mean, std };
}

/** (x − mean) / std per channel; use the training set's stats for every split. */
export function normalize(ds: Dataset, stats: ChannelStats): Dataset {
  const c = ds.shape.at(-1)!;
  const x = new Float32Array(ds.x.length);
  for (let i = 0; i < x.length; i++) x[i] = (ds.x[i]! - stats.mean[i % c]!) / stats.std[i % c]!;
  return { ...ds, x };
}

/**
 * Indices of a stratified sample: `count` examples with each class represented in proportion,
 * chosen by `seed`. Returned sorted, so the sample keeps the source order.
 */
export function stratifiedIndices(labels: Int32Array, classes: number, count: number, seed: number): Int32Array {
  if (count > labels.length) throw new Error(`cannot sample ${count} examples from ${labels.length}`);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (const [i, l] of labels.entries()) byClass[l]!.push(i);
  // Largest-remainder apportionment, so the counts add up to exactly `count`.
  const quotas = byClass.map((ix) => (ix.length * count) / labels.length);
  const counts = quotas.map(Math.floor);
  const order = quotas.map((q, c) => [q - Math.floor(q), c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; counts.reduce((a, b) => a + b, 0) < count; k++) counts[order[k % classes]![1]]! += 1;
  const chosen: number[] = [];
  byClass.forEach((ix, c) => {
    const perm = permutation(mulberry32(deriveSeed(seed, 'class', c)), ix.length);
    for (let k = 0; k < counts[c]!; k++) chosen.push(ix[perm[k]!]!);
  });
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

/** A seeded stratified train/validation split: `validation` is a fraction (< 1) or a count. */
export function stratifiedSplit(
  ds: Dataset,
  validation: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  const n = ds.labels.length;
  const count = validation < 1 ? Math.round(validation * n) : validation;
  if (!Number.isInteger(count) || count <= 0 || count >= n)
    throw new Error(`validation split of ${validation} leaves no train or no validation examples out of ${n}`);
  const val = stratifiedIndices(ds.labels, ds.classes, count, seed);
  const inVal = new Uint8Array(n);
  for (const i of val) inVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < n; i++) if (!inVal[i]) train.push(i);
  return { train: take(ds, train), validation: take(ds, val) };
}

export function classCounts(ds: Pick<Dataset, 'labels' | 'classes'>): number[] {
  const counts = new Array<number>(ds.classes).fill(0);
  for (const l of ds.labels) counts[l]! += 1;
  return counts;
}
