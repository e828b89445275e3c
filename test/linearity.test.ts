// Transition-to-linearity measurements (docs/science.md, "Transition to linearity"): exact answers on models whose Hessian is
// known, and agreement of the Hessian-vector products with second differences of the output.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, type MlpConfig } from '../src/models/architectures/index.ts';
import {
  fitSquaredLoss,
  flatParams,
  hessianSpectralNorm,
  powerIteration,
  hessianVectorProduct,
  linearizationGap,
  logLogSlope,
  meanHessianNorm,
  relativeKernelChange,
  relativeTravel,
  setFlatParams,
  sphereProductTask,
  tangentKernel,
} from '../src/models/linearity.ts';

before(async () => {
  await selectBackend({ force: 'cpu' });
});

const mlp = (c: Partial<MlpConfig>): MlpConfig => ({
  kind: 'mlp',
  inputShape: [3],
  outputs: 1,
  depth: 1,
  width: 8,
  activation: 'tanh',
  outputActivation: 'linear',
  parametrization: 'ntk',
  bias: false,
  init: 'lecun',
  ...c,
});

test('a model linear in its parameters has Hessian norm 0, no kernel drift and no linearisation gap', () => {
  const model = buildModel(mlp({ depth: 0, bias: true }), 1);
  const initial = buildModel(mlp({ depth: 0, bias: true }), 1);
  const probes = tf.tensor2d([
    [1, 2, 3],
    [-1, 0.5, 2],
    [0, 1, -1],
  ]);
  assert.equal(hessianSpectralNorm(model, tf.slice(probes, [0], [1])).norm, 0);
  const w0 = flatParams(model);
  const k0 = tangentKernel(model, probes);
  setFlatParams(
    model,
    w0.map((w, i) => w + 0.3 * Math.sin(i + 1)),
  );
  assert.ok(relativeKernelChange(k0, tangentKernel(model, probes)) < 1e-7);
  assert.ok(linearizationGap(initial, model, probes) < 1e-5);
  model.dispose();
  initial.dispose();
});

test('f = v·(w x)/√m (two linear layers, NTK scaling) has ‖H‖ = |x|/√m exactly', () => {
  for (const m of [4, 16, 64]) {
    const model = buildModel(mlp({ inputShape: [1], width: m, activation: 'linear' }), 2);
    const { norm } = hessianSpectralNorm(model, tf.tensor2d([[2]]));
    assert.ok(
      Math.abs(norm - 2 / Math.sqrt(m)) < 1e-3 * (2 / Math.sqrt(m)),
      `m = ${m}: ${norm} vs ${2 / Math.sqrt(m)}`,
    );
    model.dispose();
  }
});

test('power iteration keeps its vector normalised: ‖H‖ far below and far above 1 over hundreds of iterations', () => {
  // f = v·(w x)/√m with |x|/√m = λ: spectrum ±λ, 0, …; a tolerance finer than the finite
  // differences' noise makes every iteration run, where an unnormalised vector under- or overflows.
  const m = 16;
  for (const lambda of [0.0432, 300]) {
    const model = buildModel(mlp({ inputShape: [1], width: m, activation: 'linear' }), 2);
    const { norm, iterations } = hessianSpectralNorm(model, tf.tensor2d([[lambda * Math.sqrt(m)]]), {
      iterations: 300,
      tolerance: 1e-13,
    });
    assert.ok(iterations > 150, `ran ${iterations} iterations`);
    assert.ok(Math.abs(norm - lambda) < 1e-3 * lambda, `λ = ${lambda}: power iteration gave ${norm}`);
    model.dispose();
  }
});

test('power iteration finds |λ|max of a matrix with a known spectrum, slow convergence included', () => {
  // Q diag(λ) Qᵀ with a Householder Q: |λ|max = 0.0432 is close to the next (−0.043), so it takes many iterations.
  const spectrum = [0.0432, -0.043, 0.02, 0.01, -0.005, 1e-4];
  const n = spectrum.length;
  const u = Float64Array.from({ length: n }, (_, i) => Math.cos(i + 0.5));
  const uu = u.reduce((a, x) => a + x * x, 0);
  const q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * u[i]! * u[j]!) / uu;
  for (const scale of [1, 1e4]) {
    const a = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => spectrum.reduce((s, l, k) => s + q(i, k) * l * scale * q(j, k), 0)),
    );
    const apply = (v: Float64Array) => Float64Array.from(a, (row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
    const { norm } = powerIteration(apply, n, { iterations: 5000, tolerance: 1e-12 });
    assert.ok(Math.abs(norm - 0.0432 * scale) < 1e-4 * 0.0432 * scale, `scale ${scale}: ${norm} vs ${0.0432 * scale}`);
  }
});

test('Hessian-vector products agree with second differences of the output: vᵀHv ≈ (f(w+εv) − 2f(w) + f(w−εv))/ε²', () => {
  const model = buildModel(mlp({ width: 16, outputActivation: 'tanh' }), 3);
  const x = tf.tensor2d([[0.7, -1.2, 0.4]]);
  const w = flatParams(model);
  const v = Float64Array.from(w, (_, i) => Math.cos(3 * i + 1));
  const hv = hessianVectorProduct(model, x, v);
  const vhv = hv.reduce((a, h, i) => a + h * v[i]!, 0);
  const f = (shift: number) => {
    setFlatParams(
      model,
      w.map((wi, i) => wi + shift * v[i]!),
    );
    return tf.tidy(() => model.predict(x).dataSync()[0]!);
  };
  const eps = 3e-2;
  const second = (f(eps) - 2 * f(0) + f(-eps)) / (eps * eps);
  setFlatParams(model, w);
  assert.ok(
    Math.abs(vhv - second) < 2e-2 * Math.max(Math.abs(second), 1e-3),
    `vᵀHv ${vhv} vs second difference ${second}`,
  );
  // A nonlinear model moved away from its weights drifts and leaves its linearisation.
  const probes = tf.tensor2d([
    [1, 0, 0],
    [0, 1, 0],
    [0.5, -0.5, 1],
  ]);
  const k0 = tangentKernel(model, probes);
  setFlatParams(
    model,
    w.map((wi, i) => wi + 0.5 * Math.sin(i)),
  );
  assert.ok(relativeKernelChange(k0, tangentKernel(model, probes)) > 1e-3);
  const initial = buildModel(mlp({ width: 16, outputActivation: 'tanh' }), 3);
  assert.ok(linearizationGap(initial, model, probes) > 1e-3);
  model.dispose();
  initial.dispose();
});

test('log-log slope of an exact power law, with R² = 1', () => {
  const fit = logLogSlope(
    [64, 256, 1024, 4096],
    [64, 256, 1024, 4096].map((m) => 3 / Math.sqrt(m)),
  );
  assert.ok(Math.abs(fit.slope + 0.5) < 1e-12);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
});

test('full-batch GD on the squared loss fits the sphere product task, and a wider linear-output NTK network moves its kernel less', () => {
  const { x, y } = sphereProductTask(32, 4, 7);
  const xs = tf.tensor2d(x, [32, 4]);
  const ys = tf.tensor1d(y);
  const drift = (m: number) => {
    const config = mlp({ inputShape: [4], width: m });
    const model = buildModel(config, 5);
    const initial = buildModel(config, 5);
    const k0 = tangentKernel(model, xs);
    const trace = fitSquaredLoss(model, xs, ys, { lr: 1, steps: 200 });
    assert.ok(trace.at(-1)!.loss < 0.5 * trace[0]!.loss, `m = ${m}: loss ${trace[0]!.loss} → ${trace.at(-1)!.loss}`);
    const out = { kernel: relativeKernelChange(k0, tangentKernel(model, xs)), travel: relativeTravel(initial, model) };
    model.dispose();
    initial.dispose();
    return out;
  };
  const [narrow, wide] = [drift(16), drift(1024)];
  assert.ok(wide.kernel < narrow.kernel / 2, `kernel drift ${narrow.kernel} at m = 16, ${wide.kernel} at m = 1024`);
  assert.ok(wide.travel < narrow.travel, `relative travel ${narrow.travel} at m = 16, ${wide.travel} at m = 1024`);
  // Every point lies on the unit sphere and the target is x₁x₂.
  for (let i = 0; i < 32; i++) {
    const row = x.subarray(i * 4, i * 4 + 4);
    assert.ok(Math.abs(row.reduce((a, v) => a + v * v, 0) - 1) < 1e-5);
    assert.ok(Math.abs(y[i]! - row[0]! * row[1]!) < 1e-7);
  }
});

test('the mean Hessian norm over probes is the mean of the per-probe norms, and GD that diverges says so', () => {
  const model = buildModel(mlp({ inputShape: [1], width: 16, activation: 'linear' }), 2);
  const { norm, norms } = meanHessianNorm(model, tf.tensor2d([[1], [2], [4]]));
  // ‖H‖ = |x|/√m for this model (see above).
  assert.deepEqual(
    norms.map((n) => Math.round(n * 1e3) / 1e3),
    [0.25, 0.5, 1],
  );
  assert.ok(Math.abs(norm - 1.75 / 3) < 1e-3);
  assert.throws(
    () => fitSquaredLoss(model, tf.tensor2d([[100]]), tf.tensor1d([1]), { lr: 1e6, steps: 50 }),
    /diverged.*lower the learning rate/,
  );
  model.dispose();
});
