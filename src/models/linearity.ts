/**
 * Transition to linearity (docs/science.md, "Transition to linearity"): the spectral norm of the Hessian of the model output
 * with respect to the parameters, the drift of the tangent kernel between two sets of weights, and
 * the gap between a network and its linearisation.
 *
 * tfjs records no gradient tape while it computes gradients, so double backprop is not available:
 * a Hessian-vector product is a central difference of parameter gradients,
 *   H v ≈ (∇f(w + εv) − ∇f(w − εv)) / 2ε,
 * which is exact for a model quadratic in its parameters and has O(ε²) error otherwise. The
 * spectral norm is then found by power iteration on these products.
 */
import * as tf from './tf.ts';
import type { ModelConfig } from './architectures/index.ts';
import type { Model, ParamRole } from './model.ts';
import { mulberry32, normalArray } from './random.ts';

/**
 * Which parameters w are: every trainable one unless some roles are excluded. The bridge leaves
 * the PReLU α out: at α = 0 a max-pool over a window of ReLU zeros breaks its tie one way for
 * α > 0 and the other for α < 0, so the gradient jumps there and H does not exist.
 */
export interface ParamSelection {
  readonly exclude?: readonly ParamRole[];
}

function variables(model: Model<ModelConfig>, selection: ParamSelection): tf.Variable[] {
  const exclude = new Set(selection.exclude ?? []);
  return model.specs.filter((s) => s.trainable && !exclude.has(s.role)).map((s) => model.get(s.name));
}

/** The selected parameters as one flat vector (in `model.specs` order). */
export function flatParams(model: Model<ModelConfig>, selection: ParamSelection = {}): Float64Array {
  const vars = variables(model, selection);
  const out = new Float64Array(vars.reduce((a, v) => a + v.size, 0));
  let offset = 0;
  for (const v of vars) {
    out.set(v.dataSync(), offset);
    offset += v.size;
  }
  return out;
}

export function setFlatParams(
  model: Model<ModelConfig>,
  values: ArrayLike<number>,
  selection: ParamSelection = {},
): void {
  let offset = 0;
  for (const v of variables(model, selection)) {
    const part = ArrayBuffer.isView(values)
      ? new Float32Array((values as Float64Array).subarray(offset, offset + v.size))
      : Float32Array.from({ length: v.size }, (_, i) => values[offset + i]!);
    tf.tidy(() => v.assign(tf.tensor(part, v.shape)));
    offset += v.size;
  }
}

/**
 * ∇_w f(w; x) for each example of `x`, f the model's first output (eval mode), as rows of a
 * matrix: examples × parameters.
 */
export function outputGradients(
  model: Model<ModelConfig>,
  x: tf.Tensor,
  selection: ParamSelection = {},
): Float64Array[] {
  const vars = variables(model, selection);
  const n = x.shape[0]!;
  const rows: Float64Array[] = [];
  const size = vars.reduce((a, v) => a + v.size, 0);
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(size);
    // Copied inside the tidy and nothing returned: tf.tidy walks what it returns element by
    // element, which for typed arrays of every gradient cost more than the gradients themselves.
    tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const { grads } = tf.variableGrads(() => tf.sum(tf.slice(model.predict(xi), [0, 0], [1, 1])) as tf.Scalar, vars);
      let offset = 0;
      for (const v of vars) {
        row.set(grads[v.name]!.dataSync(), offset);
        offset += v.size;
      }
    });
    rows.push(row);
  }
  return rows;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const difference = (a: Float64Array, b: Float64Array) => {
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = a[i]! - b[i]!;
  return d;
};

/** H v for f(·; x) (x one example), by central differences of gradients with step ε along v/‖v‖. */
export function hessianVectorProduct(
  model: Model<ModelConfig>,
  x: tf.Tensor,
  v: ArrayLike<number>,
  epsilon = 1e-3,
  selection: ParamSelection = {},
): Float64Array {
  const w = flatParams(model, selection);
  const scale = norm(v);
  if (scale === 0) return new Float64Array(w.length);
  // Plain loops: typed-array `from` with a mapping function is several times slower here.
  const shifted = (sign: number) => {
    const at = new Float64Array(w.length);
    const step = (sign * epsilon) / scale;
    for (let i = 0; i < w.length; i++) at[i] = w[i]! + step * v[i]!;
    setFlatParams(model, at, selection);
    return outputGradients(model, x, selection)[0]!;
  };
  try {
    const plus = shifted(1);
    const minus = shifted(-1);
    const hv = new Float64Array(w.length);
    const factor = scale / (2 * epsilon);
    for (let i = 0; i < hv.length; i++) hv[i] = (plus[i]! - minus[i]!) * factor;
    return hv;
  } finally {
    setFlatParams(model, w, selection);
  }
}

/** ‖H(w; x)‖₂ by power iteration on H v (|λ|max: H is symmetric). */
export interface HessianOptions extends ParamSelection {
  readonly iterations?: number;
  readonly seed?: number;
  /** Central-difference step; smaller for piecewise-linear networks, so a step rarely crosses a kink. */
  readonly epsilon?: number;
  readonly tolerance?: number;
}

export function hessianSpectralNorm(
  model: Model<ModelConfig>,
  x: tf.Tensor,
  options: HessianOptions = {},
): { norm: number; iterations: number } {
  const n = flatParams(model, options).length;
  return powerIteration((v) => hessianVectorProduct(model, x, v, options.epsilon, options), n, options);
}

/**
 * |λ|max of a symmetric linear operator by power iteration. The vector is renormalised after every
 * product, so the estimate neither underflows (|λ| < 1) nor overflows (|λ| > 1) however many
 * iterations it takes; it stops when two successive estimates agree to `tolerance` (relative).
 */
export function powerIteration(
  apply: (v: Float64Array) => Float64Array,
  size: number,
  options: { iterations?: number; seed?: number; tolerance?: number } = {},
): { norm: number; iterations: number } {
  const rand = mulberry32(options.seed ?? 0);
  let v: Float64Array = Float64Array.from({ length: size }, () => rand() - 0.5);
  const first = norm(v);
  for (let i = 0; i < size; i++) v[i]! /= first;
  let estimate = 0;
  const max = options.iterations ?? 50;
  const tolerance = options.tolerance ?? 1e-4;
  for (let i = 1; i <= max; i++) {
    const hv = apply(v);
    const next = norm(hv); // ‖v‖ = 1
    if (next === 0 || !Number.isFinite(next)) return { norm: next, iterations: i };
    for (let j = 0; j < size; j++) hv[j]! /= next;
    v = hv;
    if (Math.abs(next - estimate) <= tolerance * next) return { norm: next, iterations: i };
    estimate = next;
  }
  return { norm: estimate, iterations: max };
}

/** Tangent kernel Gram matrix K_ij = ∇f(x_i)·∇f(x_j) on probe points. */
export function tangentKernel(
  model: Model<ModelConfig>,
  probes: tf.Tensor,
  selection: ParamSelection = {},
): number[][] {
  const g = outputGradients(model, probes, selection);
  return g.map((a) => g.map((b) => dot(a, b)));
}

/** ‖K₁ − K₀‖_F / ‖K₀‖_F. */
export function relativeKernelChange(k0: readonly (readonly number[])[], k1: readonly (readonly number[])[]): number {
  let diff = 0;
  let base = 0;
  for (const [i, row] of k0.entries()) {
    for (const [j, v] of row.entries()) {
      diff += (k1[i]![j]! - v) ** 2;
      base += v * v;
    }
  }
  return Math.sqrt(diff / base);
}

/**
 * The gap between a trained model and its linearisation around the initial one (same
 * architecture): max over probes of |f(w; x) − f_lin(w; x)| / max |f(w; x) − f(w₀; x)|, with
 * f_lin(w; x) = f(w₀; x) + ∇f(w₀; x)·(w − w₀). 0 for a model linear in its parameters; taken at
 * the trained weights rather than by training f_lin separately (docs/science.md, "Kernel drift and the linearisation gap" proposes
 * both), so it needs no second training run.
 */
export function linearizationGap(
  initial: Model<ModelConfig>,
  trained: Model<ModelConfig>,
  probes: tf.Tensor,
  selection: ParamSelection = {},
): number {
  // The values are read outside the tidy: it walks what it returns, element by element.
  const first = (model: Model<ModelConfig>) => {
    const column = tf.tidy(() => tf.slice(model.predict(probes), [0, 0], [-1, 1]));
    const values = Array.from(column.dataSync());
    column.dispose();
    return values;
  };
  const now = first(trained);
  const at0 = first(initial);
  const g0 = outputGradients(initial, probes, selection);
  const w0 = flatParams(initial, selection);
  const w = flatParams(trained, selection);
  if (w.length !== w0.length)
    throw new Error(`linearisation gap: ${w.length} trained parameters against ${w0.length} initial ones`);
  const dw = difference(w, w0);
  let gap = 0;
  let moved = 0;
  now.forEach((f, i) => {
    gap = Math.max(gap, Math.abs(f - (at0[i]! + dot(g0[i]!, dw))));
    moved = Math.max(moved, Math.abs(f - at0[i]!));
  });
  return moved === 0 ? 0 : gap / moved;
}

/** Mean of ‖H(w; x)‖₂ over the rows of `probes` (one power iteration per probe). */
export function meanHessianNorm(
  model: Model<ModelConfig>,
  probes: tf.Tensor,
  options: HessianOptions = {},
): { norm: number; norms: number[] } {
  const norms: number[] = [];
  for (let i = 0; i < probes.shape[0]!; i++) {
    const x = tf.slice(probes, [i], [1]);
    try {
      norms.push(hessianSpectralNorm(model, x, { ...options, seed: (options.seed ?? 0) + i }).norm);
    } finally {
      x.dispose();
    }
  }
  return { norm: norms.reduce((a, b) => a + b, 0) / norms.length, norms };
}

/** ‖w − w₀‖ / ‖w₀‖ between two models of the same architecture. */
export function relativeTravel(
  initial: Model<ModelConfig>,
  trained: Model<ModelConfig>,
  selection: ParamSelection = {},
): number {
  const w0 = flatParams(initial, selection);
  const w = flatParams(trained, selection);
  return norm(difference(w, w0)) / norm(w0);
}

/**
 * Full-batch gradient descent on the squared loss ½·mean((f(x) − y)²) of the first output, as
 * docs/science.md, "Kernel drift and the linearisation gap" trains the width sweep. Returns the loss before each of the `record` evenly
 * spaced steps and after the last; throws when the loss stops being finite (the rate is too high).
 */
export function fitSquaredLoss(
  model: Model<ModelConfig>,
  x: tf.Tensor,
  y: tf.Tensor,
  options: { lr: number; steps: number; record?: number },
): { step: number; loss: number }[] {
  const vars = model.trainableVariables();
  const every = Math.max(1, Math.floor(options.steps / (options.record ?? 20)));
  const trace: { step: number; loss: number }[] = [];
  const lossOf = () =>
    tf.mul(
      0.5,
      tf.mean(tf.square(tf.sub(tf.reshape(tf.slice(model.predict(x), [0, 0], [-1, 1]), [-1]), tf.reshape(y, [-1])))),
    ) as tf.Scalar;
  for (let step = 0; step <= options.steps; step++) {
    if (step % every === 0 || step === options.steps) {
      const loss = tf.tidy(() => lossOf().dataSync()[0]!);
      if (!Number.isFinite(loss))
        throw new Error(`squared-loss fit diverged at step ${step} (loss ${loss}); lower the learning rate`);
      trace.push({ step, loss });
    }
    if (step === options.steps) break;
    tf.tidy(() => {
      const { grads } = tf.variableGrads(lossOf, vars);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(options.lr, grads[v.name]!)));
    });
  }
  return trace;
}

/** n points uniform on the unit sphere in ℝ^d with the target y = x₁·x₂ (docs/science.md, "Kernel drift and the linearisation gap"). */
export function sphereProductTask(n: number, d: number, seed: number): { x: Float32Array; y: Float32Array } {
  if (d < 2) throw new Error(`the product target x₁·x₂ needs at least 2 input dimensions, got ${d}`);
  const x = normalArray(mulberry32(seed), n * d);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    const r = Math.sqrt(row.reduce((a, v) => a + v * v, 0));
    for (let j = 0; j < d; j++) row[j]! /= r;
    y[i] = row[0]! * row[1]!;
  }
  return { x, y };
}

/** Least-squares line through (log x, log y): the slope, and R² as the fit's quality. */
export function logLogSlope(
  xs: readonly number[],
  ys: readonly number[],
): { slope: number; intercept: number; r2: number } {
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
  const [mx, my] = [mean(lx), mean(ly)];
  const sxy = lx.reduce((a, x, i) => a + (x - mx) * (ly[i]! - my), 0);
  const sxx = lx.reduce((a, x) => a + (x - mx) ** 2, 0);
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const ssTot = ly.reduce((a, y) => a + (y - my) ** 2, 0);
  const ssRes = ly.reduce((a, y, i) => a + (y - (intercept + slope * lx[i]!)) ** 2, 0);
  return { slope, intercept, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}
