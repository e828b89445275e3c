/**
 * Architectures: exact parameter counts against hand counts and published figures, activation
 * sites and residual structure as data, PReLU semantics, and config errors that name the field.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, parseModelConfig, type ModelConfigInput } from '../src/models/architectures/index.ts';
import type { Structure } from '../src/models/model.ts';
import { referenceModel } from '../src/models/reference-models.ts';

before(async () => {
  await selectBackend({ force: 'cpu' });
});

test('plain PReLU CNN of the PyTorch reference: 28,842 / 29,418 parameters, counted by hand', () => {
  // conv 3·3·1·32+32, α 32, conv 3·3·32·32+32, α 32, conv 3·3·32·64+64, α 64, dense 64·10+10
  const fmnist = buildModel(referenceModel('fmnist-small'), 0);
  assert.equal(fmnist.paramCount().trainable, 320 + 32 + 9248 + 32 + 18496 + 64 + 650);
  assert.equal(fmnist.paramCount().byRole.alpha, 128);
  const cifar = buildModel(referenceModel('cifar-small'), 0);
  assert.equal(cifar.paramCount().trainable, 896 + 32 + 9248 + 32 + 18496 + 64 + 650);
  assert.deepEqual(
    cifar.sites.map((s) => [s.id, s.channels, s.alpha]),
    [
      ['act0', 32, 'act0/alpha'],
      ['act1', 32, 'act1/alpha'],
      ['act2', 64, 'act2/alpha'],
    ],
  );
  fmnist.dispose();
  cifar.dispose();
});

test('ResNet-56 (TF official layout, ReLU) has the 856,058 parameters Frivolous Units reports', () => {
  const m = buildModel(
    {
      kind: 'resnet',
      inputShape: [32, 32, 3],
      classes: 10,
      depth: 56,
      shortcut: 'projection-every-stage',
      activation: 'relu',
    },
    0,
  );
  assert.equal(m.paramCount().trainable, 856_058);
  m.dispose();
});

test('ResNet-20 option A: 269,722 parameters; 19 activation sites; residual structure as data', () => {
  const m = buildModel(
    { kind: 'resnet', inputShape: [32, 32, 3], classes: 10, depth: 20, shortcut: 'identity-pad', activation: 'relu' },
    0,
  );
  // stem 432 + BN 32; stage 1: 6·2,304 + BN 192; stage 2: 4,608 + 5·9,216 + BN 384; stage 3: 18,432 + 5·36,864 + BN 768; dense 650
  assert.equal(m.paramCount().trainable, 432 + 32 + 13_824 + 192 + 50_688 + 384 + 202_752 + 768 + 650);
  assert.equal(m.paramCount().state, (2 * (32 + 192 + 384 + 768)) / 2);
  assert.equal(m.sites.length, 19);
  assert.deepEqual(
    m.sites.slice(0, 3).map((s) => [s.id, s.role, s.channels]),
    [
      ['stem', 'stem', 16],
      ['s0b0/mid', 'branch', 16],
      ['s0b0/out', 'post-add', 16],
    ],
  );
  assert.equal(m.sites.at(-1)?.channels, 64);
  const top = m.structure as Extract<Structure, { kind: 'seq' }>;
  assert.equal(top.kind, 'seq');
  assert.deepEqual(top.items[0], { kind: 'site', site: 'stem' });
  assert.deepEqual(top.items[1], {
    kind: 'residual',
    branch: { kind: 'site', site: 's0b0/mid' },
    shortcut: { kind: 'seq', items: [] },
    projection: false,
  });
  assert.deepEqual(top.items[2], { kind: 'site', site: 's0b0/out' });
  assert.equal(top.items.length, 1 + 2 * 9);
  m.dispose();
});

test('ResNet option B projects only where the shape changes', () => {
  const m = buildModel({ kind: 'resnet', inputShape: [16, 16, 3], classes: 4, depth: 8, baseWidth: 4 }, 0);
  const projections = (m.structure as Extract<Structure, { kind: 'seq' }>).items.filter(
    (s) => s.kind === 'residual' && s.projection,
  );
  assert.equal(projections.length, 2);
  const out = m.predict(tf.zeros([2, 16, 16, 3]));
  assert.deepEqual(out.shape, [2, 4]);
  m.dispose();
});

test('MLP of Frivolous Units (10 → 32k ReLU → 2): 418 and 6,658 parameters; NTK and bottleneck variants', () => {
  for (const [k, expected] of [
    [1, 418],
    [16, 6658],
  ] as const) {
    const m = buildModel({ kind: 'mlp', inputShape: [10], outputs: 2, depth: 1, width: 32 * k, activation: 'relu' }, 0);
    assert.equal(m.paramCount().trainable, expected);
    m.dispose();
  }
  const b = buildModel(
    {
      kind: 'mlp',
      inputShape: [10],
      outputs: 1,
      widths: [64, 2, 64],
      activation: 'tanh',
      outputActivation: 'tanh',
      parametrization: 'ntk',
    },
    0,
  );
  assert.deepEqual(
    b.sites.map((s) => s.channels),
    [64, 2, 64],
  );
  assert.equal(b.paramCount().trainable, 10 * 64 + 64 + 64 * 2 + 2 + 2 * 64 + 64 + 64 + 1);
  const y = b.predict(tf.ones([3, 10])).dataSync();
  for (const v of y) assert.ok(Math.abs(v) < 1, 'tanh output is bounded');
  // NTK parametrisation: weights are N(0, 1), not scaled by fan-in.
  const w = Array.from(b.get('dense0/kernel').dataSync());
  const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
  assert.ok(std > 0.9 && std < 1.1, `std ${std}`);
  b.dispose();
});

test('PReLU: α = 0 is ReLU, α = 1 is exactly the identity, α is clamped to [0, 1]', () => {
  const m = buildModel({ kind: 'mlp', inputShape: [4], outputs: 4, widths: [4], activation: 'prelu' }, 1);
  const x = tf.tensor2d([[-2, -0.5, 0.5, 3]]);
  const seen: number[][] = [];
  const record = (alpha: number) => {
    m.get('hidden0/alpha').assign(tf.fill([4], alpha));
    tf.tidy(() => {
      m.predict(x, {
        onSite: (_site, a) => {
          seen.push(Array.from(a.dataSync()));
        },
      });
    });
  };
  const pre = Array.from(tf.tidy(() => tf.add(tf.matMul(x, m.get('dense0/kernel')), m.get('dense0/bias'))).dataSync());
  record(0);
  assert.deepEqual(
    seen[0]!.map((v) => v + 0),
    pre.map((v) => Math.max(0, v)),
    'α = 0 is ReLU (up to the sign of zero)',
  );
  record(1);
  assert.deepEqual(seen[1], pre, 'α = 1 must be bit-exactly linear');
  record(0.25);
  assert.deepEqual(
    seen[2],
    pre.map((v) => (v > 0 ? v : Math.fround(0.25 * v))),
  );
  m.get('hidden0/alpha').assign(tf.tensor1d([-0.5, 0.3, 1.7, 1]));
  m.clampAlphas();
  assert.deepEqual(Array.from(m.get('hidden0/alpha').dataSync()), [0, Math.fround(0.3), 1, 1]);
  m.dispose();
});

test('same seed ⇒ same initial weights; another seed ⇒ different ones', () => {
  const cfg: ModelConfigInput = { kind: 'plain-cnn', inputShape: [8, 8, 1], classes: 3, channels: [4, 4] };
  const a = buildModel(cfg, 7);
  const b = buildModel(cfg, 7);
  const c = buildModel(cfg, 8);
  assert.deepEqual(a.get('conv1/kernel').dataSync(), b.get('conv1/kernel').dataSync());
  assert.notDeepEqual(a.get('conv1/kernel').dataSync(), c.get('conv1/kernel').dataSync());
  for (const m of [a, b, c]) m.dispose();
});

test('batch norm: training updates moving statistics only when committed; eval uses them', () => {
  const m = buildModel({ kind: 'plain-cnn', inputShape: [4, 4, 1], classes: 2, channels: [3], batchNorm: true }, 0);
  const x = tf.randomNormal([8, 4, 4, 1], 5, 2, 'float32', 1);
  const { output, updates } = m.forward(x, { training: true });
  output.dispose();
  assert.deepEqual(Array.from(m.get('bn0/moving_mean').dataSync()), [0, 0, 0]);
  m.commitUpdates(updates);
  const moved = Array.from(m.get('bn0/moving_mean').dataSync());
  assert.ok(
    moved.every((v) => v !== 0),
    `moving mean moved: ${moved}`,
  );
  m.dispose();
});

test('config errors name the field and say what is allowed', () => {
  assert.throws(
    () => parseModelConfig({ kind: 'resnet', inputShape: [32, 32, 3], classes: 10, depth: 21 }),
    /depth: ResNet-v1 depth must be 6n\+2/,
  );
  assert.throws(
    () => parseModelConfig({ kind: 'plain-cnn', inputShape: [28, 28, 1], classes: 10, channels: [8], poolAfter: [3] }),
    /poolAfter: pool after layer 3/,
  );
  assert.throws(() => parseModelConfig({ kind: 'vgg' }), /kind/);
  assert.throws(() => parseModelConfig({ kind: 'mlp', inputShape: [4], outputs: 2, widht: 3 }), /widht/);
});

test('the convolution on the input batch skips the data gradient but gives the same parameter gradients', () => {
  for (const cfg of [
    { kind: 'plain-cnn', inputShape: [6, 6, 2], classes: 3, channels: [4, 5], poolAfter: [0] },
    { kind: 'resnet', inputShape: [8, 8, 2], classes: 3, depth: 8, baseWidth: 4 },
  ] as ModelConfigInput[]) {
    const m = buildModel(cfg, 3);
    const x = tf.randomNormal([2, ...m.inputShape], 0, 1, 'float32', 4);
    const r = tf.randomNormal([2, 3], 0, 1, 'float32', 5);
    const grads = (inputGradient: boolean) =>
      tf.variableGrads(() => tf.sum(tf.mul(m.forward(x, { training: true, inputGradient }).output, r)) as tf.Scalar)
        .grads;
    const skipped = grads(false);
    const full = grads(true);
    for (const [name, g] of Object.entries(full)) {
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, skipped[name]!))).dataSync()[0]!);
      assert.ok(diff < 1e-5, `${cfg.kind} ${name}: max difference ${diff}`);
    }
    m.dispose();
  }
});
