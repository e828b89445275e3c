/**
 * A dataset as the experiment describes it: where the images come from (the embedded
 * Fashion-MNIST subset, the full set, CIFAR files, a teacher task), which classes, what
 * resolution, how much validation data, which seed; and the prepared result on disk (raw
 * float32 plus a JSON header), so one stage prepares data and the next ones read it back.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readCifar } from './cifar.ts';
import {
  channelStats,
  classSubset,
  downsample,
  normalize,
  stratifiedSplit,
  take,
  toDataset,
  type ChannelStats,
  type Dataset,
} from './dataset.ts';
import { deriveSeed } from '../random.ts';
import { DEBIAN_FASHION_MNIST_DIR, readEmbeddedFashionMnist, readFashionMnist } from './fashion-mnist.ts';
import { hierarchyTask } from './hierarchy.ts';
import { mosaicTask } from './mosaic.ts';
import { deepTeacher, teacherTask } from './teacher.ts';

const positive = z.number().int().positive();

export const dataSpec = z
  .object({
    source: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('fashion-mnist-embedded') }).strict(),
      z.object({ kind: z.literal('fashion-mnist'), dir: z.string().default(DEBIAN_FASHION_MNIST_DIR) }).strict(),
      z
        .object({
          kind: z.literal('cifar'),
          variant: z.union([z.literal(10), z.literal(100)]),
          train: z.array(z.string()).min(1),
          test: z.array(z.string()).min(1),
          label: z.enum(['fine', 'coarse']).default('fine'),
        })
        .strict(),
      /** Gaussian inputs labelled by a random plain ReLU CNN of `depth` conv layers (the difficulty knob). */
      z
        .object({
          kind: z.literal('teacher'),
          depth: positive,
          size: positive.default(8),
          classes: positive.default(10),
          width: positive.default(16),
          train: positive.default(2000),
          test: positive.default(500),
        })
        .strict(),
      /**
       * The Random Hierarchy Model in 2-D (hierarchy.ts): one-hot symbols on a 2^L grid whose label
       * is the root of L levels of random 2×2 production rules (the difficulty knob is L).
       */
      z
        .object({
          kind: z.literal('hierarchy'),
          levels: positive.max(6),
          vocabulary: positive.default(8),
          classes: positive.default(4),
          rules: positive.default(4),
          /** Side of the image; each symbol is repeated into a square (default 2^levels). */
          size: positive.optional(),
          train: positive.default(8000),
          test: positive.default(4000),
        })
        .strict(),
      /**
       * Mosaics of Fashion-MNIST items whose label is a relation between them (mosaic.ts): the
       * sum of their class numbers modulo k, or whether they are all of one class.
       */
      z
        .object({
          kind: z.literal('fashion-mnist-mosaic'),
          dir: z.string().default(DEBIAN_FASHION_MNIST_DIR),
          items: z.number().int().min(2).max(4).default(2),
          itemClasses: z.array(z.number().int().nonnegative()).min(2).default([1, 8]),
          rule: z.enum(['sum-mod', 'same', 'first']).default('sum-mod'),
          train: positive.default(8000),
          test: positive.default(4000),
        })
        .strict(),
    ]),
    /** Keep only these classes (relabelled 0…k−1, in this order). */
    classes: z.array(z.number().int().nonnegative()).optional(),
    /** Average-pool images by this factor (2: 28×28 → 14×14). */
    downsample: positive.default(1),
    /** Fraction (< 1) or count of training examples held out, stratified. 0: none. */
    validation: z.number().nonnegative().default(0),
    /** Keep only the first N training / test examples (after the class subset): quick runs and tests. */
    limit: z.object({ train: positive.optional(), test: positive.optional() }).strict().default({}),
    seed: z.number().int().default(0),
  })
  .strict();

export type DataSpec = z.output<typeof dataSpec>;
export type DataSpecInput = z.input<typeof dataSpec>;

export interface PreparedData {
  readonly train: Dataset;
  readonly validation?: Dataset;
  readonly test: Dataset;
  /** The training set's per-channel statistics, applied to every split. */
  readonly stats: ChannelStats;
}

export function prepareData(input: DataSpecInput): PreparedData {
  const spec = dataSpec.parse(input);
  let train: Dataset;
  let test: Dataset;
  const s = spec.source;
  switch (s.kind) {
    case 'fashion-mnist-embedded':
    case 'fashion-mnist': {
      const raw = s.kind === 'fashion-mnist' ? readFashionMnist(s.dir) : readEmbeddedFashionMnist();
      [train, test] = [toDataset(raw.train), toDataset(raw.test)];
      break;
    }
    case 'cifar':
      [train, test] = [
        toDataset(readCifar(s.train, { variant: s.variant, label: s.label })),
        toDataset(readCifar(s.test, { variant: s.variant, label: s.label })),
      ];
      break;
    case 'teacher':
      ({ train, test } = teacherTask({
        teacher: deepTeacher({ inputShape: [s.size, s.size, 1], depth: s.depth, width: s.width, classes: s.classes }),
        train: s.train,
        test: s.test,
        seed: spec.seed,
      }));
      break;
    case 'hierarchy':
      ({ train, test } = hierarchyTask({ ...s, seed: spec.seed }));
      break;
    case 'fashion-mnist-mosaic': {
      const raw = readFashionMnist(s.dir);
      const options = { items: s.items, classes: s.itemClasses, rule: s.rule, seed: spec.seed };
      [train, test] = [
        toDataset(mosaicTask(raw.train, { ...options, count: s.train, seed: deriveSeed(spec.seed, 'train') })),
        toDataset(mosaicTask(raw.test, { ...options, count: s.test, seed: deriveSeed(spec.seed, 'test') })),
      ];
      break;
    }
  }
  if (spec.classes) [train, test] = [classSubset(train, spec.classes), classSubset(test, spec.classes)];
  const first = (ds: Dataset, n: number | undefined) =>
    n === undefined || n >= ds.labels.length
      ? ds
      : take(
          ds,
          Int32Array.from({ length: n }, (_, i) => i),
        );
  [train, test] = [first(train, spec.limit.train), first(test, spec.limit.test)];
  if (spec.downsample > 1) [train, test] = [downsample(train, spec.downsample), downsample(test, spec.downsample)];
  let validation: Dataset | undefined;
  if (spec.validation > 0) ({ train, validation } = stratifiedSplit(train, spec.validation, spec.seed));
  const stats = channelStats(train);
  return {
    train: normalize(train, stats),
    ...(validation ? { validation: normalize(validation, stats) } : {}),
    test: normalize(test, stats),
    stats,
  };
}

interface SplitHeader {
  count: number;
  shape: number[];
  classes: number;
  classNames?: string[];
}

/** Write each split as `<name>.x.f32` + `<name>.labels.i32` and a `data.json` header. */
export async function saveData(dir: string, data: PreparedData): Promise<void> {
  await mkdir(dir, { recursive: true });
  const splits: Record<string, SplitHeader> = {};
  for (const [name, ds] of Object.entries({ train: data.train, validation: data.validation, test: data.test })) {
    if (!ds) continue;
    await writeFile(join(dir, `${name}.x.f32`), new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength));
    await writeFile(
      join(dir, `${name}.labels.i32`),
      new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength),
    );
    splits[name] = {
      count: ds.labels.length,
      shape: [...ds.shape],
      classes: ds.classes,
      ...(ds.classNames ? { classNames: [...ds.classNames] } : {}),
    };
  }
  await writeFile(
    join(dir, 'data.json'),
    JSON.stringify({ format: 'linea-data', version: 1, stats: data.stats, splits }, null, 1) + '\n',
  );
}

export async function loadData(dir: string): Promise<PreparedData> {
  let header: { format: string; stats: ChannelStats; splits: Record<string, SplitHeader> };
  try {
    header = JSON.parse(await readFile(join(dir, 'data.json'), 'utf8'));
  } catch (error) {
    throw new Error(`cannot read prepared data in ${dir}: ${(error as Error).message}`);
  }
  if (header.format !== 'linea-data') throw new Error(`${join(dir, 'data.json')} is not a linea data header`);
  const read = async (name: string): Promise<Dataset | undefined> => {
    const h = header.splits[name];
    if (!h) return undefined;
    const per = h.shape.reduce((a, b) => a * b, 1);
    const xBytes = await readFile(join(dir, `${name}.x.f32`));
    const yBytes = await readFile(join(dir, `${name}.labels.i32`));
    if (xBytes.byteLength !== h.count * per * 4 || yBytes.byteLength !== h.count * 4) {
      throw new Error(
        `${join(dir, name)}.*: sizes do not match the ${h.count} examples of shape [${h.shape}] in data.json`,
      );
    }
    // Copy into fresh, aligned arrays (a Buffer may start at any offset of a shared pool).
    const x = new Float32Array(h.count * per);
    new Uint8Array(x.buffer).set(xBytes);
    const labels = new Int32Array(h.count);
    new Uint8Array(labels.buffer).set(yBytes);
    return { x, labels, shape: h.shape, classes: h.classes, ...(h.classNames ? { classNames: h.classNames } : {}) };
  };
  const [train, validation, test] = await Promise.all([read('train'), read('validation'), read('test')]);
  if (!train || !test) throw new Error(`${join(dir, 'data.json')}: a train and a test split are required`);
  return { train, ...(validation ? { validation } : {}), test, stats: header.stats };
}
