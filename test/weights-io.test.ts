/** Weights saved to an artifact directory load back bit-exactly, with no tfjs-node. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel } from '../src/models/architectures/index.ts';
import { loadModel, saveModel } from '../src/models/weights-io.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';

let dir: string;
before(async () => {
  await selectBackend({ force: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'linea-weights-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('a ResNet with batch norm and PReLU round-trips bit-exactly and gives identical logits', async () => {
  const model = buildModel({ kind: 'resnet', inputShape: [8, 8, 2], classes: 3, depth: 8, baseWidth: 4 }, 3);
  // Non-trivial values everywhere, including α and the moving statistics.
  const rand = mulberry32(9);
  for (const spec of model.specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    model.get(spec.name).assign(tf.minimum(tf.abs(tf.tensor(normalArray(rand, size), [...spec.shape])), 1));
  }
  await saveModel(model, dir);
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'linea-model');
  assert.equal(json.modelTopology.config.kind, 'resnet');
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.config, model.config);
  for (const spec of model.specs) {
    const a = Buffer.from(model.get(spec.name).dataSync().buffer);
    const b = Buffer.from(loaded.get(spec.name).dataSync().buffer);
    assert.ok(a.equals(b), `${spec.name} differs after the round trip`);
  }
  const x = tf.tensor4d(normalArray(mulberry32(1), 2 * 8 * 8 * 2), [2, 8, 8, 2]);
  assert.deepEqual(loaded.predict(x).dataSync(), model.predict(x).dataSync());
  model.dispose();
  loaded.dispose();
});

test('a truncated weights file is an error naming the file', async () => {
  const model = buildModel({ kind: 'mlp', inputShape: [3], outputs: 2, widths: [4] }, 0);
  await saveModel(model, dir, 'small');
  await truncate(join(dir, 'small.bin'), 8);
  await assert.rejects(loadModel(dir, 'small'), /small\.bin has 8 bytes/);
  await assert.rejects(loadModel(dir, 'absent'), /cannot read weights .*absent\.json/);
  model.dispose();
});
