/**
 * A dataset as the experiment describes it: where the images come from (the embedded
 * Fashion-MNIST subset, the full set, CIFAR files, a teacher task), which classes, what
 * resolution, how much validation data, which seed; and the prepared result on disk (raw
 * float32 plus a JSON header), so one stage prepares data and the next ones read it back.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataSpec, type DataSpec, type DataSpecInput } from './spec.ts';
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
import { readEmbeddedFashionMnist, readFashionMnist } from './fashion-mnist.ts';
import { hierarchyTask } from './hierarchy.ts';
import { mosaicTask } from './mosaic.ts';
import { deepTeacher, teacherTask } from './teacher.ts';

export { dataSpec, type DataSpec, type DataSpecInput } from './spec.ts';

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
