/**
 * A model is a serialisable config plus its maths. The config says what to build; the
 * architecture's `forward` is written once against `Layers`, which both declares parameters and
 * activation sites (on a build pass over one zero input) and computes (on every later pass).
 * Parameters are initialised from a seed derived from (model seed, parameter name), so the
 * weights do not depend on declaration order or on the backend.
 */
import * as tf from './tf.ts';
import { deriveSeed, mulberry32, normalArray } from './random.ts';

export type ParamRole = 'kernel' | 'bias' | 'alpha' | 'gamma' | 'beta' | 'moving-mean' | 'moving-variance';

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  /** N(0, std²) with std = gain / sqrt(fan): He (gain √2, fan in), LeCun (1, fan in), Glorot (1, (in+out)/2). */
  | { kind: 'normal'; std: number };

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: ParamRole;
  /** Moving batch-norm statistics are state, not parameters: no gradient, not counted as parameters. */
  readonly trainable: boolean;
  readonly init: Init;
}

export type Nonlinearity = 'prelu' | 'relu' | 'tanh' | 'linear';

/** One activation layer: the units that linearisation and path length reason about. */
export interface ActivationSite {
  readonly id: string;
  /** Position in forward order, 0-based. */
  readonly index: number;
  /** Units of this layer: channels of a conv feature map, features of a dense layer. */
  readonly channels: number;
  readonly nonlinearity: Nonlinearity;
  /** Name of the channel-wise α parameter (PReLU sites only). */
  readonly alpha?: string;
  /** Where the site sits: a plain layer, a ResNet stem, inside a residual branch, or after an addition. */
  readonly role: 'plain' | 'stem' | 'branch' | 'post-add';
}

/**
 * The path structure between activation sites, as data. Consecutive sites in a `seq` are fully
 * connected through the linear layer between them; a `residual` adds a branch to a shortcut
 * (`projection` when the shortcut is a 1×1 conv rather than the identity).
 */
export type Structure =
  | { readonly kind: 'site'; readonly site: string }
  | { readonly kind: 'seq'; readonly items: readonly Structure[] }
  | {
      readonly kind: 'residual';
      readonly branch: Structure;
      readonly shortcut: Structure;
      readonly projection: boolean;
    };

export interface ForwardOptions {
  /** Batch-norm uses batch statistics and queues moving-average updates when training. */
  readonly training?: boolean;
  /**
   * Called with each site's activation (after the nonlinearity); a returned tensor replaces it.
   * Analyses use this to record activations or knock units out.
   */
  readonly onSite?: (site: ActivationSite, activation: tf.Tensor) => tf.Tensor | void;
  /** Per-site α overrides (e.g. linearised copies), by parameter name. */
  readonly alphas?: ReadonlyMap<string, tf.Tensor>;
  /** Compute the gradient with respect to the input batch too (saliency, adversarial probes). */
  readonly inputGradient?: boolean;
}

/**
 * Batch norm on batch statistics with its gradient in closed form,
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/σ · (dy − dβ/n − x̂·dγ/n),
 * instead of tfjs's gradients of moments and batchNorm chained op by op: the same values in about
 * a dozen elementwise and reduction kernels (all native on onednn) rather than several dozen.
 */
export function trainingBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  axes: number[],
  onMoments: (mean: tf.Tensor, variance: tf.Tensor) => void,
): tf.Tensor {
  const n = x.size / x.shape[x.rank - 1]!;
  // biome-ignore lint/plugin: tfjs types a custom gradient's inputs as a rest list; ours are exactly (x, γ, β)
  const op = tf.customGrad(((xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = tf.moments(xv, axes);
    onMoments(mean, variance);
    const rstd = tf.rsqrt(tf.add(variance, BN_EPSILON));
    const xhat = tf.mul(tf.sub(xv, mean), rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xh, r, gv] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const d = dy as tf.Tensor;
        const dbeta = tf.sum(d, axes);
        const dgamma = tf.sum(tf.mul(d, xh), axes);
        const dx = tf.mul(tf.mul(gv, r), tf.sub(tf.sub(d, tf.div(dbeta, n)), tf.mul(xh, tf.div(dgamma, n))));
        return [dx, dgamma, dbeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta);
}

/**
 * A backend may register these two kernels to run a training step's batch norm, moving averages
 * included, as one pass each way (the onednn backend does). BATCH_NORM_TRAIN takes x [..., C],
 * gamma, beta, movingMean, movingVar [C] and gives [y, mean, rstd, nextMovingMean,
 * nextMovingVar] with
 *   y = (x − mean)·rstd·γ + β,  rstd = 1/√(variance + ε)  (batch statistics, variance biased),
 *   next = moving·keep + (mean, variance)·(meanWeight, varWeight);
 * BATCH_NORM_TRAIN_GRAD takes dy, x, gamma, mean, rstd and gives [dx, dγ, dβ] as
 * trainingBatchNorm's gradient does. Same values as trainingBatchNorm, up to the order of sums.
 */
export const BATCH_NORM_TRAIN = 'LineaBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'LineaBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  readonly epsilon: number;
  /** The moving averages' weight on their old value (1 − momentum). */
  readonly keep: number;
  /** The weights on the batch's mean and (biased) variance; varWeight unbiases it, as PyTorch does. */
  readonly meanWeight: number;
  readonly varWeight: number;
}

function nativeTrainingBatchNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVar: tf.Tensor,
  attrs: BatchNormTrainAttrs,
): { y: tf.Tensor; movingMean: tf.Tensor; movingVar: tf.Tensor } {
  let moving: tf.Tensor[] = [];
  // biome-ignore lint/plugin: tfjs types a custom gradient's inputs as a rest list; ours are exactly (x, γ, β)
  const op = tf.customGrad(((xv: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, mean, rstd, nextMean, nextVar] = tf
      .engine()
      .runKernel(BATCH_NORM_TRAIN, { x: xv, gamma: g, beta: b, movingMean, movingVar }, { ...attrs }) as tf.Tensor[];
    // Kept here: what a custom gradient's forward creates and neither returns nor saves is disposed.
    moving = [tf.keep(nextMean!), tf.keep(nextVar!)];
    save([xv, g, mean!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, gs, m, r] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf
          .engine()
          .runKernel(BATCH_NORM_TRAIN_GRAD, { dy: dy as tf.Tensor, x: xs, gamma: gs, mean: m, rstd: r }) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta);
  return { y, movingMean: moving[0]!, movingVar: moving[1]! };
}

/** A queued moving-statistics update: `variable ← value` after the step succeeds. */
export interface StateUpdate {
  readonly name: string;
  readonly value: tf.Tensor;
}

/** What an architecture's forward pass may do. Declaring and computing are one call. */
export class Layers {
  readonly updates: StateUpdate[] = [];
  /** The batch the forward pass started from (a convolution on it needs no input gradient). */
  input: tf.Tensor | undefined;
  private readonly structureStack: Structure[][] = [[]];

  constructor(
    private readonly model: {
      variable(spec: ParamSpec): tf.Variable;
      declareSite(site: Omit<ActivationSite, 'index'>): ActivationSite;
    },
    readonly options: ForwardOptions,
    private readonly recording: boolean,
  ) {}

  param(spec: ParamSpec): tf.Variable {
    return this.model.variable(spec);
  }

  conv2d(
    name: string,
    x: tf.Tensor4D,
    filters: number,
    o: { kernel?: number; stride?: number; bias: boolean; init: InitScheme },
  ): tf.Tensor4D {
    const k = o.kernel ?? 3;
    const inC = x.shape[3];
    const w = this.param({
      name: `${name}/kernel`,
      shape: [k, k, inC, filters],
      role: 'kernel',
      trainable: true,
      init: fanInit(o.init, k * k * inC, k * k * filters),
    });
    const bias = o.bias
      ? this.param({ name: `${name}/bias`, shape: [filters], role: 'bias', trainable: true, init: { kind: 'zeros' } })
      : undefined;
    if (x === this.input && !this.options.inputGradient)
      return convWithBias(x, w as tf.Tensor4D, bias, o.stride ?? 1, { dataGradient: false });
    if (bias) return convWithBias(x, w as tf.Tensor4D, bias, o.stride ?? 1, { dataGradient: true });
    // One fused kernel where the backend has one: the bias is added inside the convolution.
    return tf.fused.conv2d({
      x,
      filter: w as tf.Tensor4D,
      strides: o.stride ?? 1,
      pad: 'same',
      ...(bias ? { bias } : {}),
    });
  }

  dense(
    name: string,
    x: tf.Tensor2D,
    units: number,
    o: { bias: boolean; init: InitScheme; ntk?: boolean },
  ): tf.Tensor2D {
    const inF = x.shape[1];
    const init: Init = o.ntk ? { kind: 'normal', std: 1 } : fanInit(o.init, inF, units);
    const w = this.param({ name: `${name}/kernel`, shape: [inF, units], role: 'kernel', trainable: true, init });
    const bias = o.bias
      ? this.param({ name: `${name}/bias`, shape: [units], role: 'bias', trainable: true, init: { kind: 'zeros' } })
      : undefined;
    // NTK parametrisation: weights stay O(1) and the layer scales by 1/√fan_in instead.
    const input = o.ntk ? tf.mul(x, 1 / Math.sqrt(inF)) : x;
    return tf.fused.matMul({ a: input as tf.Tensor2D, b: w as tf.Tensor2D, ...(bias ? { bias } : {}) }) as tf.Tensor2D;
  }

  /** Batch norm over all axes but the last. Moving averages follow PyTorch (momentum 0.1, ε 1e-5). */
  batchNorm<T extends tf.Tensor>(name: string, x: T): T {
    const c = x.shape[x.rank - 1]!;
    const gamma = this.param({
      name: `${name}/gamma`,
      shape: [c],
      role: 'gamma',
      trainable: true,
      init: { kind: 'ones' },
    });
    const beta = this.param({
      name: `${name}/beta`,
      shape: [c],
      role: 'beta',
      trainable: true,
      init: { kind: 'zeros' },
    });
    const movingMean = this.param({
      name: `${name}/moving_mean`,
      shape: [c],
      role: 'moving-mean',
      trainable: false,
      init: { kind: 'zeros' },
    });
    const movingVar = this.param({
      name: `${name}/moving_variance`,
      shape: [c],
      role: 'moving-variance',
      trainable: false,
      init: { kind: 'ones' },
    });
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    if (!this.options.training || this.recording) {
      // biome-ignore lint/plugin: batchNorm keeps x's rank, which tfjs's typing loses (Tensor<R> → Tensor<Rank>)
      return tf.batchNorm(x, movingMean, movingVar, beta, gamma, BN_EPSILON) as unknown as T;
    }
    const n = x.size / c;
    const momentum = BN_MOMENTUM;
    // PyTorch keeps the unbiased batch variance in the running estimate.
    const attrs: BatchNormTrainAttrs = {
      epsilon: BN_EPSILON,
      keep: 1 - momentum,
      meanWeight: momentum,
      varWeight: (momentum * n) / Math.max(n - 1, 1),
    };
    if (x.dtype === 'float32' && tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend())) {
      const {
        y,
        movingMean: nextMean,
        movingVar: nextVar,
      } = nativeTrainingBatchNorm(x, gamma, beta, movingMean, movingVar, attrs);
      this.updates.push(
        { name: `${name}/moving_mean`, value: nextMean },
        { name: `${name}/moving_variance`, value: nextVar },
      );
      return y as T;
    }
    const queue = (mean: tf.Tensor, variance: tf.Tensor) =>
      this.updates.push(
        {
          name: `${name}/moving_mean`,
          value: tf.keep(tf.add(tf.mul(movingMean, attrs.keep), tf.mul(mean, attrs.meanWeight))),
        },
        {
          name: `${name}/moving_variance`,
          value: tf.keep(tf.add(tf.mul(movingVar, attrs.keep), tf.mul(variance, attrs.varWeight))),
        },
      );
    return trainingBatchNorm(x, gamma, beta, axes, queue) as T;
  }

  /** An activation site: the nonlinearity, declared once, then the analysis hook. */
  activation<T extends tf.Tensor>(id: string, x: T, nonlinearity: Nonlinearity, role: ActivationSite['role']): T {
    const { site, alpha } = this.declareActivation(id, x, nonlinearity, role);
    let y: tf.Tensor;
    switch (nonlinearity) {
      case 'prelu':
        // f(x) = max(0, x) + α·min(0, x), with one α per channel shared over batch and positions.
        // tfjs's fused Prelu kernel computes x < 0 ? α·x : x, so α = 1 is exactly the identity.
        y = tf.prelu(x, alpha! as tf.Tensor as T);
        break;
      case 'relu':
        y = tf.relu(x);
        break;
      case 'tanh':
        y = tf.tanh(x);
        break;
      case 'linear':
        y = x;
        break;
    }
    return (this.options.onSite?.(site, y) ?? y) as T;
  }

  /**
   * activation(), then 2×2 max pooling (stride 2, 'valid'). A PReLU site that no analysis hook
   * watches is one pass where the backend has PRELU_MAX_POOL: the activation itself is never
   * written out. Same values, same site, same parameters as the two steps.
   */
  activationMaxPool(id: string, x: tf.Tensor4D, nonlinearity: Nonlinearity, role: ActivationSite['role']): tf.Tensor4D {
    if (nonlinearity !== 'prelu' || this.options.onSite)
      return tf.maxPool(this.activation(id, x, nonlinearity, role), 2, 2, 'valid');
    const { alpha } = this.declareActivation(id, x, nonlinearity, role);
    return preluMaxPool(x, alpha!);
  }

  /**
   * activation(), then the mean over each image's positions (global average pooling, [N,H,W,C] →
   * [N,C]), in one pass like activationMaxPool where the backend has PRELU_MEAN.
   */
  activationMean(id: string, x: tf.Tensor4D, nonlinearity: Nonlinearity, role: ActivationSite['role']): tf.Tensor2D {
    if (nonlinearity !== 'prelu' || this.options.onSite)
      return tf.mean(this.activation(id, x, nonlinearity, role), [1, 2]) as tf.Tensor2D;
    const { alpha } = this.declareActivation(id, x, nonlinearity, role);
    return preluMean(x, alpha!);
  }

  /** Declare an activation site (and a PReLU's α): what activation() and the fused forms share. */
  private declareActivation(
    id: string,
    x: tf.Tensor,
    nonlinearity: Nonlinearity,
    role: ActivationSite['role'],
  ): { site: ActivationSite; alpha?: tf.Tensor } {
    const channels = x.shape[x.rank - 1]!;
    const alphaName = nonlinearity === 'prelu' ? `${id}/alpha` : undefined;
    const site = this.model.declareSite({
      id,
      channels,
      nonlinearity,
      role,
      ...(alphaName ? { alpha: alphaName } : {}),
    });
    if (this.recording) this.structureStack.at(-1)!.push({ kind: 'site', site: id });
    if (!alphaName) return { site };
    const declared = this.param({
      name: alphaName,
      shape: [channels],
      role: 'alpha',
      trainable: true,
      init: { kind: 'zeros' },
    });
    return { site, alpha: this.options.alphas?.get(alphaName) ?? declared };
  }

  /** out = branch(x) + shortcut(x); records the residual structure on the build pass. */
  residual<T extends tf.Tensor>(x: T, branch: (x: T) => T, shortcut: (x: T) => T, projection: boolean): T {
    this.structureStack.push([]);
    const b = branch(x);
    const branchItems = this.structureStack.pop()!;
    this.structureStack.push([]);
    const s = shortcut(x);
    const shortcutItems = this.structureStack.pop()!;
    if (this.recording)
      this.structureStack
        .at(-1)!
        .push({ kind: 'residual', branch: seq(branchItems), shortcut: seq(shortcutItems), projection });
    return tf.add(b, s) as T;
  }

  structure(): Structure {
    return seq(this.structureStack[0]!);
  }
}

/**
 * A backend may register this kernel to compute a convolution's filter and bias gradients in one
 * call (the onednn backend does: oneDNN's weight-gradient kernel sums the bias gradient in its own
 * pass over dy): inputs x, dy; outputs [dFilter, dBias]; attrs below. Without it, they are
 * Conv2DBackpropFilter and a Sum of dy, as in tfjs's fused convolution.
 */
export const CONV_PARAM_GRADIENTS = 'LineaConv2DParamGradients';
export interface ConvParamGradientsAttrs {
  readonly strides: number;
  readonly pad: 'same';
  readonly filterShape: [number, number, number, number];
}

function filterGradientOf(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  stride: number,
): tf.Tensor4D {
  const attrs = { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape };
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs) as tf.Tensor4D;
}

/**
 * A backend may register these two kernels to run PReLU then 2×2 max pooling (stride 2, 'valid')
 * in one pass, and its gradient in another (the onednn backend does): inputs x [N,H,W,C] and a
 * channel-wise alpha [C]; PRELU_MAX_POOL_GRAD also takes dy and gives [dx, dAlpha]. Their values
 * are the ones tf.prelu then tf.maxPool give.
 */
export const PRELU_MAX_POOL = 'LineaPreluMaxPool';
export const PRELU_MAX_POOL_GRAD = 'LineaPreluMaxPoolGrad';

export function preluMaxPool(x: tf.Tensor4D, alpha: tf.Tensor): tf.Tensor4D {
  if (!fusable(PRELU_MAX_POOL, x, alpha)) return tf.maxPool(tf.prelu(x, alpha as tf.Tensor4D), 2, 2, 'valid');
  return fusedPrelu(PRELU_MAX_POOL, PRELU_MAX_POOL_GRAD, x, alpha) as tf.Tensor4D;
}

/**
 * Likewise PReLU then the mean over each image's positions (global average pooling): inputs x
 * [N,H,W,C] and alpha [C], output [N,C]; PRELU_MEAN_GRAD also takes dy [N,C] and gives [dx, dAlpha].
 */
export const PRELU_MEAN = 'LineaPreluMean';
export const PRELU_MEAN_GRAD = 'LineaPreluMeanGrad';

export function preluMean(x: tf.Tensor4D, alpha: tf.Tensor): tf.Tensor2D {
  if (!fusable(PRELU_MEAN, x, alpha)) return tf.mean(tf.prelu(x, alpha as tf.Tensor4D), [1, 2]) as tf.Tensor2D;
  return fusedPrelu(PRELU_MEAN, PRELU_MEAN_GRAD, x, alpha) as tf.Tensor2D;
}

/** Whether the backend has the fused kernel and α is what it takes: float32, one per channel ([C]). */
function fusable(kernel: string, x: tf.Tensor4D, alpha: tf.Tensor): boolean {
  const channelWise = alpha.rank === 1 && alpha.size === x.shape[3];
  return channelWise && x.dtype === 'float32' && alpha.dtype === 'float32' && !!tf.getKernel(kernel, tf.getBackend());
}

/** A fused PReLU op: its kernel forward, its gradient kernel (giving [dx, dAlpha]) backward. */
function fusedPrelu(kernel: string, gradient: string, x: tf.Tensor, alpha: tf.Tensor): tf.Tensor {
  return tf.customGrad((xv, av, save) => {
    (save as tf.GradSaveFunc)([xv as tf.Tensor, av as tf.Tensor]);
    return {
      value: tf.engine().runKernel(kernel, { x: xv as tf.Tensor, alpha: av as tf.Tensor }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(gradient, { dy, x: saved[0]!, alpha: saved[1]! }) as tf.Tensor[],
    };
  })(x, alpha);
}

/** A 'same' convolution's filter and bias gradients: one CONV_PARAM_GRADIENTS call where registered. */
export function convParamGradients(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  stride: number,
): [tf.Tensor4D, tf.Tensor1D] {
  if (!tf.getKernel(CONV_PARAM_GRADIENTS, tf.getBackend()))
    return [filterGradientOf(x, dy, filterShape, stride), tf.sum(dy, [0, 1, 2])];
  const attrs: ConvParamGradientsAttrs = { strides: stride, pad: 'same', filterShape };
  const [dw, db] = tf.engine().runKernel(CONV_PARAM_GRADIENTS, { x, dy }, { ...attrs }) as tf.Tensor[];
  return [dw as tf.Tensor4D, db as tf.Tensor1D];
}

/**
 * A 'same' convolution (+ bias) with its own gradient, for two savings over tfjs's fused
 * convolution: the filter and bias gradients come from one kernel where the backend has one
 * (CONV_PARAM_GRADIENTS), and on the input batch (`dataGradient: false`) the gradient with
 * respect to the data, which training never needs, is zeros instead of a backward-data
 * convolution (a few % of a step).
 */
function convWithBias(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  bias: tf.Tensor | undefined,
  stride: number,
  o: { dataGradient: boolean },
): tf.Tensor4D {
  const forward = (xv: tf.Tensor4D, wv: tf.Tensor4D, bv?: tf.Tensor) =>
    tf.fused.conv2d({ x: xv, filter: wv, strides: stride, pad: 'same', ...(bv ? { bias: bv } : {}) });
  const dataGradient = (xv: tf.Tensor4D, wv: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D =>
    o.dataGradient
      ? (tf
          .engine()
          .runKernel(
            tf.Conv2DBackpropInput,
            { dy, filter: wv },
            { strides: stride, pad: 'same', dataFormat: 'NHWC', inputShape: xv.shape },
          ) as tf.Tensor4D)
      : tf.zerosLike(xv);
  if (bias) {
    return tf.customGrad((xv, wv, bv, save) => {
      (save as tf.GradSaveFunc)([xv as tf.Tensor4D, wv as tf.Tensor4D]);
      return {
        value: forward(xv as tf.Tensor4D, wv as tf.Tensor4D, bv as tf.Tensor),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          dataGradient(saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, dy as tf.Tensor4D),
          ...convParamGradients(saved[0] as tf.Tensor4D, dy as tf.Tensor4D, w.shape, stride),
        ],
      };
    })(x, w, bias) as tf.Tensor4D;
  }
  return tf.customGrad((xv, wv, save) => {
    (save as tf.GradSaveFunc)([xv as tf.Tensor4D, wv as tf.Tensor4D]);
    return {
      value: forward(xv as tf.Tensor4D, wv as tf.Tensor4D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        dataGradient(saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, dy as tf.Tensor4D),
        filterGradientOf(saved[0] as tf.Tensor4D, dy as tf.Tensor4D, w.shape, stride),
      ],
    };
  })(x, w) as tf.Tensor4D;
}

function seq(items: Structure[]): Structure {
  return items.length === 1 ? items[0]! : { kind: 'seq', items };
}

/** Batch norm's ε and the moving averages' momentum, PyTorch's (native/cnn-step.ts uses them too). */
export const BN_EPSILON = 1e-5;
export const BN_MOMENTUM = 0.1;

export type InitScheme = 'he' | 'lecun' | 'glorot';

export function fanInit(scheme: InitScheme, fanIn: number, fanOut: number): Init {
  switch (scheme) {
    case 'he':
      return { kind: 'normal', std: Math.sqrt(2 / fanIn) };
    case 'lecun':
      return { kind: 'normal', std: Math.sqrt(1 / fanIn) };
    case 'glorot':
      return { kind: 'normal', std: Math.sqrt(2 / (fanIn + fanOut)) };
  }
}

export function initialValues(spec: ParamSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.init.kind) {
    case 'zeros':
      return new Float32Array(size);
    case 'ones':
      return new Float32Array(size).fill(1);
    case 'constant':
      return new Float32Array(size).fill(spec.init.value);
    case 'normal':
      return normalArray(mulberry32(deriveSeed(seed, spec.name)), size, spec.init.std);
  }
}

/** An architecture: its config schema lives with it; this is what a model needs to run it. */
export interface Architecture<C> {
  inputShape(config: C): number[];
  outputs(config: C): number;
  forward(config: C, layers: Layers, x: tf.Tensor): tf.Tensor;
}

let modelCounter = 0;

/** Parameter counts: `trainable` is what papers report; `state` is batch-norm running statistics. */
export interface ParamCount {
  readonly trainable: number;
  readonly state: number;
  readonly byRole: Readonly<Partial<Record<ParamRole, number>>>;
}

/**
 * A built model: config, variables, activation sites and structure. Construction runs the
 * architecture once on a zero input to declare everything; afterwards the set of variables is
 * fixed, and a forward pass that asks for an undeclared one is a bug reported as such.
 */
export class Model<C = unknown> {
  readonly specs: ParamSpec[] = [];
  readonly sites: ActivationSite[] = [];
  readonly structure: Structure;
  private readonly vars = new Map<string, tf.Variable>();
  private readonly siteById = new Map<string, ActivationSite>();
  private building = true;
  private readonly prefix = `model${++modelCounter}:`;

  constructor(
    readonly config: C,
    private readonly architecture: Architecture<C>,
    readonly seed: number,
  ) {
    const registry = {
      variable: (spec: ParamSpec) => this.variable(spec),
      declareSite: (site: Omit<ActivationSite, 'index'>) => this.declareSite(site),
    };
    const layers = new Layers(registry, { training: false }, true);
    tf.tidy(() => {
      architecture.forward(config, layers, tf.zeros([1, ...architecture.inputShape(config)]));
    });
    this.structure = layers.structure();
    this.building = false;
  }

  get inputShape(): number[] {
    return this.architecture.inputShape(this.config);
  }

  get outputs(): number {
    return this.architecture.outputs(this.config);
  }

  private variable(spec: ParamSpec): tf.Variable {
    const existing = this.vars.get(spec.name);
    if (existing) return existing;
    if (!this.building)
      throw new Error(`model bug: parameter '${spec.name}' was not declared when the model was built`);
    this.specs.push(spec);
    // tfjs variable names are global to the engine, so each model gets its own prefix.
    const v = tf.variable(
      tf.tensor(initialValues(spec, this.seed), [...spec.shape]),
      spec.trainable,
      `${this.prefix}${spec.name}`,
    );
    this.vars.set(spec.name, v);
    return v;
  }

  private declareSite(site: Omit<ActivationSite, 'index'>): ActivationSite {
    const existing = this.siteById.get(site.id);
    if (existing) return existing;
    if (!this.building)
      throw new Error(`model bug: activation site '${site.id}' was not declared when the model was built`);
    const declared: ActivationSite = { ...site, index: this.sites.length };
    this.sites.push(declared);
    this.siteById.set(site.id, declared);
    return declared;
  }

  /**
   * Logits (or outputs) for a batch. With `training`, batch-norm statistics updates are returned
   * as kept tensors for `commitUpdates` (only after the step succeeds), else there are none.
   */
  forward(x: tf.Tensor, options: ForwardOptions = {}): { output: tf.Tensor; updates: StateUpdate[] } {
    const layers = new Layers(
      { variable: (s) => this.variable(s), declareSite: (s) => this.declareSite(s) },
      options,
      false,
    );
    layers.input = x;
    const output = this.architecture.forward(this.config, layers, x);
    return { output, updates: layers.updates };
  }

  /** Inference: logits in eval mode. */
  predict(x: tf.Tensor, options: Omit<ForwardOptions, 'training'> = {}): tf.Tensor {
    return this.forward(x, { ...options, training: false }).output;
  }

  commitUpdates(updates: readonly StateUpdate[]): void {
    for (const u of updates) {
      this.get(u.name).assign(u.value);
      u.value.dispose();
    }
  }

  /** A parameter checked to have the given rank (e.g. `getRank(name, 2)` for a dense kernel). */
  getRank<R extends 1 | 2 | 4>(
    name: string,
    rank: R,
  ): R extends 1 ? tf.Tensor1D : R extends 2 ? tf.Tensor2D : tf.Tensor4D {
    const v = this.get(name);
    if (v.rank !== rank) throw new Error(`parameter '${name}' has rank ${v.rank}, expected ${rank}`);
    return v as tf.Tensor as R extends 1 ? tf.Tensor1D : R extends 2 ? tf.Tensor2D : tf.Tensor4D;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`model has no parameter '${name}'`);
    return v;
  }

  site(id: string): ActivationSite {
    const s = this.siteById.get(id);
    if (!s) throw new Error(`model has no activation site '${id}' (sites: ${this.sites.map((x) => x.id).join(', ')})`);
    return s;
  }

  trainableVariables(): tf.Variable[] {
    return this.specs.filter((s) => s.trainable).map((s) => this.get(s.name));
  }

  roleOf(name: string): ParamRole {
    const spec = this.specs.find((s) => s.name === name);
    if (!spec) throw new Error(`model has no parameter '${name}'`);
    return spec.role;
  }

  paramCount(): ParamCount {
    const byRole: Partial<Record<ParamRole, number>> = {};
    let trainable = 0;
    let state = 0;
    for (const spec of this.specs) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      byRole[spec.role] = (byRole[spec.role] ?? 0) + n;
      if (spec.trainable) trainable += n;
      else state += n;
    }
    return { trainable, state, byRole };
  }

  /** Keep every PReLU α in [0, 1]: 0 is ReLU, 1 is the identity. */
  clampAlphas(): void {
    for (const spec of this.specs) {
      if (spec.role !== 'alpha') continue;
      const v = this.get(spec.name);
      tf.tidy(() => v.assign(tf.clipByValue(v, 0, 1)));
    }
  }

  /** A snapshot of every variable (copies; the caller disposes them). */
  weights(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const spec of this.specs) out[spec.name] = tf.clone(this.get(spec.name));
    return out;
  }

  /** Assign weights by name; every variable must be present with its shape. */
  setWeights(weights: tf.NamedTensorMap): void {
    for (const spec of this.specs) {
      const value = weights[spec.name];
      if (!value) throw new Error(`weights lack '${spec.name}'`);
      if (value.shape.join('x') !== spec.shape.join('x')) {
        throw new Error(`weight '${spec.name}' has shape [${value.shape}] but the model expects [${spec.shape}]`);
      }
      this.get(spec.name).assign(value);
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
