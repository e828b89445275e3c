/**
 * A plain CNN's training step as one native call (native/onednn/src/cnn_step.cc,
 * src/models/native/cnn-step.ts): what a user relies on is that trainingStep gives the same
 * training on the fused path as op by op — losses, hits, penalties, every parameter and the batch
 * norms' moving statistics after several steps — for each shape of plain CNN it takes, with a
 * smaller last batch, a sparsity penalty, gradient clipping and weight decay, under a GAP or a
 * flatten head; and that a network it cannot take still trains, op by op.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, parseModelConfig } from '../src/models/architectures/index.ts';
import { fusedCnnStep } from '../src/models/native/cnn-step.ts';
import { CNN_STEP, loadOnednnAddon, nativeCalls } from '../src/models/native/onednn.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';
import { sparsityPenalty } from '../src/models/sparsity.ts';
import { optimizerFor, type StepResult, trainingStep } from '../src/models/train.ts';
import { REPO } from './helpers/project.ts';
import { relativeError } from './helpers/numeric.ts';

const built = existsSync(join(REPO, 'native', 'onednn', 'build', 'Release', 'linea_onednn.node'));

/** A few steps of `config` on the onednn backend, fused or op by op, from the same weights and batches. */
function train(
  config: Record<string, unknown>,
  fused: boolean,
  recipe: { penalty?: number; clipNorm?: number; weightDecay?: number } = {},
) {
  const model = buildModel(parseModelConfig({ kind: 'plain-cnn', init: 'he', ...config }), 3);
  // α away from 0 and 1, so that both sides of every PReLU and the penalty's gradient count.
  for (const s of model.sites) if (s.alpha) model.get(s.alpha).assign(tf.fill([s.channels], 0.3));
  const regularizers = recipe.penalty ? [sparsityPenalty({ omega: recipe.penalty })] : [];
  const optimizer = optimizerFor(model, {
    optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false },
    weightDecay: recipe.weightDecay ?? 0,
  });
  const step = trainingStep(model, optimizer, regularizers, recipe.clipNorm ?? 0, { fused });
  const [h, w, c] = model.inputShape as [number, number, number];
  const classes = model.outputs;
  const rand = mulberry32(7);
  const results: StepResult[] = [];
  // The last batch is smaller, as an epoch's last batch often is.
  for (const n of [12, 12, 12, 5]) {
    // Shifted and scaled: batch statistics far from the moving ones' initial (0, 1).
    const x = tf.tidy(() => tf.add(tf.mul(tf.tensor(normalArray(rand, n * h * w * c), [n, h, w, c]), 2), 0.5));
    const labels = tf.tensor1d(
      Int32Array.from({ length: n }, () => Math.floor(rand() * classes)),
      'int32',
    );
    results.push(tf.tidy(() => step(x, labels, 0.05)));
    tf.dispose([x, labels]);
  }
  const params = Object.fromEntries(model.specs.map((s) => [s.name, Array.from(model.get(s.name).dataSync())]));
  optimizer.dispose();
  for (const r of regularizers) r.dispose();
  model.dispose();
  return { results, params };
}

if (built) {
  const oddAveraged = {
    inputShape: [9, 9, 2],
    classes: 5,
    channels: [4, 6, 8],
    poolAfter: [0, 2],
    pool: 'avg',
    activation: 'prelu',
  };
  const shapes: [string, Record<string, unknown>, Parameters<typeof train>[2]][] = [
    [
      "the claims preset's network (batch norm, ReLU, average pooling)",
      {
        inputShape: [10, 10, 1],
        classes: 4,
        channels: [16, 16, 32],
        poolAfter: [0],
        pool: 'avg',
        batchNorm: true,
        activation: 'relu',
      },
      {},
    ],
    [
      'its sparsified phase (PReLU) with the sparsity penalty, clipping and weight decay',
      {
        inputShape: [10, 10, 1],
        classes: 4,
        channels: [16, 16, 32],
        poolAfter: [0],
        pool: 'avg',
        batchNorm: true,
        activation: 'prelu',
      },
      { penalty: 0.05, clipNorm: 0.5, weightDecay: 1e-3 },
    ],
    [
      'the reference models (PReLU, max pooling, convolution biases, no batch norm)',
      { inputShape: [8, 8, 3], classes: 10, channels: [8, 8, 12], poolAfter: [1], pool: 'max', activation: 'prelu' },
      { weightDecay: 1e-4 },
    ],
    [
      "the default run's network (PReLU, average pooling, no batch norm, a flatten head)",
      {
        inputShape: [14, 14, 1],
        classes: 10,
        channels: [16, 16, 32, 32],
        poolAfter: [1],
        pool: 'avg',
        head: 'flatten',
        activation: 'prelu',
      },
      { penalty: 0.01, clipNorm: 5 },
    ],
    [
      // Its second layer runs Winograd (native/onednn/src/common.h) where oneDNN has it; the
      // op-by-op path runs the direct kernels.
      'a layer wide enough for Winograd (32 → 32 channels on 8×8 maps)',
      { inputShape: [8, 8, 3], classes: 10, channels: [32, 32], poolAfter: [], pool: 'max', activation: 'prelu' },
      { weightDecay: 1e-4 },
    ],
    // A dropped row or column gets no share of an average-pooled gradient.
    ['odd maps average-pooled twice, PReLU, batch norm', { ...oddAveraged, batchNorm: true }, {}],
    ['odd maps average-pooled twice, PReLU, no batch norm', oddAveraged, {}],
    [
      'odd maps pooled twice (a row and a column dropped), identity activations, batch norm',
      {
        inputShape: [9, 9, 2],
        classes: 5,
        channels: [4, 6, 8],
        poolAfter: [0, 2],
        pool: 'max',
        batchNorm: true,
        activation: 'linear',
      },
      {},
    ],
  ];
  for (const [what, config, recipe] of shapes) {
    test(`${what}: the fused step trains as the op-by-op step does`, async () => {
      await selectBackend({ force: 'onednn' });
      nativeCalls.clear();
      const fused = train(config, true, recipe);
      assert.equal(nativeCalls.get(CNN_STEP), 4, 'every step ran as one native call');
      nativeCalls.clear();
      const taped = train(config, false, recipe);
      assert.equal(nativeCalls.get(CNN_STEP), undefined, 'fused: false goes op by op');
      for (const [i, r] of taped.results.entries()) {
        const f = fused.results[i]!;
        assert.ok(Math.abs(f.task - r.task) <= 1e-5 * Math.abs(r.task), `step ${i}: task loss ${f.task} vs ${r.task}`);
        assert.ok(Math.abs(f.loss - r.loss) <= 1e-5 * Math.abs(r.loss), `step ${i}: loss ${f.loss} vs ${r.loss}`);
        assert.equal(f.hits, r.hits, `step ${i}: hits`);
        assert.equal(f.penalties.length, r.penalties.length);
        for (const [j, p] of r.penalties.entries())
          assert.ok(
            Math.abs(f.penalties[j]! - p) <= 1e-5 * Math.abs(p),
            `step ${i}: penalty ${f.penalties[j]} vs ${p}`,
          );
      }
      // Every parameter after four steps, the moving statistics among them.
      assert.deepEqual(Object.keys(fused.params).sort(), Object.keys(taped.params).sort());
      for (const [name, values] of Object.entries(taped.params)) {
        const err = relativeError(fused.params[name]!, values);
        assert.ok(err <= 1e-4, `${name}: relative error ${err}`);
      }
    });
  }

  test('a layer of 32 channels or more on maps of 8×8 or more runs Winograd where oneDNN has it', () => {
    const step = new (loadOnednnAddon().CnnStep)({
      height: 8,
      width: 8,
      inChannels: 3,
      channels: [32, 32],
      pool: [false, false],
      maxPool: false,
      batchNorm: false,
      flatten: false,
      activation: 1,
      classes: 10,
      epsilon: 1e-5,
      momentum: 0.1,
    });
    // conv0 kernel and bias, conv1 kernel and bias, the head's kernel and bias.
    const sizes = [3 * 3 * 3 * 32, 32, 3 * 3 * 32 * 32, 32, 32 * 10, 10];
    const rand = mulberry32(1);
    const params = sizes.map((n) => Float32Array.from(normalArray(rand, n), (v) => v * 0.1));
    const grads = sizes.map((n) => new Float32Array(n));
    const x = Float32Array.from(normalArray(rand, 4 * 8 * 8 * 3));
    step.run(4, x, Int32Array.from([0, 1, 2, 3]), params, grads, [], new Float64Array(2));
    const [first, second] = step.kernels(4);
    assert.doesNotMatch(first!, /wino/, 'three input channels: the direct kernels');
    // oneDNN 2.x implements it with AVX-512; elsewhere the layer falls back to the direct kernels.
    if (/\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8')))
      assert.match(second!, /^jit_wino_4x3:\S+ \/ jit_wino_4x3:/, 'both passes of the wide layer');
    else assert.doesNotMatch(second!, /wino/);
  });

  test('a step made on onednn and called after a switch to another backend trains op by op', async () => {
    await selectBackend({ force: 'onednn' });
    const model = buildModel(
      parseModelConfig({ kind: 'plain-cnn', inputShape: [6, 6, 1], classes: 3, channels: [4], batchNorm: true }),
      1,
    );
    const step = trainingStep(
      model,
      optimizerFor(model, { optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false }, weightDecay: 0 }),
    );
    await selectBackend({ force: 'cpu' });
    const x = tf.ones([2, 6, 6, 1]);
    const labels = tf.tensor1d([0, 2], 'int32');
    nativeCalls.clear();
    const result = tf.tidy(() => step(x, labels, 0.01));
    assert.ok(Number.isFinite(result.loss), `trained, loss ${result.loss}`);
    assert.equal(nativeCalls.get(CNN_STEP), undefined, 'the fused step stood aside');
    tf.dispose([x, labels]);
    model.dispose();
  });

  test('a label outside the classes is refused with the example and the range, not trained on', async () => {
    await selectBackend({ force: 'onednn' });
    const model = buildModel(
      parseModelConfig({ kind: 'plain-cnn', inputShape: [6, 6, 1], classes: 3, channels: [4], batchNorm: true }),
      1,
    );
    const step = fusedCnnStep(model);
    assert.ok(step, 'a plain CNN with a GAP head is fused on onednn');
    const x = tf.zeros([2, 6, 6, 1]);
    const labels = tf.tensor1d([0, 3], 'int32');
    const before = Array.from(model.get('conv0/kernel').dataSync());
    assert.throws(() => step(x, labels), /label 3 of example 1 is outside the model's 3 classes \(0 to 2\)/);
    assert.deepEqual(Array.from(model.get('conv0/kernel').dataSync()), before);
    tf.dispose([x, labels]);
    model.dispose();
  });
}

test('a network the fused step does not take trains op by op: another backend, tanh', async () => {
  const config = { kind: 'plain-cnn', inputShape: [6, 6, 1], classes: 3, channels: [4], poolAfter: [0] } as const;
  await selectBackend({ force: 'cpu' });
  const onCpu = buildModel(parseModelConfig(config), 1);
  assert.equal(fusedCnnStep(onCpu), undefined, 'the cpu backend has no fused step');
  onCpu.dispose();
  if (!built) return;
  await selectBackend({ force: 'onednn' });
  for (const other of [{ activation: 'tanh' }]) {
    const model = buildModel(parseModelConfig({ ...config, ...other }), 1);
    assert.equal(fusedCnnStep(model), undefined, JSON.stringify(other));
    nativeCalls.clear();
    const step = trainingStep(
      model,
      optimizerFor(model, { optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false }, weightDecay: 0 }),
    );
    const x = tf.ones([2, 6, 6, 1]);
    const labels = tf.tensor1d([0, 2], 'int32');
    const result = tf.tidy(() => step(x, labels, 0.01));
    assert.ok(Number.isFinite(result.loss), `${JSON.stringify(other)}: trained, loss ${result.loss}`);
    assert.equal(nativeCalls.get(CNN_STEP), undefined);
    tf.dispose([x, labels]);
    model.dispose();
  }
});
