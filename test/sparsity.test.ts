/**
 * The sparsity penalty ω·Σ√(|1−α|+ε): its value, that it linearises units (α snapped to exactly 1
 * and kept there), and that a larger ω leaves fewer nonlinear units and a shorter path length.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel } from '../src/models/architectures/index.ts';
import { deepTeacher, teacherTask } from '../src/models/data/teacher.ts';
import { coreNetwork, nonlinearUnits } from '../src/models/path-length.ts';
import { sparsityPenalty, withPrelu } from '../src/models/sparsity.ts';
import { train } from '../src/models/train.ts';

before(async () => {
  await selectBackend({ force: 'wasm' });
});

test('the penalty is ω·Σ√(|1−α| + ε) over every PReLU channel', () => {
  const m = buildModel({ kind: 'mlp', inputShape: [3], outputs: 2, widths: [2, 3] }, 0);
  m.get('hidden0/alpha').assign(tf.tensor1d([0, 0.75]));
  m.get('hidden1/alpha').assign(tf.tensor1d([1, 0.96, 0.5]));
  const reg = sparsityPenalty({ omega: 0.1, epsilonRoot: 0 });
  const value = tf.tidy(() => reg.penalty(m).dataSync()[0]!);
  const expected = 0.1 * (1 + 0.5 + 0 + 0.2 + Math.sqrt(0.5));
  assert.ok(Math.abs(value - expected) < 1e-6, `${value} vs ${expected}`);
  m.dispose();
});

test('snapping: |1−α| < ε_snap becomes exactly 1 and stays 1 through further training', async () => {
  const task = teacherTask({ teacher: deepTeacher({ inputShape: [6, 6, 1], depth: 2, width: 4, classes: 3 }), train: 96, test: 32, seed: 1 });
  const m = buildModel({ kind: 'mlp', inputShape: [6, 6, 1], outputs: 3, widths: [8] }, 1);
  m.get('hidden0/alpha').assign(tf.tensor1d([0.9995, 0.5, 0, 0, 0, 0, 0, 0]));
  const reg = sparsityPenalty({ omega: 0 });
  reg.afterStep!(m); // as the training loop does after each optimiser step
  assert.equal(m.get('hidden0/alpha').dataSync()[0], 1);
  await train(m, task, { epochs: 2, batchSize: 32, lr: 0.5, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false } }, { regularizers: [reg] });
  const alpha = m.get('hidden0/alpha').dataSync();
  assert.equal(alpha[0], 1, 'snapped to exactly 1 and kept there');
  assert.equal(reg.frozen().get('hidden0/alpha')![0], 1);
  assert.equal(reg.frozen().get('hidden0/alpha')![1], 0);
  reg.dispose();
  m.dispose();
});

test('a larger ω leaves fewer nonlinear units and a shorter average path length', async () => {
  const task = teacherTask({ teacher: deepTeacher({ inputShape: [6, 6, 1], depth: 2, width: 4, classes: 3 }), train: 192, test: 64, seed: 2 });
  const results: number[] = [];
  for (const omega of [0, 0.1]) {
    const m = buildModel({ kind: 'mlp', inputShape: [6, 6, 1], outputs: 3, widths: [16, 16] }, 3);
    const reg = sparsityPenalty({ omega });
    await train(m, task, { epochs: 8, batchSize: 32, lr: 0.05, optimizer: { kind: 'adam' } }, { regularizers: [reg] });
    const units = new Map(m.sites.map((s) => [s.id, nonlinearUnits(s, m.get(s.alpha!).dataSync(), 1e-3)]));
    results.push(coreNetwork(m.structure, m.sites, units).pathLength.normalized);
    reg.dispose();
    m.dispose();
  }
  assert.equal(results[0], 2, 'without the penalty every unit stays nonlinear');
  assert.ok(results[1]! < 1, `with ω = 0.1 the path length fell to ${results[1]}`);
});

test('withPrelu: the ReLU network as PReLUs at α = 0 computes the same logits and copies every weight', () => {
  const relu = buildModel({ kind: 'plain-cnn', inputShape: [8, 8, 1], classes: 3, channels: [4, 6], poolAfter: [0], batchNorm: true, activation: 'relu' }, 5);
  const prelu = withPrelu(relu);
  try {
    assert.equal(prelu.config.kind === 'plain-cnn' && prelu.config.activation, 'prelu');
    assert.deepEqual(prelu.sites.map((s) => s.alpha), ['act0/alpha', 'act1/alpha']);
    for (const s of prelu.sites) assert.deepEqual(Array.from(prelu.get(s.alpha!).dataSync()), Array(s.channels).fill(0));
    const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 3);
    assert.deepEqual(Array.from(prelu.predict(x).dataSync()), Array.from(relu.predict(x).dataSync()));
  } finally {
    relu.dispose();
    prelu.dispose();
  }
});
