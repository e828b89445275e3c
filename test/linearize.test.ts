/**
 * Linearisation: α snapped to exactly 1 below ε_lin, and folding of linear layers where exact;
 * the folded model gives the same logits (relative error ≤ 1e-4).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, type ModelConfigInput } from '../src/models/architectures/index.ts';
import type { Model } from '../src/models/model.ts';
import { foldLinear, snapAlphas } from '../src/models/linearize.ts';
import { mulberry32, uniformArray } from '../src/models/random.ts';

before(async () => {
  await selectBackend({ force: 'wasm' });
});

function randomize(m: Model, seed: number): void {
  const rand = mulberry32(seed);
  for (const spec of m.specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const low = spec.role === 'moving-variance' || spec.role === 'gamma' ? 0.5 : spec.role === 'alpha' ? 0 : -1;
    m.get(spec.name).assign(tf.tensor(uniformArray(rand, size, low, 1), [...spec.shape]));
  }
}

function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.div(tf.norm(tf.sub(a, b)), tf.norm(b)).dataSync()[0]!);
}

test('snapping sets |1 − α| < ε to exactly 1 and counts the units per site', () => {
  const m = buildModel({ kind: 'mlp', inputShape: [3], outputs: 2, widths: [4, 2] }, 0);
  m.get('hidden0/alpha').assign(tf.tensor1d([0.9999, 0.5, 1.0, 0.98]));
  m.get('hidden1/alpha').assign(tf.tensor1d([0.995, 0]));
  const snapped = snapAlphas(m, 1e-2);
  assert.deepEqual(snapped, { linearized: { hidden0: 2, hidden1: 1 }, total: 3 });
  assert.deepEqual(Array.from(m.get('hidden0/alpha').dataSync()), [1, 0.5, 1, Math.fround(0.98)]);
  m.dispose();
});

test('MLP: fully linear hidden layers fold into the next layer, with the same logits', () => {
  const m = buildModel({ kind: 'mlp', inputShape: [6], outputs: 3, widths: [8, 7, 5, 4] }, 1);
  randomize(m, 2);
  m.get('hidden1/alpha').assign(tf.ones([7]));
  m.get('hidden2/alpha').assign(tf.ones([5]));
  const x = tf.tensor2d(uniformArray(mulberry32(3), 10 * 6, -2, 2), [10, 6]);
  const { model: folded, folds } = foldLinear(m);
  assert.deepEqual(
    folded.sites.map((s) => s.channels),
    [8, 4],
  );
  assert.equal(folds.length, 2);
  assert.ok(folded.paramCount().trainable < m.paramCount().trainable);
  const err = relativeError(folded.predict(x), m.predict(x));
  assert.ok(err <= 1e-4, `relative error ${err}`);
  // Entirely linear: a single dense layer remains.
  for (const s of m.sites) m.get(s.alpha!).assign(tf.ones([s.channels]));
  const single = foldLinear(m);
  assert.equal(single.model.sites.length, 0);
  assert.ok(relativeError(single.model.predict(x), m.predict(x)) <= 1e-4);
  for (const model of [m, folded, single.model]) model.dispose();
});

test('plain CNN: batch norm folds into its convolution, with the same logits', () => {
  const m = buildModel(
    { kind: 'plain-cnn', inputShape: [8, 8, 2], classes: 4, channels: [5, 6], poolAfter: [0], batchNorm: true },
    4,
  );
  randomize(m, 5);
  const x = tf.tensor4d(uniformArray(mulberry32(6), 3 * 8 * 8 * 2, -1, 1), [3, 8, 8, 2]);
  const { model: folded, folds } = foldLinear(m);
  assert.equal(folded.config.kind === 'plain-cnn' && folded.config.batchNorm, false);
  assert.deepEqual(folds, ['bn0: folded into conv0', 'bn1: folded into conv1']);
  const err = relativeError(folded.predict(x), m.predict(x));
  assert.ok(err <= 1e-4, `relative error ${err}`);
  m.dispose();
  folded.dispose();
});

test('ResNet: nothing folds exactly; the copy computes the same function', () => {
  const m = buildModel(
    { kind: 'resnet', inputShape: [8, 8, 1], classes: 2, depth: 8, baseWidth: 4 } as ModelConfigInput,
    7,
  );
  randomize(m, 8);
  const x = tf.tensor4d(uniformArray(mulberry32(9), 2 * 64, -1, 1), [2, 8, 8, 1]);
  const { model: copy, folds } = foldLinear(m);
  assert.deepEqual(folds, []);
  assert.ok(relativeError(copy.predict(x), m.predict(x)) <= 1e-6);
  m.dispose();
  copy.dispose();
});
