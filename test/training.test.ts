/**
 * The training loop: same seed ⇒ same weights, a resumed run equals an uninterrupted one, flat
 * tf.memory() across epochs, optimiser maths as PyTorch defines it, weight decay that skips α,
 * regulariser hooks, schedules, progress and clear errors.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, type ModelConfigInput } from '../src/models/architectures/index.ts';
import { trainingBatchNorm } from '../src/models/model.ts';
import { take, type Dataset } from '../src/models/data/dataset.ts';
import { deepTeacher, teacherTask } from '../src/models/data/teacher.ts';
import { learningRate, Optimizer } from '../src/models/optimizers.ts';
import {
  loadCheckpoint,
  optimizerFor,
  train,
  trainingStep,
  TrainingError,
  type EpochMetrics,
  type Regularizer,
  type TrainConfigInput,
} from '../src/models/train.ts';

let dir: string;
let task: { train: Dataset; test: Dataset };
const cnn: ModelConfigInput = {
  kind: 'plain-cnn',
  inputShape: [8, 8, 1],
  classes: 4,
  channels: [6, 8],
  poolAfter: [0],
  batchNorm: true,
};
const config: TrainConfigInput = { epochs: 2, batchSize: 32, lr: 0.05, seed: 1, weightDecay: 1e-4 };

before(async () => {
  await selectBackend({ force: 'wasm' });
  dir = await mkdtemp(join(tmpdir(), 'linea-train-'));
  task = teacherTask({
    teacher: deepTeacher({ inputShape: [8, 8, 1], depth: 2, width: 8, classes: 4 }),
    train: 320,
    test: 128,
    seed: 11,
  });
});
after(() => rm(dir, { recursive: true, force: true }));

function bits(model: ReturnType<typeof buildModel>): Map<string, Buffer> {
  return new Map(model.specs.map((s) => [s.name, Buffer.from(model.get(s.name).dataSync().buffer.slice(0))]));
}

test('same seeds ⇒ bit-identical weights after training; another data seed ⇒ different weights', async () => {
  const a = buildModel(cnn, 5);
  const b = buildModel(cnn, 5);
  const c = buildModel(cnn, 5);
  await train(a, task, config);
  await train(b, task, config);
  await train(c, task, { ...config, seed: 2 });
  assert.deepEqual(bits(a), bits(b));
  assert.notDeepEqual(bits(a).get('conv0/kernel'), bits(c).get('conv0/kernel'));
  for (const m of [a, b, c]) m.dispose();
});

test('a run resumed from its epoch-1 checkpoint ends with exactly the weights of an uninterrupted run', async () => {
  const straight = buildModel(cnn, 9);
  await train(straight, task, { ...config, optimizer: { kind: 'adam' }, lr: 0.01 });
  const first = buildModel(cnn, 9);
  await train(
    first,
    task,
    { ...config, epochs: 1, optimizer: { kind: 'adam' }, lr: 0.01 },
    {
      onEpoch: (end) => end.save(join(dir, 'ckpt')),
    },
  );
  first.dispose();
  const { model: resumed, resume } = await loadCheckpoint(join(dir, 'ckpt'));
  assert.equal(resume.epoch, 1);
  const { history } = await train(resumed, task, { ...config, optimizer: { kind: 'adam' }, lr: 0.01 }, { resume });
  tf.dispose(resume.optimizer.slots);
  assert.equal(history.length, 2);
  assert.deepEqual(bits(resumed), bits(straight));
  straight.dispose();
  resumed.dispose();
});

test('tf.memory() is flat across epochs (batch norm, PReLU, a regulariser, evaluation)', async () => {
  const model = buildModel(cnn, 1);
  const counts: number[] = [];
  const bytes: number[] = [];
  const penalty: Regularizer = {
    name: 'pull-to-linear',
    penalty: (m) => tf.mul(1e-3, tf.sum(tf.sub(1, m.get('act0/alpha')))) as tf.Scalar,
  };
  await train(
    model,
    task,
    { ...config, epochs: 4 },
    {
      regularizers: [penalty],
      onEpoch: () => {
        counts.push(tf.memory().numTensors);
        bytes.push(tf.memory().numBytes);
      },
    },
  );
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor counts per epoch: ${counts}`);
  assert.equal(new Set(bytes.slice(1)).size, 1, `bytes per epoch: ${bytes}`);
  model.dispose();
});

test('training learns: a small CNN beats chance clearly on the teacher task; metrics and progress are reported', async () => {
  const model = buildModel(cnn, 3);
  let progressCalls = 0;
  let lastRate = 0;
  const { history } = await train(
    model,
    task,
    { ...config, epochs: 6, optimizer: { kind: 'adam' }, lr: 0.01 },
    {
      onProgress: (p) => {
        progressCalls += 1;
        lastRate = p.imagesPerSecond;
        assert.ok(p.step <= p.steps);
      },
    },
  );
  assert.equal(progressCalls, 6 * Math.ceil(320 / 32));
  assert.ok(lastRate > 0);
  const last = history.at(-1) as EpochMetrics;
  assert.ok(last.testAccuracy! > 0.5, `test accuracy ${last.testAccuracy} (chance 0.25)`);
  assert.ok(last.loss < history[0]!.loss);
  assert.ok(last.imagesPerSecond > 0 && last.seconds > 0);
  model.dispose();
});

test('regulariser hooks: the penalty enters the loss (α moves towards 1), afterStep runs, α stays in [0, 1]', async () => {
  const mlp: ModelConfigInput = { kind: 'mlp', inputShape: [8, 8, 1], outputs: 4, widths: [16, 16] };
  const plain = buildModel(mlp, 2);
  const pushed = buildModel(mlp, 2);
  let afterSteps = 0;
  const omega = 0.5;
  const sparsity: Regularizer = {
    name: 'L0.5',
    penalty: (m) =>
      tf.mul(
        omega,
        tf.addN(m.sites.map((s) => tf.sum(tf.sqrt(tf.add(tf.abs(tf.sub(1, m.get(s.alpha!))), 1e-8))))),
      ) as tf.Scalar,
    afterStep: () => {
      afterSteps += 1;
    },
  };
  await train(plain, task, { ...config, optimizer: { kind: 'sgd', momentum: 0 } });
  const { history } = await train(
    pushed,
    task,
    { ...config, optimizer: { kind: 'sgd', momentum: 0 } },
    { regularizers: [sparsity] },
  );
  assert.equal(afterSteps, 2 * 10);
  assert.ok(history[0]!.penalties['L0.5']! > 0);
  const mean = (m: typeof plain) => tf.tidy(() => tf.mean(m.get('hidden0/alpha')).dataSync()[0]!);
  assert.ok(mean(pushed) > mean(plain) + 0.05, `α pushed to ${mean(pushed)} vs ${mean(plain)}`);
  const alphas = Array.from(pushed.get('hidden0/alpha').dataSync());
  assert.ok(
    alphas.every((a) => a >= 0 && a <= 1),
    `α in [0, 1]: ${alphas}`,
  );
  plain.dispose();
  pushed.dispose();
});

test('SGD momentum and Adam follow PyTorch; weight decay skips α', () => {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const alpha = tf.variable(tf.tensor1d([0.5]));
  const sgd = new Optimizer(
    { kind: 'sgd', momentum: 0.9, nesterov: false },
    [
      { name: 'w', variable: w, decay: true },
      { name: 'alpha', variable: alpha, decay: false },
    ],
    0.1,
  );
  const g = new Map([
    ['w', tf.tensor1d([1, 1])],
    ['alpha', tf.tensor1d([0])],
  ]);
  sgd.apply(g, 0.1); // buf = g + 0.1·w = [1.1, 1.2]; w = [0.89, 1.88]
  sgd.apply(g, 0.1); // buf = 0.9·buf + g + 0.1·w = [2.079, 2.268]; w = [0.6821, 1.6532]
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(w, [0.6821, 1.6532]))).dataSync()[0]!) < 1e-6);
  assert.deepEqual(Array.from(alpha.dataSync()), [0.5], 'no decay on α');
  const v = tf.variable(tf.tensor1d([1]));
  const adam = new Optimizer(
    { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    [{ name: 'v', variable: v, decay: true }],
    0,
  );
  adam.apply(new Map([['v', tf.tensor1d([0.5])]]), 0.01); // first Adam step moves by lr·sign(g)
  assert.ok(Math.abs(v.dataSync()[0]! - 0.99) < 1e-6);
  for (const x of [w, alpha, v]) x.dispose();
  sgd.dispose();
  adam.dispose();
});

test('clipNorm rescales the whole gradient to that global norm, keeping its direction', () => {
  const model = buildModel(
    { kind: 'mlp', inputShape: [3], outputs: 2, depth: 1, width: 4, activation: 'relu', parametrization: 'standard' },
    1,
  );
  const x = tf.tensor2d([
    [30, -20, 10],
    [5, 40, -25],
  ]);
  const y = tf.tensor1d([0, 1], 'int32');
  const change = (clip: number) => {
    const copy = buildModel(model.config, 1);
    const before = copy.weights();
    const opt = optimizerFor(copy, { optimizer: { kind: 'sgd', momentum: 0, nesterov: false }, weightDecay: 0 });
    tf.tidy(() => trainingStep(copy, opt, [], clip)(x, y, 1));
    const delta = copy.specs.flatMap((s) =>
      tf.tidy(() => Array.from(tf.sub(copy.get(s.name), before[s.name]!).dataSync())),
    );
    tf.dispose(before);
    opt.dispose();
    copy.dispose();
    return delta;
  };
  const free = change(0);
  const clipped = change(0.5);
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  assert.ok(
    norm(free) > 0.5,
    `the unclipped step (norm ${norm(free)}) must exceed the clip for the test to mean anything`,
  );
  assert.ok(Math.abs(norm(clipped) - 0.5) < 1e-4, `clipped step norm ${norm(clipped)}`);
  const scale = norm(clipped) / norm(free);
  for (const [i, d] of free.entries()) assert.ok(Math.abs(d * scale - clipped[i]!) < 1e-5);
  model.dispose();
  tf.dispose([x, y]);
});

test('batch norm on batch statistics: values and closed-form gradients match tfjs autodiff of moments + batchNorm', () => {
  const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const [x, gamma, beta, r] = [rand([4, 3, 3, 5], 1), tf.add(rand([5], 2), 1), rand([5], 3), rand([4, 3, 3, 5], 4)];
  const axes = [0, 1, 2];
  const ours = (xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(
      tf.mul(
        trainingBatchNorm(xv, g, b, axes, () => {}),
        r,
      ),
    );
  const reference = (xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(xv, axes);
    return tf.sum(tf.mul(tf.batchNorm(xv as tf.Tensor4D, mean, variance, b, g, 1e-5), r));
  };
  const a = tf.grads(ours)([x, gamma, beta]);
  const b = tf.grads(reference)([x, gamma, beta]);
  assert.ok(Math.abs(ours(x, gamma, beta).dataSync()[0]! - reference(x, gamma, beta).dataSync()[0]!) < 1e-4);
  a.forEach((g, i) => {
    const err = tf.max(tf.abs(tf.sub(g, b[i]!))).dataSync()[0]! / Math.max(tf.max(tf.abs(b[i]!)).dataSync()[0]!, 1e-6);
    assert.ok(err < 1e-4, `gradient ${['x', 'γ', 'β'][i]}: relative error ${err}`);
  });
});

test('learning-rate schedules: step and cosine', () => {
  assert.equal(learningRate(0.1, { kind: 'step', milestones: [2, 4], gamma: 0.1 }, 1.5, 6), 0.1);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'step', milestones: [2, 4], gamma: 0.1 }, 4, 6) - 0.001) < 1e-12);
  assert.equal(learningRate(0.1, { kind: 'cosine', minLr: 0 }, 0, 10), 0.1);
  assert.ok(Math.abs(learningRate(0.1, { kind: 'cosine', minLr: 0 }, 5, 10) - 0.05) < 1e-12);
  assert.ok(learningRate(0.1, { kind: 'cosine', minLr: 0.001 }, 10, 10) - 0.001 < 1e-12);
});

test('errors: data that does not fit the model, and a diverging run, say what to change', async () => {
  const model = buildModel({ kind: 'mlp', inputShape: [10], outputs: 4, widths: [4] }, 0);
  await assert.rejects(train(model, task, config), /training data examples are 8×8×1 but the model takes 10/);
  model.dispose();
  const big = buildModel({ kind: 'mlp', inputShape: [8, 8, 1], outputs: 4, widths: [32] }, 0);
  const scaled = {
    ...take(
      task.train,
      Array.from({ length: 64 }, (_, i) => i),
    ),
  };
  scaled.x.forEach((v, i) => {
    scaled.x[i] = v * 1e30;
  });
  await assert.rejects(
    train(big, { train: scaled }, { epochs: 1, lr: 1e30, batchSize: 32 }),
    (e: unknown) =>
      e instanceof TrainingError && /diverged at epoch 1, step \d: .*lower the learning rate/.test(e.message),
  );
  big.dispose();
});
