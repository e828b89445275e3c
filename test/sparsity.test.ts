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
import { frozenSlopes, sparsityPenalty, withPrelu } from '../src/models/sparsity.ts';
import { optimizerFor, train, trainingStep } from '../src/models/train.ts';

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
  const task = teacherTask({
    teacher: deepTeacher({ inputShape: [6, 6, 1], depth: 2, width: 4, classes: 3 }),
    train: 96,
    test: 32,
    seed: 1,
  });
  const m = buildModel({ kind: 'mlp', inputShape: [6, 6, 1], outputs: 3, widths: [8] }, 1);
  m.get('hidden0/alpha').assign(tf.tensor1d([0.9995, 0.5, 0, 0, 0, 0, 0, 0]));
  const reg = sparsityPenalty({ omega: 0 });
  reg.afterStep!(m); // as the training loop does after each optimiser step
  assert.equal(m.get('hidden0/alpha').dataSync()[0], 1);
  await train(
    m,
    task,
    { epochs: 2, batchSize: 32, lr: 0.5, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false } },
    { regularizers: [reg] },
  );
  const alpha = m.get('hidden0/alpha').dataSync();
  assert.equal(alpha[0], 1, 'snapped to exactly 1 and kept there');
  assert.equal(reg.frozen().get('hidden0/alpha')![0], 1);
  assert.equal(reg.frozen().get('hidden0/alpha')![1], 0);
  reg.dispose();
  m.dispose();
});

test('a larger ω leaves fewer nonlinear units and a shorter average path length', async () => {
  const task = teacherTask({
    teacher: deepTeacher({ inputShape: [6, 6, 1], depth: 2, width: 4, classes: 3 }),
    train: 192,
    test: 64,
    seed: 2,
  });
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
  const relu = buildModel(
    {
      kind: 'plain-cnn',
      inputShape: [8, 8, 1],
      classes: 3,
      channels: [4, 6],
      poolAfter: [0],
      batchNorm: true,
      activation: 'relu',
    },
    5,
  );
  const prelu = withPrelu(relu);
  try {
    assert.equal(prelu.config.kind === 'plain-cnn' && prelu.config.activation, 'prelu');
    assert.deepEqual(
      prelu.sites.map((s) => s.alpha),
      ['act0/alpha', 'act1/alpha'],
    );
    for (const s of prelu.sites)
      assert.deepEqual(Array.from(prelu.get(s.alpha!).dataSync()), Array(s.channels).fill(0));
    const x = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 3);
    assert.deepEqual(Array.from(prelu.predict(x).dataSync()), Array.from(relu.predict(x).dataSync()));
  } finally {
    relu.dispose();
    prelu.dispose();
  }
});

/**
 * One SGD step of a 2-layer MLP whose first `frozen` hidden units are snapped to α = 1: the
 * non-α parameters' update under (ω, clipNorm), against the update with no penalty and no clipping.
 */
function frozenStep(frozen: number, omega: number, clipNorm: number): Map<string, Float32Array> {
  const m = buildModel({ kind: 'mlp', inputShape: [6], outputs: 3, widths: [8] }, 4);
  const alpha = new Float32Array(8);
  alpha.fill(1, 0, frozen);
  m.get('hidden0/alpha').assign(tf.tensor1d(alpha));
  const reg = sparsityPenalty({ omega });
  reg.afterStep!(m); // snaps and freezes the units at α = 1, as after an optimiser step
  const before = new Map(m.specs.map((s) => [s.name, m.get(s.name).dataSync().slice() as Float32Array]));
  const optimizer = optimizerFor(m, { optimizer: { kind: 'sgd', momentum: 0, nesterov: false }, weightDecay: 0 });
  const step = trainingStep(m, optimizer, [reg], clipNorm);
  tf.tidy(() => {
    step(
      tf.randomNormal([16, 6], 0, 1, 'float32', 7),
      tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'),
      0.1,
    );
  });
  const delta = new Map(
    m.specs.map((s) => [
      s.name,
      m
        .get(s.name)
        .dataSync()
        .map((v, i) => v - before.get(s.name)![i]!) as Float32Array,
    ]),
  );
  assert.deepEqual(
    Array.from(m.get('hidden0/alpha').dataSync().slice(0, frozen)),
    Array(frozen).fill(1),
    'frozen slopes stay exactly 1',
  );
  optimizer.dispose();
  reg.dispose();
  m.dispose();
  return delta;
}

for (const frozen of [1, 8]) {
  for (const clipNorm of [0, 5]) {
    test(`a frozen slope does not change any other parameter's update (${frozen} frozen, clipNorm ${clipNorm})`, () => {
      const reference = frozenStep(frozen, 0, 0);
      const penalised = frozenStep(frozen, 0.1, clipNorm);
      for (const name of ['dense0/kernel', 'dense0/bias', 'output/kernel', 'output/bias']) {
        const [a, b] = [reference.get(name)!, penalised.get(name)!];
        const scale = Math.max(...Array.from(a, Math.abs));
        assert.ok(scale > 1e-4, `${name} moved (${scale})`);
        const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
        assert.ok(worst <= 1e-6 + 1e-4 * scale, `${name}: update differs by ${worst} (largest update ${scale})`);
      }
    });
  }
}

test('frozenSlopes: a fine-tune leaves every α where it is and still trains the weights', async () => {
  const task = teacherTask({
    teacher: deepTeacher({ inputShape: [6, 6, 1], depth: 2, width: 4, classes: 3 }),
    train: 96,
    test: 32,
    seed: 1,
  });
  const m = buildModel({ kind: 'mlp', inputShape: [6, 6, 1], outputs: 3, widths: [8] }, 1);
  m.get('hidden0/alpha').assign(tf.tensor1d([1, 0.5, 0, 0.25, 1, 0, 0, 0.75]));
  const alpha = m.get('hidden0/alpha').dataSync().slice();
  const kernel = m.get('dense0/kernel').dataSync().slice();
  const reg = frozenSlopes();
  await train(
    m,
    task,
    { epochs: 2, batchSize: 32, lr: 0.1, clipNorm: 5, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false } },
    { regularizers: [reg] },
  );
  assert.deepEqual(Array.from(m.get('hidden0/alpha').dataSync()), Array.from(alpha));
  assert.notDeepEqual(Array.from(m.get('dense0/kernel').dataSync()), Array.from(kernel));
  reg.dispose();
  m.dispose();
});
