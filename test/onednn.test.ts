/**
 * The native oneDNN backend: every native kernel agrees with tfjs's cpu backend (relative error
 * ≤ 1e-4 in float32) on random inputs of several shapes, strides and paddings; a full training
 * step of each reference model gives the cpu backend's loss and gradients; memory stays flat.
 * Where the addon could not be built, the backend must say why instead.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { test } from 'node:test';
import { execa } from 'execa';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, parseModelConfig } from '../src/models/architectures/index.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  CONV_PARAM_GRADIENTS,
  convParamGradients,
  PRELU_MAX_POOL,
  PRELU_MAX_POOL_GRAD,
  PRELU_MEAN,
  PRELU_MEAN_GRAD,
  preluMaxPool,
  preluMean,
} from '../src/models/model.ts';
import { nativeCalls, SGD_IN_PLACE } from '../src/models/native/onednn.ts';
import { Optimizer, type OptimizerState, SGD_MOMENTUM } from '../src/models/optimizers.ts';
import { referenceModel, type ReferenceModelName } from '../src/models/reference-models.ts';
import { optimizerFor, trainingStep } from '../src/models/train.ts';
import { REPO } from './helpers/project.ts';
import { relativeError } from './helpers/numeric.ts';

const built = existsSync(join(REPO, 'native', 'onednn', 'build', 'Release', 'linea_onednn.node'));

/** Run `f` on cpu and on onednn with the same inputs; compare every output. */
async function parity(label: string, f: () => tf.Tensor | tf.Tensor[], kernels: string[]): Promise<void> {
  nativeCalls.clear();
  const run = async (backend: string) => {
    await selectBackend({ force: backend });
    return tf.tidy(() => [f()].flat().map((t) => ({ shape: t.shape, values: Array.from(t.dataSync()) })));
  };
  const reference = await run('cpu');
  const actual = await run('onednn');
  reference.forEach((r, i) => {
    assert.deepEqual(actual[i]!.shape, r.shape, `${label}, output ${i}: shape`);
    const err = relativeError(actual[i]!.values, r.values);
    assert.ok(err <= 1e-4, `${label}, output ${i}: relative error ${err}`);
  });
  for (const k of kernels) assert.ok((nativeCalls.get(k) ?? 0) > 0, `${label}: ${k} ran natively`);
}

const random = (shape: number[], seed: number) =>
  tf.tensor(
    normalArray(
      mulberry32(seed),
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
  );

test('npm ci without oneDNN still succeeds: the build step records why the backend is unavailable', async () => {
  const { cp, mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'linea-native-'));
  try {
    await cp(join(REPO, 'native', 'build.mjs'), join(dir, 'native', 'build.mjs'));
    await cp(join(REPO, 'native', 'onednn', 'binding.gyp'), join(dir, 'native', 'onednn', 'binding.gyp'));
    await cp(join(REPO, 'native', 'onednn', 'src'), join(dir, 'native', 'onednn', 'src'), { recursive: true });
    const run = await execa(process.execPath, [join(dir, 'native', 'build.mjs')], {
      env: { LINEA_DNNL_HEADER: join(dir, 'no-such-dnnl.hpp') },
    });
    assert.equal(run.exitCode, 0);
    assert.match(
      run.stdout,
      /native oneDNN backend not built \(oneDNN headers not found; install them with `apt-get install libdnnl-dev`/,
    );
    const status = JSON.parse(await readFile(join(dir, 'native', 'onednn', 'build', 'status.json'), 'utf8')) as {
      ok: boolean;
      reason: string;
    };
    assert.equal(status.ok, false);
    assert.match(status.reason, /libdnnl-dev/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

if (!built) {
  test('without the addon, onednn is unavailable and the reason says how to build it', async () => {
    const run = await execa(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./src/models/backends.ts').then((b) => b.selectBackend({ force: 'onednn' })).catch((e) => console.log(e.message))",
      ],
      { cwd: REPO, env: { LINEA_BACKEND: '' } },
    );
    assert.match(
      run.stdout,
      /backend 'onednn' was asked for but cannot be used: .*(libdnnl-dev|build:native|compiling)/,
    );
  });
} else {
  test('convolutions (forward with and without bias, both gradients) match cpu across strides, paddings and kernel sizes', async () => {
    const cases = [
      { x: [2, 9, 9, 3], k: 3, co: 4, stride: 1, pad: 'same' as const },
      { x: [2, 9, 9, 3], k: 3, co: 4, stride: 2, pad: 'same' as const },
      { x: [2, 10, 7, 3], k: 3, co: 5, stride: 1, pad: 'valid' as const },
      { x: [2, 11, 11, 4], k: 5, co: 6, stride: 2, pad: 'valid' as const },
      { x: [1, 8, 8, 6], k: 1, co: 3, stride: 2, pad: 'same' as const },
    ];
    for (const [i, c] of cases.entries()) {
      await parity(`conv ${JSON.stringify(c)}`, () => {
        const x = random(c.x, i) as tf.Tensor4D;
        const w = random([c.k, c.k, c.x[3]!, c.co], i + 100) as tf.Tensor4D;
        const b = random([c.co], i + 200) as tf.Tensor1D;
        const plain = tf.conv2d(x, w, c.stride, c.pad);
        const fused = tf.fused.conv2d({ x, filter: w, bias: b, strides: c.stride, pad: c.pad });
        const r = random(plain.shape, i + 300);
        const grads = tf.grads((xv: tf.Tensor, wv: tf.Tensor, bv: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.fused.conv2d({
                x: xv as tf.Tensor4D,
                filter: wv as tf.Tensor4D,
                bias: bv,
                strides: c.stride,
                pad: c.pad,
              }),
              r,
            ),
          ),
        )([x, w, b]);
        return [plain, fused, ...grads];
      }, [tf.Conv2D, tf.FusedConv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter, tf.Sum]);
    }
  });

  test("a convolution's filter and bias gradients from one native call match cpu's Conv2DBackpropFilter and Sum", async () => {
    for (const [i, c] of [
      { x: [2, 9, 9, 3], k: 3, co: 4, stride: 1 },
      { x: [3, 10, 7, 5], k: 3, co: 6, stride: 2 },
      { x: [2, 8, 8, 6], k: 1, co: 3, stride: 1 },
    ].entries()) {
      await parity(`conv parameter gradients ${JSON.stringify(c)}`, () => {
        const x = random(c.x, i + 400) as tf.Tensor4D;
        const w = random([c.k, c.k, c.x[3]!, c.co], i + 500) as tf.Tensor4D;
        const dy = random(tf.conv2d(x, w, c.stride, 'same').shape, i + 600) as tf.Tensor4D;
        return convParamGradients(x, dy, w.shape, c.stride);
      }, [CONV_PARAM_GRADIENTS]);
    }
  });

  test('matmul (transposes, batches, a broadcast batch) matches cpu', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[2, 4, 6], [2, 6, 3], false, false],
      [[1, 6, 4], [3, 6, 5], true, false],
    ];
    for (const [i, [a, b, ta, tb]] of cases.entries()) {
      await parity(`matmul ${a}×${b}`, () => tf.matMul(random(a, i), random(b, i + 50), ta, tb), [tf.BatchMatMul]);
    }
  });

  test('fused matmul (bias, ReLU) and batch norm with their gradients match cpu', async () => {
    await parity('fused matmul', () => {
      const a = random([6, 5], 1);
      const b = random([5, 4], 2);
      const bias = random([4], 3);
      const r = random([6, 4], 4);
      const f = (av: tf.Tensor, bv: tf.Tensor, cv: tf.Tensor) =>
        tf.fused.matMul({ a: av as tf.Tensor2D, b: bv as tf.Tensor2D, bias: cv, activation: 'relu' });
      return [
        f(a, b, bias),
        tf.fused.matMul({ a, b: tf.transpose(b) as tf.Tensor2D, transposeB: true, bias }),
        ...tf.grads((av: tf.Tensor, bv: tf.Tensor, cv: tf.Tensor) => tf.sum(tf.mul(f(av, bv, cv), r)))([a, b, bias]),
      ];
    }, [tf._FusedMatMul]);
    await parity('batch norm', () => {
      const x = random([4, 3, 3, 5], 5);
      const gamma = random([5], 6);
      const beta = random([5], 7);
      const r = random([4, 3, 3, 5], 8);
      const f = (xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(xv, [0, 1, 2]);
        return tf.batchNorm(xv as tf.Tensor4D, mean, variance, b, g, 1e-5);
      };
      return [
        f(x, gamma, beta),
        ...tf.grads((xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(xv, g, b), r)))([x, gamma, beta]),
      ];
    }, [tf.FusedBatchNorm]);
  });

  test('max pooling and its gradient (overlapping and padded windows, ties) match cpu', async () => {
    const cases = [
      { size: 2, stride: 2, pad: 'valid' as const },
      { size: 3, stride: 2, pad: 'same' as const },
      { size: 3, stride: 1, pad: 'valid' as const },
    ];
    for (const [i, c] of cases.entries()) {
      await parity(`maxPool ${JSON.stringify(c)}`, () => {
        // Rounded values make ties, which must go to the same (first) position as on cpu.
        const x = tf.round(tf.mul(random([2, 7, 7, 5], i), 2)) as tf.Tensor4D;
        const y = tf.maxPool(x, c.size, c.stride, c.pad);
        const [dx] = tf.grads((xv: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(xv as tf.Tensor4D, c.size, c.stride, c.pad), random(y.shape, i + 9))),
        )([x]);
        return [y, dx!];
      }, [tf.MaxPool, tf.MaxPoolGrad]);
    }
  });

  test('average pooling and its gradient match cpu (valid windows), and padded windows get the true gradient', async () => {
    const cases = [
      { size: 2, stride: 2, pad: 'valid' as const },
      { size: 3, stride: 1, pad: 'valid' as const },
    ];
    for (const [i, c] of cases.entries()) {
      await parity(`avgPool ${JSON.stringify(c)}`, () => {
        const x = random([2, 7, 7, 5], i + 20) as tf.Tensor4D;
        const y = tf.avgPool(x, c.size, c.stride, c.pad);
        const [dx] = tf.grads((xv: tf.Tensor) =>
          tf.sum(tf.mul(tf.avgPool(xv as tf.Tensor4D, c.size, c.stride, c.pad), random(y.shape, i + 29))),
        )([x]);
        return [y, dx!];
      }, [tf.AvgPool, tf.AvgPoolGrad]);
    }
    // With padding, the forward pass averages over the window's positions inside the input; tfjs's
    // cpu gradient divides by the full window instead. Each output's gradient must be spread with
    // weights summing to 1, so Σ dx = Σ dy.
    await selectBackend({ force: 'onednn' });
    tf.tidy(() => {
      const x = random([2, 7, 7, 5], 40) as tf.Tensor4D;
      const dy = random(tf.avgPool(x, 3, 2, 'same').shape, 41);
      const [dx] = tf.grads((xv: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(xv as tf.Tensor4D, 3, 2, 'same'), dy)))([x]);
      assert.ok(Math.abs(tf.sum(dx!).dataSync()[0]! - tf.sum(dy).dataSync()[0]!) < 1e-3);
    });
  });

  test('PReLU forward and gradients (x and channel-wise α, including x = 0 and α = 1) match cpu', async () => {
    await parity('prelu', () => {
      const x = tf.concat([tf.round(random([3, 4, 4, 6], 1)), random([3, 4, 4, 6], 2)]) as tf.Tensor4D;
      const alpha = tf.tensor1d([0, 0.25, 0.5, 1, 0.1, 0.9]);
      const r = random(x.shape, 3);
      return [
        tf.prelu<tf.Tensor>(x, alpha),
        ...tf.grads((xv: tf.Tensor, av: tf.Tensor) => tf.sum(tf.mul(tf.prelu(xv, av), r)))([x, alpha]),
      ];
    }, [tf.Prelu, 'LineaPreluGrad']);
  });

  test("PReLU then 2×2 max pooling in one pass gives the two kernels' values and gradients (ties, α = 0, odd sizes)", async () => {
    const inputs = () => {
      // Rounded values and α = 0 make ties inside windows (all-negative windows are all 0 at α = 0),
      // which must go to the same (first) position as the unfused gradient sends them.
      const x = tf.concat([tf.round(random([6, 7, 9, 6], 11)), random([6, 7, 9, 6], 12)]) as tf.Tensor4D;
      const alpha = tf.tensor1d([0, 0.25, -0.5, 1, 0.1, 0.9]);
      const r = random([12, 3, 4, 6], 13);
      return { x, alpha, r };
    };
    const fused = () => {
      const { x, alpha, r } = inputs();
      const loss = (xv: tf.Tensor, av: tf.Tensor) => tf.sum(tf.mul(preluMaxPool(xv as tf.Tensor4D, av), r));
      return [preluMaxPool(x, alpha), ...tf.grads(loss)([x, alpha])];
    };
    await parity('preluMaxPool', fused, [PRELU_MAX_POOL, PRELU_MAX_POOL_GRAD]);
    // On onednn itself, the same floats as tf.prelu then tf.maxPool (dα to the last bits of its sum).
    await selectBackend({ force: 'onednn' });
    tf.tidy(() => {
      const { x, alpha, r } = inputs();
      const loss = (xv: tf.Tensor, av: tf.Tensor) =>
        tf.sum(tf.mul(tf.maxPool(tf.prelu(xv, av) as tf.Tensor4D, 2, 2, 'valid'), r));
      const unfused = [
        tf.maxPool(tf.prelu<tf.Tensor>(x, alpha) as tf.Tensor4D, 2, 2, 'valid'),
        ...tf.grads(loss)([x, alpha]),
      ];
      const [y, dx, da] = fused();
      assert.deepEqual(Array.from(y!.dataSync()), Array.from(unfused[0]!.dataSync()), 'pooled values');
      assert.deepEqual(Array.from(dx!.dataSync()), Array.from(unfused[1]!.dataSync()), 'dx');
      assert.ok(relativeError(Array.from(da!.dataSync()), Array.from(unfused[2]!.dataSync())) <= 1e-6, 'dα');
      // An α the fused kernels do not take (one for all channels) gets the two kernels instead.
      const shared = tf.tensor1d([0.3]);
      assert.deepEqual(
        Array.from(preluMaxPool(x, shared).dataSync()),
        Array.from(tf.maxPool(tf.prelu<tf.Tensor>(x, shared) as tf.Tensor4D, 2, 2, 'valid').dataSync()),
      );
    });
  });

  test("PReLU then the mean over positions in one pass gives the two kernels' values and gradients", async () => {
    const inputs = () => {
      const x = tf.concat([tf.round(random([6, 5, 7, 6], 21)), random([6, 5, 7, 6], 22)]) as tf.Tensor4D;
      const alpha = tf.tensor1d([0, 0.25, -0.5, 1, 0.1, 0.9]);
      const r = random([12, 6], 23);
      return { x, alpha, r };
    };
    const fused = () => {
      const { x, alpha, r } = inputs();
      const loss = (xv: tf.Tensor, av: tf.Tensor) => tf.sum(tf.mul(preluMean(xv as tf.Tensor4D, av), r));
      return [preluMean(x, alpha), ...tf.grads(loss)([x, alpha])];
    };
    await parity('preluMean', fused, [PRELU_MEAN, PRELU_MEAN_GRAD]);
    // On onednn itself, the same floats as tf.prelu then tf.mean (means and dα to the last bits of their sums).
    await selectBackend({ force: 'onednn' });
    tf.tidy(() => {
      const { x, alpha, r } = inputs();
      const loss = (xv: tf.Tensor, av: tf.Tensor) => tf.sum(tf.mul(tf.mean(tf.prelu(xv, av), [1, 2]), r));
      const unfused = [tf.mean(tf.prelu<tf.Tensor>(x, alpha), [1, 2]), ...tf.grads(loss)([x, alpha])];
      const [y, dx, da] = fused();
      assert.ok(relativeError(Array.from(y!.dataSync()), Array.from(unfused[0]!.dataSync())) <= 1e-6, 'means');
      assert.deepEqual(Array.from(dx!.dataSync()), Array.from(unfused[1]!.dataSync()), 'dx');
      assert.ok(relativeError(Array.from(da!.dataSync()), Array.from(unfused[2]!.dataSync())) <= 1e-6, 'dα');
    });
  });

  test('ReLU forward and gradient (including x = 0) match cpu', async () => {
    await parity('relu', () => {
      const x = tf.concat([tf.round(random([3, 4, 4, 6], 4)), random([3, 4, 4, 6], 5)]) as tf.Tensor4D;
      const r = random(x.shape, 6);
      return [tf.relu(x), ...tf.grads((xv: tf.Tensor) => tf.sum(tf.mul(tf.relu(xv), r)))([x])];
    }, [tf.Relu, 'LineaReluGrad']);
  });

  test('tanh and square, and their gradients, match cpu', async () => {
    await parity('unary', () => {
      const x = tf.mul(random([3, 5, 7], 9), 3);
      const r = random(x.shape, 10);
      return [
        tf.tanh(x),
        tf.square(x),
        ...tf.grads((xv: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.tanh(xv), tf.square(xv)), r)))([x]),
      ];
    }, [tf.Tanh, tf.Square]);
  });

  test('broadcast arithmetic and sum/mean over leading, middle and trailing axes, and zerosLike, match cpu', async () => {
    const shapes: [number[], number[]][] = [
      [
        [2, 3, 4, 5],
        [2, 3, 4, 5],
      ],
      [[2, 3, 4, 5], [5]],
      [
        [2, 3, 4, 5],
        [1, 3, 1, 5],
      ],
      [
        [3, 1],
        [1, 4],
      ],
      [[4, 5], []],
    ];
    for (const [i, [a, b]] of shapes.entries()) {
      await parity(`binary ${a} ⊕ ${b}`, () => {
        const x = random(a, i);
        const y = tf.add(tf.abs(random(b, i + 1)), 0.5);
        return [tf.add(x, y), tf.sub(y, x), tf.mul(x, y), tf.div(x, y), tf.squaredDifference(x, y)];
      }, [tf.Add, tf.Sub, tf.Multiply, tf.RealDiv, tf.SquaredDifference]);
    }
    await parity('reductions', () => {
      const x = random([4, 5, 6, 7], 8);
      return [tf.sum(x, [0, 1, 2]), tf.mean(x, [1, 2]), tf.sum(x, 3, true), tf.mean(x), tf.sum(x, [0, 2])];
    }, [tf.Sum, tf.Mean]);
    // Zeros, even in a recycled buffer that last held other values.
    await parity('zerosLike', () => {
      const x = random([3, 5, 7], 11);
      tf.add(x, x).dispose();
      return [tf.zerosLike(x), tf.zerosLike(random([2, 2], 12))];
    }, [tf.ZerosLike]);
    // Their gradients spread dy over the reduced axes (a broadcasting add on onednn).
    await parity('reduction gradients', () => {
      const x = random([4, 5, 6, 7], 9);
      const w = random([4, 5, 6, 7], 10);
      const loss = (f: (v: tf.Tensor) => tf.Tensor) =>
        tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(tf.mul(v, w)), f(v))))(x);
      return [
        loss((v) => tf.mean(v, [1, 2])),
        loss((v) => tf.sum(v, [0, 2], true)),
        loss((v) => tf.mean(v)),
        loss((v) => tf.sum(v, 3)),
      ];
    }, [tf.Add]);
  });

  for (const name of ['cifar-small', 'fmnist-small'] as ReferenceModelName[]) {
    test(`a full training step of ${name} gives the cpu backend's loss and gradients`, async () => {
      const stepOn = async (backend: string) => {
        await selectBackend({ force: backend });
        const model = buildModel(referenceModel(name), 4);
        // α ≠ 0 so that the PReLU gradients are exercised on both sides.
        for (const s of model.sites) model.get(s.alpha!).assign(tf.fill([s.channels], 0.2));
        const x = random([4, ...model.inputShape], 5);
        const labels = tf.tensor1d([1, 7, 3, 1], 'int32');
        const { value, grads } = tf.variableGrads(
          () => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), model.predict(x)) as tf.Scalar,
        );
        const out = {
          loss: value.dataSync()[0]!,
          grads: Object.fromEntries(
            model.specs.map((s) => [s.name, Array.from(grads[model.get(s.name).name]!.dataSync())]),
          ),
        };
        // And the optimiser step itself runs natively too.
        const step = trainingStep(
          model,
          optimizerFor(model, { optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false }, weightDecay: 1e-4 }),
        );
        tf.tidy(() => step(x, labels, 0.01));
        const after = Array.from(model.get('conv1/kernel').dataSync());
        tf.dispose([x, labels, value, ...Object.values(grads)]);
        model.dispose();
        return { ...out, after };
      };
      const cpu = await stepOn('cpu');
      nativeCalls.clear();
      const onednn = await stepOn('onednn');
      // Every convolution after the first has a bias: its gradients came from the fused kernel.
      assert.ok((nativeCalls.get(CONV_PARAM_GRADIENTS) ?? 0) > 0, 'conv parameter gradients ran natively');
      assert.ok(Math.abs(onednn.loss - cpu.loss) <= 1e-4 * Math.abs(cpu.loss), `loss ${onednn.loss} vs ${cpu.loss}`);
      for (const [param, g] of Object.entries(cpu.grads)) {
        const err = relativeError(onednn.grads[param]!, g);
        assert.ok(err <= 1e-4, `${param}: relative error ${err}`);
      }
      assert.ok(relativeError(onednn.after, cpu.after) <= 1e-4);
    });
  }

  for (const activation of ['relu', 'prelu'] as const) {
    test(`the claims network (${activation}): batch norm in one native pass each way gives the cpu backend's loss, gradients and moving statistics`, async () => {
      const config = parseModelConfig({
        kind: 'plain-cnn',
        inputShape: [10, 10, 1],
        classes: 4,
        channels: [6, 8, 8],
        poolAfter: [0],
        pool: 'avg',
        batchNorm: true,
        head: 'gap',
        activation,
        init: 'he',
      });
      const stepOn = async (backend: string) => {
        await selectBackend({ force: backend });
        const model = buildModel(config, 4);
        for (const s of model.sites) if (s.alpha) model.get(s.alpha).assign(tf.fill([s.channels], 0.2));
        // Shifted and scaled so the batch statistics are far from the moving ones' initial (0, 1).
        const x = tf.add(tf.mul(random([6, 10, 10, 1], 31), 3), 1.5);
        const labels = tf.tensor1d([1, 3, 0, 2, 1, 0], 'int32');
        let moving: Record<string, number[]> = {};
        const { value, grads } = tf.variableGrads(() => {
          const forward = model.forward(x, { training: true });
          moving = Object.fromEntries(forward.updates.map((u) => [u.name, Array.from(u.value.dataSync())]));
          tf.dispose(forward.updates.map((u) => u.value));
          return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 4), forward.output) as tf.Scalar;
        });
        const out = {
          loss: value.dataSync()[0]!,
          moving,
          grads: Object.fromEntries(
            model.specs
              .filter((s) => s.trainable)
              .map((s) => [s.name, Array.from(grads[model.get(s.name).name]!.dataSync())]),
          ),
        };
        tf.dispose([x, labels, value, ...Object.values(grads)]);
        model.dispose();
        return out;
      };
      const cpu = await stepOn('cpu');
      nativeCalls.clear();
      const onednn = await stepOn('onednn');
      assert.equal(nativeCalls.get(BATCH_NORM_TRAIN), 3, 'each of the three batch norms ran natively');
      assert.equal(nativeCalls.get(BATCH_NORM_TRAIN_GRAD), 3, 'and so did their gradients');
      assert.ok(Math.abs(onednn.loss - cpu.loss) <= 1e-5 * Math.abs(cpu.loss), `loss ${onednn.loss} vs ${cpu.loss}`);
      assert.deepEqual(Object.keys(onednn.moving).sort(), Object.keys(cpu.moving).sort());
      for (const [name, values] of Object.entries(cpu.moving)) {
        const err = relativeError(onednn.moving[name]!, values);
        assert.ok(err <= 1e-5, `${name}: relative error ${err}`);
      }
      for (const [param, g] of Object.entries(cpu.grads)) {
        const err = relativeError(onednn.grads[param]!, g);
        assert.ok(err <= 1e-4, `${param}: relative error ${err}`);
      }
    });
  }

  test("the fused SGD-momentum update gives the op path's floats exactly, and a saved state keeps its values", async () => {
    for (const [i, config] of [
      { momentum: 0.9, nesterov: false, weightDecay: 0 },
      { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      { momentum: 0.5, nesterov: false, weightDecay: 1e-2 },
    ].entries()) {
      const run = async (backend: string) => {
        await selectBackend({ force: backend });
        const w = tf.variable(random([3, 3, 2, 5], 20 + i), true, `w${i}-${backend}`);
        const alpha = tf.variable(random([5], 30 + i), true, `a${i}-${backend}`);
        const optimizer = new Optimizer(
          { kind: 'sgd', momentum: config.momentum, nesterov: config.nesterov },
          [
            { name: 'w', variable: w, decay: true },
            { name: 'alpha', variable: alpha, decay: false },
          ],
          config.weightDecay,
        );
        let saved: { values: number[]; state: OptimizerState } | undefined;
        let held: { live: ArrayLike<number>; before: number[] } | undefined;
        for (let step = 0; step < 3; step++) {
          const grads = new Map([
            ['w', random([3, 3, 2, 5], 40 + step)],
            ['alpha', random([5], 50 + step)],
          ]);
          optimizer.apply(grads, 0.05);
          tf.dispose([...grads.values()]);
          // A checkpoint taken after the first step must not see later steps.
          if (step === 0) {
            const state = optimizer.state();
            saved = { values: Array.from(state.slots['w/momentum']!.dataSync()), state };
          }
          // Nor must an array read out of a parameter (dataSync hands out the backend's own).
          if (step === 1) {
            const live = alpha.dataSync();
            held = { live, before: Array.from(live) };
          }
        }
        const out = {
          w: Array.from(w.dataSync()),
          alpha: Array.from(alpha.dataSync()),
          buffer: Array.from(optimizer.state().slots['w/momentum']!.dataSync()),
          savedNow: Array.from(saved!.state.slots['w/momentum']!.dataSync()),
          savedThen: saved!.values,
          heldNow: Array.from(held!.live),
          heldThen: held!.before,
        };
        tf.dispose([w, alpha, ...Object.values(saved!.state.slots)]);
        optimizer.dispose();
        return out;
      };
      const ops = await run('cpu');
      nativeCalls.clear();
      const fused = await run('onednn');
      // Into new buffers by the kernel, or in place once a buffer is the step's own (never on
      // the first step, whose buffers tfjs made; never for the buffer a saved state shares).
      const inPlace = nativeCalls.get(SGD_IN_PLACE) ?? 0;
      assert.equal((nativeCalls.get(SGD_MOMENTUM) ?? 0) + inPlace, 6, 'two parameters × three steps, all native');
      assert.ok(inPlace > 0, 'later steps update in place');
      assert.deepEqual(fused.w, ops.w, `config ${i}: parameters`);
      assert.deepEqual(fused.alpha, ops.alpha, `config ${i}: α (not decayed)`);
      assert.deepEqual(fused.buffer, ops.buffer, `config ${i}: momentum buffer`);
      assert.deepEqual(fused.savedNow, fused.savedThen, `config ${i}: a saved state is not changed by later steps`);
      assert.deepEqual(fused.heldNow, fused.heldThen, `config ${i}: a read-out array is not changed by later steps`);
    }
  });

  test('recycled buffers never change what a caller holds: read-out values, slices, saved tensors', async () => {
    await selectBackend({ force: 'onednn' });
    const a = random([64, 32], 60);
    const b = random([64, 32], 61);
    nativeCalls.clear();
    // A native output read out, then disposed: the caller's array must keep its values.
    const sum = tf.add(a, b);
    const read = sum.dataSync();
    const expected = Array.from(read);
    sum.dispose();
    // A contiguous slice of a native output is a view of its buffer (tfjs's cpu slice).
    const product = tf.mul(a, b);
    const slice = tf.slice(product, [0, 0], [8, 32]);
    const sliceBefore = Array.from(tf.clone(slice).dataSync());
    product.dispose();
    // Enough same-sized native outputs to take any buffer that was wrongly freed.
    for (let i = 0; i < 8; i++) tf.dispose(tf.tidy(() => [tf.sub(a, b), tf.mul(b, tf.add(a, 1.5))]));
    assert.ok((nativeCalls.get(tf.Add) ?? 0) >= 8, 'the outputs came from native kernels');
    assert.deepEqual(Array.from(read), expected, 'values read out before dispose are unchanged');
    assert.deepEqual(Array.from(slice.dataSync()), sliceBefore, 'a slice outlives the tensor it views');
    tf.dispose([a, b, slice]);
  });

  test('1,000 training steps leave tf.memory() and the process RSS flat', async () => {
    await selectBackend({ force: 'onednn' });
    const model = buildModel(
      { kind: 'plain-cnn', inputShape: [12, 12, 2], classes: 4, channels: [8, 8], poolAfter: [0], batchNorm: true },
      1,
    );
    const step = trainingStep(
      model,
      optimizerFor(model, { optimizer: { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }, weightDecay: 1e-4 }),
    );
    const x = random([16, 12, 12, 2], 1);
    const labels = tf.tensor1d(
      Int32Array.from({ length: 16 }, (_, i) => i % 4),
      'int32',
    );
    // RSS is read after a full GC: dead TypedArrays otherwise linger until V8 gets round to them.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const sample = () => {
      gc();
      return { tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, rss: process.memoryUsage().rss };
    };
    for (let i = 0; i < 200; i++) tf.tidy(() => step(x, labels, 1e-3));
    const early = sample();
    for (let i = 0; i < 800; i++) tf.tidy(() => step(x, labels, 1e-3));
    const late = sample();
    assert.equal(late.tensors, early.tensors);
    assert.equal(late.bytes, early.bytes);
    // Leaking one 16×12×12×8 activation (74 KB) per step would add 59 MB over these 800 steps;
    // without a leak RSS drifts by a few MB (JIT code, allocator) and then stays put.
    assert.ok(
      late.rss - early.rss < 24 * 2 ** 20,
      `RSS grew by ${((late.rss - early.rss) / 2 ** 20).toFixed(1)} MB over 800 steps`,
    );
    model.dispose();
  });

  /** The thread count the addon is loaded with, in a fresh process with `env`. */
  const loadedThreads = async (env: Record<string, string>) =>
    (
      await execa(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          "import('./src/models/native/onednn.ts').then((m) => console.log(m.loadOnednnAddon().threads()))",
        ],
        { cwd: REPO, env },
      )
    ).stdout.trim();

  test('LINEA_THREADS sets the native thread count', async () => {
    assert.equal(await loadedThreads({ LINEA_THREADS: '1' }), '1');
    const bad = await execa(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./src/models/native/onednn.ts').then((m) => m.loadOnednnAddon()).catch((e) => console.log(e.message))",
      ],
      { cwd: REPO, env: { LINEA_THREADS: 'many' } },
    );
    assert.match(bad.stdout, /LINEA_THREADS=many: expected a whole number ≥ 1/);
  });

  test("a Slurm job's kernels use the CPUs Slurm gave it, not every core of the node", async () => {
    assert.equal(await loadedThreads({ SLURM_CPUS_ON_NODE: '1' }), '1');
    const { threadCount } = await import('../src/models/native/onednn.ts');
    assert.equal(threadCount({ SLURM_CPUS_PER_TASK: '1', SLURM_CPUS_ON_NODE: '2' }), 1, 'per task first');
    assert.equal(threadCount({ LINEA_THREADS: '2', SLURM_CPUS_ON_NODE: '1' }), 2, 'LINEA_THREADS wins');
    assert.equal(threadCount({ SLURM_CPUS_ON_NODE: '4096' }), availableParallelism(), 'never more than the machine');
    assert.equal(threadCount({ SLURM_CPUS_ON_NODE: 'x' }), availableParallelism(), 'a malformed count is ignored');
    assert.equal(threadCount({ OMP_NUM_THREADS: '1' }), 1, "a pool worker's share");
    assert.equal(threadCount({ OMP_NUM_THREADS: '8', SLURM_CPUS_PER_TASK: '1' }), 1, "within the job's CPUs");
  });
}
