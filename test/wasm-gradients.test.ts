/**
 * Training convolutional models on wasm: the gradient kernels linea registers for it must agree
 * with tfjs's reference cpu backend.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';
import { relativeError } from './helpers/numeric.ts';

interface Case {
  stride: number;
  pad: 'same' | 'valid';
  depthwise: boolean;
  size: number;
  kernel: number;
}

/** Gradients of a small two-layer conv model (conv → PReLU → conv → weighted sum) w.r.t. x and both filters. */
function gradients(c: Case, seed: number): Float32Array[] {
  const rand = mulberry32(seed);
  const inC = 3;
  const mid = c.depthwise ? inC * 2 : 5;
  const x = tf.tensor4d(normalArray(rand, 2 * c.size * c.size * inC), [2, c.size, c.size, inC]);
  const w1 = tf.tensor4d(
    normalArray(rand, c.kernel * c.kernel * inC * (mid / (c.depthwise ? inC : 1))),
    c.depthwise ? [c.kernel, c.kernel, inC, mid / inC] : [c.kernel, c.kernel, inC, mid],
  );
  const w2 = tf.tensor4d(normalArray(rand, 9 * mid * 4), [3, 3, mid, 4]);
  const alpha = tf.tensor1d(normalArray(rand, mid).map((v) => Math.abs(v) % 1));

  const f = (xv: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
    const h = c.depthwise
      ? tf.depthwiseConv2d(xv as tf.Tensor4D, a as tf.Tensor4D, c.stride, c.pad, 'NHWC')
      : tf.conv2d(xv as tf.Tensor4D, a as tf.Tensor4D, c.stride, c.pad, 'NHWC');
    const y = tf.conv2d(tf.prelu<tf.Tensor>(h, alpha) as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
    const r = tf.tensor(normalArray(mulberry32(seed + 1), y.size), y.shape);
    return tf.sum(tf.mul(y, r));
  };
  const grads = tf.grads(f)([x, w1, w2]);
  return grads.map((g) => g.dataSync() as Float32Array);
}

const cases: Case[] = [];
for (const depthwise of [false, true]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) cases.push({ stride, pad, depthwise, size: 11, kernel: 3 });
  }
}
cases.push({ stride: 1, pad: 'same', depthwise: false, size: 8, kernel: 1 });
cases.push({ stride: 2, pad: 'same', depthwise: false, size: 10, kernel: 5 });

test('conv and depthwise-conv gradients on wasm match the cpu backend (rel. error ≤ 1e-4)', async () => {
  for (const [i, c] of cases.entries()) {
    await selectBackend({ force: 'cpu' });
    const reference = gradients(c, 100 + i);
    await selectBackend({ force: 'wasm' });
    const actual = gradients(c, 100 + i);
    for (const [j, name] of ['dx', 'dW1', 'dW2'].entries()) {
      const err = relativeError(actual[j]!, reference[j]!);
      assert.ok(err <= 1e-4, `${JSON.stringify(c)} ${name}: relative error ${err}`);
    }
  }
});

test('wasm training of a conv layer does not leak tensors', async () => {
  await selectBackend({ force: 'wasm' });
  const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([3, 3, 3, 4]));
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.conv2d(x, w as tf.Variable<tf.Rank.R4>, 2, 'same')));
      w.assign(tf.sub(w, tf.mul(0.01, grads[w.name]!)));
    });
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, before);
});
