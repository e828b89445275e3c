// Frivolous units (docs/science.md, "Frivolous units"): the prune threshold and compressibility follow the reference
// code's rules; an intact network agrees with itself; duplicating every hidden unit keeps the
// function and adds exactly one zero-variance direction per duplicated unit.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, type MlpConfig } from '../src/models/architectures/index.ts';
import { deepTeacher, teacherTask } from '../src/models/data/teacher.ts';
import {
  ABLATION_LEVELS,
  compressibility,
  covarianceEigenvalues,
  growthFactor,
  prunability,
  pruneThreshold,
  recordedSites,
  redundancy,
  targetedKnockout,
} from '../src/models/frivolous.ts';
import { train } from '../src/models/train.ts';

before(async () => {
  await selectBackend({ force: 'wasm' });
});

test('p* interpolates the first crossing of agreement 0.8, and is 1 when agreement never drops below it', () => {
  const p = pruneThreshold(ABLATION_LEVELS, [1, 0.95, 0.85, 0.7, 0.5, 0.3, 0.1]);
  assert.ok(Math.abs(p - (2 / 6 + ((0.8 - 0.85) * (1 / 6)) / (0.7 - 0.85))) < 1e-12);
  assert.equal(pruneThreshold(ABLATION_LEVELS, [1, 1, 0.99, 0.95, 0.9, 0.85, 0.81]), 1);
});

test('compressibility: the smallest k whose lowest-variance directions carry more than 5 % of the variance', () => {
  assert.deepEqual(compressibility([0, 0, 1, 1, 8]), { k: 3, n: 5, fraction: 0.6 });
  assert.deepEqual(compressibility([1, 1, 1, 1]), { k: 1, n: 4, fraction: 0.25 });
  assert.equal(growthFactor([1, 2, 8]), (2 + 4) / 2);
  // Per doubling on any grid: ×16 over two doublings is ×4 per doubling; pairs without a ratio are left out.
  assert.equal(growthFactor([1, 16], [1, 4]), 4);
  assert.equal(growthFactor([0, 2, 8], [1, 2, 4]), 4);
  assert.ok(Number.isNaN(growthFactor([0, 0])));
  // The similarity notebook's get_slope (redundancy counts) skips the narrowest pair.
  assert.equal(growthFactor([1, 3, 6, 12], [0.25, 0.5, 1, 2], { skipFirstPair: true }), 2);
  assert.equal(growthFactor([1, 3, 6, 12], [0.25, 0.5, 1, 2]), (3 + 2 + 2) / 3);
});

test('a layer without variance counts one redundant direction (c = 1/n), as the reference code does', () => {
  assert.deepEqual(compressibility([0, 0, 0, 0]), { k: 1, n: 4, fraction: 0.25 });
});

test('a ResNet is recorded at the stem and the three stage outputs only, as the reference code records it', () => {
  const model = buildModel({ kind: 'resnet', inputShape: [8, 8, 1], classes: 3, depth: 20, baseWidth: 4 }, 0);
  try {
    assert.deepEqual(recordedSites(model), ['stem', 's0b2/out', 's1b2/out', 's2b2/out']);
  } finally {
    model.dispose();
  }
});

test('an exactly duplicated unit gives a zero covariance eigenvalue', () => {
  const rows = 200;
  const samples = new Float64Array(rows * 3);
  let s = 1;
  const rand = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  };
  for (let r = 0; r < rows; r++) {
    const a = rand();
    samples.set([a, rand(), a], r * 3);
  }
  const values = covarianceEigenvalues(samples, rows, 3);
  assert.ok(Math.abs(values[0]!) < 1e-12 * values[2]!, `smallest eigenvalue ${values[0]}`);
  assert.ok(values[1]! > 1e-3);
});

test('duplicating every hidden unit (incoming weights copied, outgoing halved) keeps the logits and adds n redundant units; 0 % ablation agrees fully', async () => {
  const data = teacherTask({
    teacher: deepTeacher({ inputShape: [4, 4, 1], depth: 2, width: 8, classes: 3 }),
    train: 300,
    test: 200,
    seed: 1,
  });
  const config: MlpConfig = {
    kind: 'mlp',
    inputShape: [4, 4, 1],
    outputs: 3,
    depth: 1,
    width: 6,
    activation: 'relu',
    outputActivation: 'linear',
    parametrization: 'standard',
    bias: true,
    init: 'he',
  };
  const small = buildModel(config, 2);
  await train(small, data, { epochs: 3, lr: 0.05, batchSize: 50 });
  const wide = buildModel({ ...config, width: 12 }, 2);
  wide.setWeights(
    tf.tidy(() => ({
      'dense0/kernel': tf.concat([small.get('dense0/kernel'), small.get('dense0/kernel')], 1),
      'dense0/bias': tf.concat([small.get('dense0/bias'), small.get('dense0/bias')]),
      'output/kernel': tf.div(tf.concat([small.get('output/kernel'), small.get('output/kernel')], 0), 2),
      'output/bias': tf.clone(small.get('output/bias')),
    })),
  );
  const x = tf.tensor(data.test.x, [data.test.labels.length, 4, 4, 1]);
  const [a, b] = [small.predict(x), wide.predict(x)];
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
  assert.ok(diff <= 1e-5 * tf.max(tf.abs(a)).dataSync()[0]!, `logits differ by ${diff}`);

  const [r1] = redundancy(small, data.test);
  const [r2] = redundancy(wide, data.test);
  assert.equal(r2!.n, 12);
  assert.equal(
    r2!.k,
    6 + r1!.k,
    `the wide copy's redundant count ${r2!.k} is the 6 duplicates plus the original's ${r1!.k}`,
  );
  assert.ok(r2!.eigenvalues.slice(0, 6).every((v) => Math.abs(v) < 1e-6 * r2!.eigenvalues.at(-1)!));

  const pr = prunability(small, data.test, { orders: 2 });
  for (const row of pr.agreement) assert.equal(row[0], 1, '0 % ablation ⇒ agreement 1');
  assert.ok(pr.thresholds.every((p) => p >= 0 && p <= 1));
  tf.dispose([x, a, b]);
  small.dispose();
  wide.dispose();
});

test('knocking out units the output never reads keeps every prediction; random sets of the same size and the units it reads do not', async () => {
  const data = teacherTask({
    teacher: deepTeacher({ inputShape: [4, 4, 1], depth: 2, width: 8, classes: 3 }),
    train: 300,
    test: 200,
    seed: 4,
  });
  const config: MlpConfig = {
    kind: 'mlp',
    inputShape: [4, 4, 1],
    outputs: 3,
    depth: 1,
    width: 12,
    activation: 'relu',
    outputActivation: 'linear',
    parametrization: 'standard',
    bias: true,
    init: 'he',
  };
  const model = buildModel(config, 3);
  await train(model, data, { epochs: 3, lr: 0.05, batchSize: 50 });
  // Units 6…11 keep their incoming weights but nothing reads them.
  const mask = tf.tensor2d(Array.from({ length: 12 }, (_, i) => [i < 6 ? 1 : 0, i < 6 ? 1 : 0, i < 6 ? 1 : 0]));
  model.get('output/kernel').assign(tf.mul(model.get('output/kernel'), mask));
  const unread = new Map([['hidden0', Array.from({ length: 12 }, (_, i) => i >= 6)]]);
  const read = new Map([['hidden0', Array.from({ length: 12 }, (_, i) => i < 6)]]);
  const ignored = targetedKnockout(model, data.test, unread, { orders: 3 });
  assert.equal(ignored.units, 6);
  assert.equal(ignored.targeted, 1);
  assert.ok(ignored.randomMean < 1, `random sets of 6 should hit units the output reads (agreement ${ignored.random})`);
  const used = targetedKnockout(model, data.test, read, { orders: 3 });
  assert.ok(
    used.targeted < used.randomMean,
    `knocking out the read units (${used.targeted}) should cost more than random ones (${used.randomMean})`,
  );
  mask.dispose();
  model.dispose();
});
