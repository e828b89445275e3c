/**
 * Data readers and transformations: IDX (plain and .gz), CIFAR-10/100 binary files written by the
 * test, the embedded Fashion-MNIST subset, splits, downsampling, class subsets, teacher tasks.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { selectBackend } from '../src/models/backends.ts';
import { encodeCifar, readCifar } from '../src/models/data/cifar.ts';
import {
  channelStats,
  classCounts,
  classSubset,
  downsample,
  normalize,
  stratifiedSplit,
  toDataset,
  type RawImages,
} from '../src/models/data/dataset.ts';
import {
  DEBIAN_FASHION_MNIST_DIR,
  readEmbeddedFashionMnist,
  readFashionMnist,
} from '../src/models/data/fashion-mnist.ts';
import { encodeIdx, parseIdx, readIdx } from '../src/models/data/idx.ts';
import { deepTeacher, teacherTask } from '../src/models/data/teacher.ts';

let dir: string;
before(async () => {
  await selectBackend({ force: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'linea-data-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('IDX: plain and gzipped files read back; int32 big-endian; malformed files are named', async () => {
  const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);
  await writeFile(join(dir, 'x-idx3-ubyte'), encodeIdx([2, 3, 4], pixels));
  await writeFile(join(dir, 'x-idx3-ubyte.gz'), encodeIdx([2, 3, 4], pixels, true));
  for (const name of ['x-idx3-ubyte', 'x-idx3-ubyte.gz']) {
    const a = readIdx(join(dir, name));
    assert.deepEqual(a.dims, [2, 3, 4]);
    assert.deepEqual(a.data, pixels);
  }
  // type 0x0C (int32), one dimension of 2: values 1 and −2, big-endian
  const int32 = parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]));
  assert.deepEqual(Array.from(int32.data), [1, -2]);
  await writeFile(join(dir, 'short-idx1-ubyte'), encodeIdx([5], Uint8Array.from([1, 2, 3, 4, 5])).subarray(0, 10));
  assert.throws(
    () => readIdx(join(dir, 'short-idx1-ubyte')),
    /short-idx1-ubyte: header says 5 uint8 values \(5 bytes\) but the file has 2/,
  );
  await writeFile(join(dir, 'bad.gz'), 'not gzip');
  assert.throws(() => readIdx(join(dir, 'bad.gz')), /bad\.gz: not a valid gzip file/);
  assert.throws(() => parseIdx(Uint8Array.from([1, 2, 3, 4])), /not an IDX file/);
});

function randomImages(count: number, classes: number): RawImages {
  const pixels = Uint8Array.from({ length: count * 32 * 32 * 3 }, (_, i) => (i * 7919) % 256);
  const labels = Int32Array.from({ length: count }, (_, i) => (i * 3) % classes);
  return { pixels, labels, shape: [32, 32, 3], classes };
}

test('CIFAR-10 and CIFAR-100 binary files: planes become channels-last, labels and batches concatenate', async () => {
  const ten = randomImages(5, 10);
  await writeFile(
    join(dir, 'data_batch_1.bin'),
    encodeCifar({ ...ten, labels: ten.labels.slice(0, 3), pixels: ten.pixels.slice(0, 3 * 3072) }, { variant: 10 }),
  );
  await writeFile(
    join(dir, 'data_batch_2.bin'),
    encodeCifar({ ...ten, labels: ten.labels.slice(3), pixels: ten.pixels.slice(3 * 3072) }, { variant: 10 }),
  );
  const read = readCifar([join(dir, 'data_batch_1.bin'), join(dir, 'data_batch_2.bin')], { variant: 10 });
  assert.deepEqual(read.labels, ten.labels);
  assert.deepEqual(read.pixels, ten.pixels);
  // The red plane comes first in the file: byte 1 of record 0 is pixel (0,0) red.
  const bytes = encodeCifar(ten, { variant: 10 });
  assert.equal(bytes[1], ten.pixels[0]);
  assert.equal(bytes[1 + 1024], ten.pixels[1]);

  const hundred = randomImages(4, 100);
  const coarse = Int32Array.from([3, 7, 19, 0]);
  await writeFile(join(dir, 'train.bin'), encodeCifar(hundred, { variant: 100, coarse }));
  assert.deepEqual(readCifar([join(dir, 'train.bin')], { variant: 100 }).labels, hundred.labels);
  const c = readCifar([join(dir, 'train.bin')], { variant: 100, label: 'coarse' });
  assert.deepEqual(c.labels, coarse);
  assert.equal(c.classes, 20);
  await writeFile(join(dir, 'torn.bin'), bytes.subarray(0, 5000));
  assert.throws(
    () => readCifar([join(dir, 'torn.bin')], { variant: 10 }),
    /torn\.bin: 5000 bytes is not a whole number of CIFAR-10 records of 3073 bytes/,
  );
  assert.throws(() => readCifar([join(dir, 'absent.bin')], { variant: 10 }), /CIFAR file not found: .*absent\.bin/);
});

test('the embedded Fashion-MNIST subset: 10,000 + 2,000 real images, 1,000 / 200 per class', () => {
  const { train, test: testSet } = readEmbeddedFashionMnist();
  assert.deepEqual(train.shape, [28, 28, 1]);
  assert.deepEqual(classCounts(train), new Array(10).fill(1000));
  assert.deepEqual(classCounts(testSet), new Array(10).fill(200));
  // Real images, not noise: the mean pixel of Fashion-MNIST is ≈ 0.286 (72.9/255).
  const { mean } = channelStats(toDataset(train));
  assert.ok(Math.abs(mean[0]! - 0.286) < 0.01, `mean pixel ${mean[0]}`);
});

test('full Fashion-MNIST: a missing directory says how to get it; a directory of IDX files is read', async () => {
  assert.throws(
    () => readFashionMnist(join(dir, 'nowhere')),
    /Fashion-MNIST not found in .*nowhere: missing train-images-idx3-ubyte, .*dataset-fashion-mnist/,
  );
  const fm = join(dir, 'fm');
  await import('node:fs/promises').then((fs) => fs.mkdir(fm));
  await writeFile(join(fm, 'train-images-idx3-ubyte'), encodeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(9)));
  await writeFile(join(fm, 'train-labels-idx1-ubyte.gz'), encodeIdx([2], Uint8Array.from([4, 9]), true));
  await writeFile(join(fm, 't10k-images-idx3-ubyte.gz'), encodeIdx([1, 28, 28], new Uint8Array(784), true));
  await writeFile(join(fm, 't10k-labels-idx1-ubyte'), encodeIdx([2], Uint8Array.from([1, 2])));
  assert.throws(
    () => readFashionMnist(fm),
    /t10k-images-idx3-ubyte\.gz has 1 images but .*t10k-labels-idx1-ubyte has 2 labels/,
  );
  await writeFile(join(fm, 't10k-labels-idx1-ubyte'), encodeIdx([1], Uint8Array.from([1])));
  const read = readFashionMnist(fm);
  assert.deepEqual(Array.from(read.train.labels), [4, 9]);
  if (existsSync(DEBIAN_FASHION_MNIST_DIR)) {
    const full = readFashionMnist();
    assert.equal(full.train.labels.length, 60_000);
    assert.equal(full.test.labels.length, 10_000);
  }
});

test('normalise with train statistics, stratified seeded split, downsampling and class subsets', () => {
  const train = toDataset(readEmbeddedFashionMnist().train);
  const stats = channelStats(train);
  const normed = channelStats(normalize(train, stats));
  assert.ok(Math.abs(normed.mean[0]!) < 1e-4 && Math.abs(normed.std[0]! - 1) < 1e-4);

  const a = stratifiedSplit(train, 0.1, 5);
  const b = stratifiedSplit(train, 0.1, 5);
  const c = stratifiedSplit(train, 0.1, 6);
  assert.deepEqual(classCounts(a.validation), new Array(10).fill(100));
  assert.equal(a.train.labels.length, 9000);
  assert.deepEqual(a.validation.x, b.validation.x);
  assert.notDeepEqual(a.validation.x, c.validation.x);

  const small = downsample(train, 2);
  assert.deepEqual(small.shape, [14, 14, 1]);
  const [p00, p01, p10, p11] = [0, 1, 28, 29].map((i) => train.x[i]!) as [number, number, number, number];
  assert.ok(Math.abs(small.x[0]! - (p00 + p01 + p10 + p11) / 4) < 1e-6);
  assert.throws(() => downsample(train, 3), /factor 3 does not divide the 28×28 images/);

  const easy = classSubset(train, [1, 8]);
  assert.equal(easy.classes, 2);
  assert.deepEqual(easy.classNames, ['Trouser', 'Bag']);
  assert.deepEqual(classCounts(easy), [1000, 1000]);
  assert.throws(() => classSubset(train, [1, 10]), /class 10 is not one of 0…9/);
});

test('teacher task: deterministic by seed, labels from the teacher, roughly balanced', () => {
  const options = {
    teacher: deepTeacher({ inputShape: [8, 8, 1], depth: 2, width: 8, classes: 4 }),
    train: 400,
    test: 100,
    seed: 3,
  };
  const a = teacherTask(options);
  const b = teacherTask(options);
  assert.deepEqual(a.train.labels, b.train.labels);
  assert.deepEqual(a.train.x, b.train.x);
  assert.deepEqual(a.train.shape, [8, 8, 1]);
  const counts = classCounts(a.train);
  assert.ok(
    counts.every((n) => n > 20),
    `every class is represented: ${counts}`,
  );
  const deeper = teacherTask({
    ...options,
    teacher: deepTeacher({ inputShape: [8, 8, 1], depth: 6, width: 8, classes: 4 }),
  });
  assert.notDeepEqual(deeper.train.labels, a.train.labels);
  const mlp = teacherTask({
    teacher: { kind: 'mlp', inputShape: [10], outputs: 2, widths: [32], activation: 'relu' },
    train: 100,
    test: 10,
    seed: 0,
  });
  assert.deepEqual(mlp.train.shape, [10]);
});
