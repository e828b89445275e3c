/** Datasets as the experiment specifies them, and their round trip through a directory. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { selectBackend } from '../src/models/backends.ts';
import { channelStats, classCounts } from '../src/models/data/dataset.ts';
import { loadData, prepareData, saveData } from '../src/models/data/prepare.ts';

let dir: string;
before(async () => {
  await selectBackend({ force: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'linea-prepare-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('embedded Fashion-MNIST, an easy class subset at 14×14 with a stratified validation split, normalised by train statistics', () => {
  const data = prepareData({
    source: { kind: 'fashion-mnist-embedded' },
    classes: [1, 8],
    downsample: 2,
    validation: 0.1,
    seed: 3,
  });
  assert.deepEqual(data.train.shape, [14, 14, 1]);
  assert.deepEqual(data.train.classNames, ['Trouser', 'Bag']);
  assert.deepEqual(classCounts(data.validation!), [100, 100]);
  assert.deepEqual(classCounts(data.train), [900, 900]);
  assert.deepEqual(classCounts(data.test), [200, 200]);
  const trainStats = channelStats(data.train);
  assert.ok(Math.abs(trainStats.mean[0]!) < 1e-4 && Math.abs(trainStats.std[0]! - 1) < 1e-4);
  assert.ok(Math.abs(channelStats(data.test).mean[0]!) < 0.1, 'test normalised with the train statistics');
});

test('a teacher task by spec; bad specs name the field', () => {
  const data = prepareData({
    source: { kind: 'teacher', depth: 2, size: 6, classes: 3, width: 4, train: 120, test: 30 },
    seed: 1,
  });
  assert.deepEqual([data.train.labels.length, data.test.labels.length, data.train.classes], [120, 30, 3]);
  assert.throws(() => prepareData({ source: { kind: 'teacher', depth: 0 } }), /depth/);
  // biome-ignore lint/plugin: bad input on purpose, past the types, as from a JSON file
  assert.throws(() => prepareData({ source: { kind: 'mnist' } as never }), /kind/);
  assert.throws(
    () => prepareData({ source: { kind: 'fashion-mnist', dir: join(dir, 'none') } }),
    /Fashion-MNIST not found/,
  );
});

test('prepared data round-trips through a directory exactly; a truncated file is an error naming it', async () => {
  const data = prepareData({ source: { kind: 'fashion-mnist-embedded' }, classes: [0, 6], validation: 50, seed: 2 });
  await saveData(join(dir, 'd'), data);
  const back = await loadData(join(dir, 'd'));
  assert.deepEqual(back.train.x, data.train.x);
  assert.deepEqual(back.validation!.labels, data.validation!.labels);
  assert.deepEqual(back.test.shape, data.test.shape);
  assert.deepEqual(back.stats, data.stats);
  assert.deepEqual(back.train.classNames, ['T-shirt/top', 'Shirt']);
  await truncate(join(dir, 'd', 'test.x.f32'), 100);
  await assert.rejects(loadData(join(dir, 'd')), /test\.\*: sizes do not match the 400 examples/);
  await assert.rejects(loadData(join(dir, 'nothing')), /cannot read prepared data/);
});

test('limit keeps the first N training and test examples after the class subset', () => {
  const data = prepareData({
    source: { kind: 'fashion-mnist-embedded' },
    classes: [1, 8],
    limit: { train: 50, test: 20 },
  });
  assert.equal(data.train.labels.length, 50);
  assert.equal(data.test.labels.length, 20);
  const full = prepareData({ source: { kind: 'fashion-mnist-embedded' }, classes: [1, 8] });
  assert.deepEqual(Array.from(data.train.labels), Array.from(full.train.labels.slice(0, 50)));
});
