/**
 * The `onednn` backend: tfjs's cpu backend (same data layout: plain TypedArrays, same kernels for
 * everything else) with the kernels a training step spends its time in replaced by native code
 * from native/onednn (oneDNN convolutions and sgemm, OpenMP pooling and PReLU loops).
 *
 * The addon is built at `npm ci` when libdnnl-dev and a compiler are present; otherwise `load`
 * throws with the reason build/status.json recorded, and selection falls back to wasm.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '../tf.ts';
import { requireTf } from '../tf.ts';
import type { backend_util } from '@tensorflow/tfjs-core';
import type {
  BackendValues,
  DataId,
  DataType,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { attrsAs } from '../kernel-attrs.ts';
import { BufferPool } from './buffer-pool.ts';
import {
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  type BatchNormTrainAttrs,
  CONV_PARAM_GRADIENTS,
  type ConvParamGradientsAttrs,
  PRELU_MAX_POOL,
  PRELU_MAX_POOL_GRAD,
  PRELU_MEAN,
  PRELU_MEAN_GRAD,
} from '../model.ts';
import { SGD_MOMENTUM, type SgdMomentumAttrs } from '../optimizers.ts';

type Shape4 = [number, number, number, number];

export interface OnednnAddon {
  conv2dForward(
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    out: Float32Array,
    xShape: Shape4,
    wShape: Shape4,
    outShape: Shape4,
    strides: number[],
    pads: number[],
    dilations: number[],
  ): void;
  conv2dBackwardData(
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
    dxShape: Shape4,
    wShape: Shape4,
    dyShape: Shape4,
    strides: number[],
    pads: number[],
    dilations: number[],
  ): void;
  conv2dBackwardWeights(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    xShape: Shape4,
    wShape: Shape4,
    dyShape: Shape4,
    strides: number[],
    pads: number[],
    dilations: number[],
    /** The bias's gradient too (Σ dy per output channel), in the same pass over dy. */
    db?: Float32Array,
  ): void;
  matMul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    m: number,
    k: number,
    n: number,
    transposeA: boolean,
    transposeB: boolean,
    aStride: number,
    bStride: number,
  ): void;
  maxPool(x: Float32Array, y: Float32Array, ...geometry: number[]): void;
  maxPoolBackward(dy: Float32Array, x: Float32Array, dx: Float32Array, ...geometry: number[]): void;
  preluMaxPool(x: Float32Array, alpha: Float32Array, y: Float32Array, ...geometry: number[]): void;
  preluMaxPoolBackward(
    dy: Float32Array,
    x: Float32Array,
    alpha: Float32Array,
    dx: Float32Array,
    dalpha: Float32Array,
    ...geometry: number[]
  ): void;
  preluMean(x: Float32Array, alpha: Float32Array, y: Float32Array, n: number, hw: number, c: number): void;
  preluMeanBackward(
    dy: Float32Array,
    x: Float32Array,
    alpha: Float32Array,
    dx: Float32Array,
    dalpha: Float32Array,
    n: number,
    hw: number,
    c: number,
  ): void;
  avgPool(x: Float32Array, y: Float32Array, ...geometry: number[]): void;
  avgPoolBackward(dy: Float32Array, dx: Float32Array, ...geometry: number[]): void;
  prelu(x: Float32Array, alpha: Float32Array, y: Float32Array, channels: number): void;
  preluBackward(
    dy: Float32Array,
    x: Float32Array,
    alpha: Float32Array,
    dx: Float32Array,
    dalpha: Float32Array,
    channels: number,
  ): void;
  unary(op: number, x: Float32Array, y: Float32Array): void;
  binary(
    op: number,
    a: Float32Array,
    aStrides: number[],
    b: Float32Array,
    bStrides: number[],
    out: Float32Array,
    outShape: number[],
  ): void;
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    out: Float32Array,
    channels: number,
    epsilon: number,
  ): void;
  batchNormTrain(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    movingMean: Float32Array,
    movingVar: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    nextMean: Float32Array,
    nextVar: Float32Array,
    channels: number,
    epsilon: number,
    keep: number,
    meanWeight: number,
    varWeight: number,
  ): void;
  batchNormTrainBackward(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    channels: number,
  ): void;
  biasActivation(y: Float32Array, bias: Float32Array | null, channels: number, relu: boolean): void;
  reduceSum(x: Float32Array, out: Float32Array, outer: number, r: number, inner: number, scale: number): void;
  sgdMomentum(
    w: Float32Array,
    g: Float32Array,
    buf: Float32Array,
    wOut: Float32Array,
    bufOut: Float32Array,
    lr: number,
    momentum: number,
    decay: number,
    nesterov: boolean,
    first: boolean,
  ): void;
  /** sgdMomentum of every parameter in one call, into w and buf themselves (OnednnBackend.sgdInPlace). */
  sgdMomentumInPlace(
    ws: readonly Float32Array[],
    gs: readonly Float32Array[],
    bufs: readonly Float32Array[],
    decays: readonly number[],
    lr: number,
    momentum: number,
    nesterov: boolean,
    first: boolean,
  ): void;
  setThreads(n: number): void;
  threads(): number;
  version(): string;
  /** A plain CNN's whole training step (native/onednn/src/cnn_step.cc; src/models/native/cnn-step.ts). */
  CnnStep: new (
    config: CnnStepConfig,
  ) => NativeCnnStep;
}

/** nativeCalls' name for parameters updated in place (OnednnBackend.sgdInPlace), counted one by one. */
export const SGD_IN_PLACE = 'LineaSgdInPlace';

/** nativeCalls' name for a whole fused training step (OnednnBackend.cnnStep). */
export const CNN_STEP = 'LineaCnnStep';

/** The network a CnnStep trains: 3×3 'same' convolutions, then a GAP (or flatten) and a dense head. */
export interface CnnStepConfig {
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly channels: readonly number[];
  /** Per layer: followed by 2×2 pooling (stride 2, 'valid'). */
  readonly pool: readonly boolean[];
  readonly maxPool: boolean;
  readonly batchNorm: boolean;
  /** The head reads the last layer's output flattened instead of its global average. */
  readonly flatten: boolean;
  /** 0 identity, 1 ReLU, 2 channel-wise PReLU. */
  readonly activation: 0 | 1 | 2;
  readonly classes: number;
  readonly epsilon: number;
  readonly momentum: number;
}

export interface NativeCnnStep {
  /**
   * One step on a batch of n: params in the order cnn_step.cc documents, gradients written into
   * `grads` (same order, without the moving statistics), each batch norm's new moving mean and
   * variance into `stats`, and [task loss, hits] into `result`.
   */
  run(
    n: number,
    x: Float32Array,
    labels: Int32Array,
    params: readonly Float32Array[],
    grads: readonly Float32Array[],
    stats: readonly Float32Array[],
    result: Float64Array,
  ): void;
  /**
   * Each layer's convolution kernels in the plan for batches of n (after a run on one), as
   * oneDNN names them, forward / weight gradient: `jit_wino_4x3:avx512_core` where the layer
   * runs Winograd (common.h, winograd_wanted).
   */
  kernels(n: number): string[];
}

const BUILD = fileURLToPath(new URL('../../../native/onednn/build/', import.meta.url));
const require = createRequire(import.meta.url);

let addon: OnednnAddon | undefined;

/** The addon, or an Error saying why it is not available. */
export function loadOnednnAddon(): OnednnAddon {
  if (addon) return addon;
  if (process.env.LINEA_ONEDNN === '0') throw new Error('disabled by LINEA_ONEDNN=0');
  const binary = `${BUILD}Release/linea_onednn.node`;
  if (!existsSync(binary)) {
    const status = `${BUILD}status.json`;
    const reason = existsSync(status)
      ? (JSON.parse(readFileSync(status, 'utf8')) as { reason: string }).reason
      : 'the native addon was never built (run `npm run build:native`)';
    throw new Error(reason);
  }
  addon = require(binary) as OnednnAddon;
  addon.setThreads(threadCount(process.env));
  return addon;
}

/**
 * Threads for the native kernels: $LINEA_THREADS, else $OMP_NUM_THREADS (a pool worker's share of
 * the CPUs, or the user's) within the CPUs a Slurm job was given, else those
 * ($SLURM_CPUS_PER_TASK, else $SLURM_CPUS_ON_NODE), else every CPU this process may use. A job
 * of one CPU on a shared node must not run a thread per core beside the node's other jobs: two
 * jobs of the default pipeline on this 2-core machine, each running 2 threads, took 1.32× the
 * in-process time.
 */
export function threadCount(env: NodeJS.ProcessEnv): number {
  if (env.LINEA_THREADS !== undefined) {
    const threads = Number(env.LINEA_THREADS);
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`LINEA_THREADS=${env.LINEA_THREADS}: expected a whole number ≥ 1`);
    return threads;
  }
  let cpus = availableParallelism();
  for (const given of [env.SLURM_CPUS_PER_TASK, env.SLURM_CPUS_ON_NODE]) {
    const allocated = Number(given);
    if (given !== undefined && Number.isInteger(allocated) && allocated >= 1) {
      cpus = Math.min(allocated, cpus);
      break;
    }
  }
  // A pool worker's share (src/engine/execute/pool.ts), or what the user set for OpenMP: within
  // what the job was given.
  const omp = Number(env.OMP_NUM_THREADS);
  return env.OMP_NUM_THREADS !== undefined && Number.isInteger(omp) && omp >= 1 ? Math.min(omp, cpus) : cpus;
}

/**
 * The native kernels' output buffers (buffer-pool.ts): reused as soon as tfjs drops a tensor,
 * instead of waiting for V8's garbage collector. 1 GiB at most is kept free, enough for the
 * largest step here (cifar-small at batch 128 allocates about 250 MB).
 */
const pool = new BufferPool(2 ** 30);

/** An output buffer for a kernel that writes every element (contents undefined). */
function uninitialized(n: number): Float32Array {
  return pool.take(n);
}

// Required, not imported: tf.ts says why.
const { MathBackendCPU } = requireTf('@tensorflow/tfjs-backend-cpu') as typeof import('@tensorflow/tfjs-backend-cpu');

export class OnednnBackend extends MathBackendCPU {
  constructor() {
    super();
    // MathBackendCPU greets Node users with advice to install tfjs-node on first use; not wanted here.
    Object.assign(this, { firstUse: false });
  }

  // Every way values come to be held under a dataId, handed out, or dropped goes past the pool.
  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = super.write(values, shape, dtype);
    pool.retain(values);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    super.move(dataId, values, shape, dtype, refCount);
    pool.retain(values);
  }

  override readSync(dataId: DataId): BackendValues {
    if (this.data.has(dataId)) pool.expose(this.data.get(dataId).values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) pool.release(values);
    return released;
  }

  override dispose(): void {
    super.dispose();
    pool.clear();
  }

  /** The backing Float32Array of a float32 tensor (no copy). */
  f32(t: TensorInfo): Float32Array | undefined {
    if (t.dtype !== 'float32') return undefined;
    const values = this.data.get(t.dataId).values;
    return values instanceof Float32Array ? values : undefined;
  }

  /** The backing Int32Array of an int32 tensor (no copy). */
  i32(t: TensorInfo): Int32Array | undefined {
    if (t.dtype !== 'int32') return undefined;
    const values = this.data.get(t.dataId).values;
    return values instanceof Int32Array ? values : undefined;
  }

  /**
   * The backing Float32Array of a float32 tensor if it may be written in place: no other tensor
   * or caller can see it (it came from the pool, one tensor holds it, its dataId has one
   * reference (a clone shares it), and dataSync never handed it out: buffer-pool.ts).
   */
  mutable(t: TensorInfo): Float32Array | undefined {
    const values = this.f32(t);
    return values && this.data.get(t.dataId).refCount === 1 && pool.exclusive(values) ? values : undefined;
  }

  /** A pool buffer of n floats (contents undefined) for values a tensor will hold: written in place later where `mutable` allows. */
  take(n: number): Float32Array {
    return pool.take(n);
  }

  /**
   * SGD with momentum written into the parameters' and momentum buffers' own memory, in one
   * native call, for those that no other tensor or caller can see: the buffer came from the pool,
   * one tensor holds it, it was never handed out (buffer-pool.ts), and its dataId has one
   * reference (a clone shares it). Returns which it updated; the caller updates the others the
   * kernel's way, into new buffers. Saves a kernel call and two assigns per parameter per step.
   */
  sgdInPlace(
    items: readonly {
      readonly w: TensorInfo;
      readonly g: TensorInfo;
      readonly buf: TensorInfo;
      readonly decay: number;
    }[],
    attrs: Pick<SgdMomentumAttrs, 'lr' | 'momentum' | 'nesterov' | 'first'>,
  ): boolean[] {
    const ws: Float32Array[] = [];
    const gs: Float32Array[] = [];
    const bufs: Float32Array[] = [];
    const decays: number[] = [];
    const done = items.map(({ w, g, buf, decay }) => {
      const wv = this.mutable(w);
      const bv = this.mutable(buf);
      const gv = this.f32(g);
      if (!wv || !bv || !gv || w.dataId === buf.dataId) return false;
      ws.push(wv);
      gs.push(gv);
      bufs.push(bv);
      decays.push(decay);
      return true;
    });
    if (ws.length) {
      loadOnednnAddon().sgdMomentumInPlace(ws, gs, bufs, decays, attrs.lr, attrs.momentum, attrs.nesterov, attrs.first);
      nativeCalls.set(SGD_IN_PLACE, (nativeCalls.get(SGD_IN_PLACE) ?? 0) + ws.length);
    }
    return done;
  }

  /** A plain CNN's whole training step as one native call (cnn-step.ts), counted in nativeCalls as CNN_STEP. */
  cnnStep(config: CnnStepConfig): NativeCnnStep {
    const step = new (loadOnednnAddon().CnnStep)(config);
    return {
      run(...args) {
        step.run(...args);
        nativeCalls.set(CNN_STEP, (nativeCalls.get(CNN_STEP) ?? 0) + 1);
      },
      kernels: (n) => step.kernels(n),
    };
  }
}

type Args = { inputs: NamedTensorInfoMap; backend: OnednnBackend; attrs?: NamedAttrMap };

/**
 * tfjs types a kernel's arguments for any backend; these kernels are registered for the onednn
 * backend only, so tfjs calls them with an OnednnBackend, and each kernel's attrs are those of its
 * op (read with attrsAs). This is the one place the native kernels' functions are cast.
 */
function kernelFunc(f: (args: Args) => TensorInfo | TensorInfo[]): KernelFunc {
  // biome-ignore lint/plugin: tfjs passes an OnednnBackend to kernels registered for 'onednn' (see above)
  return f as unknown as KernelFunc;
}

function cpuKernel(name: string): KernelFunc {
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`tfjs cpu backend has no ${name} kernel`);
  return k.kernelFunc;
}

/** A native kernel that hands anything it does not handle (dtype, layout) to the cpu kernel. */
function native(
  name: string,
  impl: (args: Args, a: OnednnAddon) => TensorInfo | TensorInfo[] | undefined,
): KernelConfig {
  const fallback = cpuKernel(name);
  return {
    kernelName: name,
    backendName: 'onednn',
    kernelFunc: kernelFunc((args) => {
      const out = impl(args, loadOnednnAddon());
      if (out === undefined) return fallback(args);
      nativeCalls.set(name, (nativeCalls.get(name) ?? 0) + 1);
      return out;
    }),
  };
}

/** How often each kernel ran natively (rather than on the cpu fallback): for tests and profiling. */
export const nativeCalls = new Map<string, number>();

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function convGeometry(info: backend_util.Conv2DInfo) {
  const { padInfo: p } = info;
  return {
    strides: [info.strideHeight, info.strideWidth],
    pads: [p.top, p.left, p.bottom, p.right],
    dilations: [info.dilationHeight, info.dilationWidth],
    out: [info.batchSize, info.outHeight, info.outWidth, info.outChannels] as Shape4,
  };
}

function conv2DInfo(xShape: Shape4, filterShape: Shape4, at: ConvAttrs) {
  return convGeometry(
    tf.backend_util.computeConv2DInfo(
      xShape,
      filterShape,
      at.strides,
      at.dilations ?? 1,
      at.pad,
      at.dimRoundingMode,
      false,
      'channelsLast',
    ),
  );
}

/** Forward convolution, optionally adding a per-channel bias inside oneDNN. */
function convForward(
  backend: OnednnBackend,
  a: OnednnAddon,
  x: TensorInfo,
  filter: TensorInfo,
  at: ConvAttrs,
  bias: Float32Array | null,
): TensorInfo | undefined {
  const xv = backend.f32(x);
  const wv = backend.f32(filter);
  if (!xv || !wv || at.dataFormat === 'NCHW') return undefined;
  const g = conv2DInfo(x.shape as Shape4, filter.shape as Shape4, at);
  const out = uninitialized(g.out.reduce((p, q) => p * q, 1));
  a.conv2dForward(xv, wv, bias, out, x.shape as Shape4, filter.shape as Shape4, g.out, g.strides, g.pads, g.dilations);
  return backend.makeTensorInfo(g.out, 'float32', out);
}

const conv2D = native(tf.Conv2D, ({ inputs, backend, attrs }, a) => {
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  return convForward(backend, a, x, filter, attrsAs<ConvAttrs>(attrs), null);
});

/** Convolution with its bias added by oneDNN (tf.fused.conv2d without an activation). */
const fusedConv2D = native(tf.FusedConv2D, ({ inputs, backend, attrs }, a) => {
  const { x, filter, bias, preluActivationWeights } = inputs as {
    x: TensorInfo;
    filter: TensorInfo;
    bias?: TensorInfo;
    preluActivationWeights?: TensorInfo;
  };
  const at = attrsAs<ConvAttrs & { activation: string }>(attrs);
  const bv = bias ? backend.f32(bias) : null;
  if (bv === undefined || at.activation !== 'linear' || preluActivationWeights) return undefined;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== filter.shape[3])) return undefined;
  return convForward(backend, a, x, filter, at, bv);
});

const conv2DBackpropInput = native(tf.Conv2DBackpropInput, ({ inputs, backend, attrs }, a) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const at = attrsAs<ConvAttrs & { inputShape: Shape4 }>(attrs);
  const dyv = backend.f32(dy);
  const wv = backend.f32(filter);
  if (!dyv || !wv || at.dataFormat === 'NCHW') return undefined;
  const g = conv2DInfo(at.inputShape, filter.shape as Shape4, at);
  const dx = uninitialized(at.inputShape.reduce((p, q) => p * q, 1));
  a.conv2dBackwardData(dyv, wv, dx, at.inputShape, filter.shape as Shape4, g.out, g.strides, g.pads, g.dilations);
  return backend.makeTensorInfo(at.inputShape, 'float32', dx);
});

const conv2DBackpropFilter = native(tf.Conv2DBackpropFilter, ({ inputs, backend, attrs }, a) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const at = attrsAs<ConvAttrs & { filterShape: Shape4 }>(attrs);
  const xv = backend.f32(x);
  const dyv = backend.f32(dy);
  if (!xv || !dyv || at.dataFormat === 'NCHW') return undefined;
  const g = conv2DInfo(x.shape as Shape4, at.filterShape, at);
  const dw = uninitialized(at.filterShape.reduce((p, q) => p * q, 1));
  a.conv2dBackwardWeights(xv, dyv, dw, x.shape as Shape4, at.filterShape, g.out, g.strides, g.pads, g.dilations);
  return backend.makeTensorInfo(at.filterShape, 'float32', dw);
});

/** The filter's and the bias's gradients of a convolution in one native call (model.ts). */
const convParamGradients = {
  kernelName: CONV_PARAM_GRADIENTS,
  backendName: 'onednn',
  kernelFunc: kernelFunc(({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const at = attrsAs<ConvParamGradientsAttrs>(attrs);
    const xv = backend.f32(x);
    const dyv = backend.f32(dy);
    if (!xv || !dyv) throw new Error(`${CONV_PARAM_GRADIENTS}: x and dy must be float32`);
    const g = conv2DInfo(x.shape as Shape4, at.filterShape, { ...at, dataFormat: 'NHWC', dilations: 1 });
    const dw = uninitialized(at.filterShape.reduce((p, q) => p * q, 1));
    const db = uninitialized(at.filterShape[3]);
    const a = loadOnednnAddon();
    a.conv2dBackwardWeights(xv, dyv, dw, x.shape as Shape4, at.filterShape, g.out, g.strides, g.pads, g.dilations, db);
    nativeCalls.set(CONV_PARAM_GRADIENTS, (nativeCalls.get(CONV_PARAM_GRADIENTS) ?? 0) + 1);
    return [
      backend.makeTensorInfo(at.filterShape, 'float32', dw),
      backend.makeTensorInfo([at.filterShape[3]], 'float32', db),
    ];
  }),
} satisfies KernelConfig;

/** op(A)·op(B) over matching or broadcast (batch of one) leading dims, or undefined if unsupported. */
function matMulNative(
  backend: OnednnBackend,
  a: OnednnAddon,
  A: TensorInfo,
  B: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): { out: Float32Array; shape: number[] } | undefined {
  const av = backend.f32(A);
  const bv = backend.f32(B);
  if (!av || !bv || A.shape.length < 2 || B.shape.length < 2) return undefined;
  const prod = (d: number[]) => d.reduce((p, q) => p * q, 1);
  const batchA = A.shape.slice(0, -2);
  const batchB = B.shape.slice(0, -2);
  const ba = prod(batchA);
  const bb = prod(batchB);
  if (ba !== bb && ba !== 1 && bb !== 1) return undefined;
  if (ba === bb && batchA.length && batchB.length && batchA.join() !== batchB.join()) return undefined;
  const [a1, a2] = A.shape.slice(-2) as [number, number];
  const [b1, b2] = B.shape.slice(-2) as [number, number];
  const batch = Math.max(ba, bb);
  const m = transposeA ? a2 : a1;
  const k = transposeA ? a1 : a2;
  const n = transposeB ? b1 : b2;
  if ((transposeB ? b2 : b1) !== k) return undefined;
  const out = uninitialized(batch * m * n);
  a.matMul(av, bv, out, batch, m, k, n, transposeA, transposeB, ba === 1 ? 0 : a1 * a2, bb === 1 ? 0 : b1 * b2);
  return { out, shape: [...tf.backend_util.assertAndGetBroadcastShape(batchA, batchB), m, n] };
}

const batchMatMul = native(tf.BatchMatMul, ({ inputs, backend, attrs }, a) => {
  const { a: A, b: B } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrsAs<{ transposeA: boolean; transposeB: boolean }>(attrs);
  const r = matMulNative(backend, a, A, B, transposeA, transposeB);
  return r && backend.makeTensorInfo(r.shape, 'float32', r.out);
});

/** Matmul with bias and ReLU (or no activation) applied in one extra pass (tf.fused.matMul). */
const fusedMatMul = native(tf._FusedMatMul, ({ inputs, backend, attrs }, a) => {
  const {
    a: A,
    b: B,
    bias,
    preluActivationWeights,
  } = inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const { transposeA, transposeB, activation } = attrsAs<{
    transposeA: boolean;
    transposeB: boolean;
    activation: string;
  }>(attrs);
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return undefined;
  const bv = bias ? backend.f32(bias) : null;
  if (bv === undefined) return undefined;
  const r = matMulNative(backend, a, A, B, transposeA, transposeB);
  if (!r) return undefined;
  const n = r.shape.at(-1)!;
  if (bv && bv.length !== n) return undefined;
  a.biasActivation(r.out, bv, n, activation === 'relu');
  return backend.makeTensorInfo(r.shape, 'float32', r.out);
});

/** Batch normalisation with given statistics (tf.batchNorm), per last-axis channel. */
const fusedBatchNorm = native(tf.FusedBatchNorm, ({ inputs, backend, attrs }, a) => {
  const { x, mean, variance, offset, scale } = inputs as {
    x: TensorInfo;
    mean: TensorInfo;
    variance: TensorInfo;
    offset?: TensorInfo;
    scale?: TensorInfo;
  };
  const { varianceEpsilon } = attrsAs<{ varianceEpsilon: number }>(attrs);
  const c = x.shape.at(-1)!;
  const vec = (t: TensorInfo | undefined) => (t ? backend.f32(t) : null);
  const [xv, mv, vv, ov, sv] = [backend.f32(x), vec(mean), vec(variance), vec(offset), vec(scale)];
  if (!xv || !mv || !vv || ov === undefined || sv === undefined) return undefined;
  if ([mv, vv, ov, sv].some((v) => v !== null && v.length !== c)) return undefined;
  const out = uninitialized(xv.length);
  a.batchNorm(xv, mv, vv, ov, sv, out, c, varianceEpsilon);
  return backend.makeTensorInfo(x.shape, 'float32', out);
});

/** The float32 arrays behind `names` of a kernel's inputs, or an error naming the kernel. */
function f32Inputs<K extends string>(
  kernelName: string,
  backend: OnednnBackend,
  inputs: NamedTensorInfoMap,
  names: readonly K[],
): Record<K, Float32Array> {
  const out = {} as Record<K, Float32Array>;
  for (const name of names) {
    const t = inputs[name];
    const v = t ? backend.f32(t) : undefined;
    if (!v) throw new Error(`${kernelName}: input ${name} must be a float32 tensor`);
    out[name] = v;
  }
  return out;
}

/** A training step's batch norm, moving averages included, in one native call (model.ts). */
const batchNormTrain = {
  kernelName: BATCH_NORM_TRAIN,
  backendName: 'onednn',
  kernelFunc: kernelFunc(({ inputs, backend, attrs }) => {
    const v = f32Inputs(BATCH_NORM_TRAIN, backend, inputs, ['x', 'gamma', 'beta', 'movingMean', 'movingVar']);
    const { epsilon, keep, meanWeight, varWeight } = attrsAs<BatchNormTrainAttrs>(attrs);
    const shape = inputs.x!.shape;
    const c = shape.at(-1)!;
    if ([v.gamma, v.beta, v.movingMean, v.movingVar].some((p) => p.length !== c))
      throw new Error(
        `${BATCH_NORM_TRAIN}: gamma, beta and the moving statistics must have one value per channel (${c})`,
      );
    const y = uninitialized(v.x.length);
    const [mean, rstd, nextMean, nextVar] = [0, 1, 2, 3].map(() => uninitialized(c)) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    loadOnednnAddon().batchNormTrain(
      v.x,
      v.gamma,
      v.beta,
      v.movingMean,
      v.movingVar,
      y,
      mean,
      rstd,
      nextMean,
      nextVar,
      c,
      epsilon,
      keep,
      meanWeight,
      varWeight,
    );
    nativeCalls.set(BATCH_NORM_TRAIN, (nativeCalls.get(BATCH_NORM_TRAIN) ?? 0) + 1);
    return [
      backend.makeTensorInfo(shape, 'float32', y),
      ...[mean, rstd, nextMean, nextVar].map((values) => backend.makeTensorInfo([c], 'float32', values)),
    ];
  }),
} satisfies KernelConfig;

/** Its gradient: [dx, dγ, dβ] in two native passes. */
const batchNormTrainGrad = {
  kernelName: BATCH_NORM_TRAIN_GRAD,
  backendName: 'onednn',
  kernelFunc: kernelFunc(({ inputs, backend }) => {
    const v = f32Inputs(BATCH_NORM_TRAIN_GRAD, backend, inputs, ['dy', 'x', 'gamma', 'mean', 'rstd']);
    const shape = inputs.x!.shape;
    const c = shape.at(-1)!;
    const dx = uninitialized(v.x.length);
    const dgamma = uninitialized(c);
    const dbeta = uninitialized(c);
    loadOnednnAddon().batchNormTrainBackward(v.dy, v.x, v.gamma, v.mean, v.rstd, dx, dgamma, dbeta, c);
    nativeCalls.set(BATCH_NORM_TRAIN_GRAD, (nativeCalls.get(BATCH_NORM_TRAIN_GRAD) ?? 0) + 1);
    return [
      backend.makeTensorInfo(shape, 'float32', dx),
      backend.makeTensorInfo([c], 'float32', dgamma),
      backend.makeTensorInfo([c], 'float32', dbeta),
    ];
  }),
} satisfies KernelConfig;

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolGeometry(shape: Shape4, at: PoolAttrs) {
  const info = tf.backend_util.computePool2DInfo(shape, at.filterSize, at.strides, 1, at.pad, at.dimRoundingMode);
  const geometry = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
  return { info, geometry };
}

/** A pooling forward kernel: the output geometry from tfjs, the loop from the addon. */
const poolForward = (
  name: string,
  pool: (a: OnednnAddon, x: Float32Array, y: Float32Array, geometry: number[]) => void,
) =>
  native(name, ({ inputs, backend, attrs }, a) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = backend.f32(x);
    if (!xv || x.shape.length !== 4) return undefined;
    const { info, geometry } = poolGeometry(x.shape as Shape4, attrsAs<PoolAttrs>(attrs));
    const shape: Shape4 = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    const y = uninitialized(shape.reduce((p, q) => p * q, 1));
    pool(a, xv, y, geometry);
    return backend.makeTensorInfo(shape, 'float32', y);
  });

const maxPool = poolForward(tf.MaxPool, (a, x, y, geometry) => a.maxPool(x, y, ...geometry));
const avgPool = poolForward(tf.AvgPool, (a, x, y, geometry) => a.avgPool(x, y, ...geometry));

const maxPoolGrad = native(tf.MaxPoolGrad, ({ inputs, backend, attrs }, a) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const dyv = backend.f32(dy);
  const xv = backend.f32(input);
  if (!dyv || !xv) return undefined;
  const { geometry } = poolGeometry(input.shape as Shape4, attrsAs<PoolAttrs>(attrs));
  const dx = uninitialized(xv.length); // cleared by the kernel, image by image
  a.maxPoolBackward(dyv, xv, dx, ...geometry);
  return backend.makeTensorInfo(input.shape, 'float32', dx);
});

const avgPoolGrad = native(tf.AvgPoolGrad, ({ inputs, backend, attrs }, a) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const dyv = backend.f32(dy);
  if (!dyv || input.shape.length !== 4) return undefined;
  const { geometry } = poolGeometry(input.shape as Shape4, attrsAs<PoolAttrs>(attrs));
  const dx = uninitialized(input.shape.reduce((p, q) => p * q, 1)); // cleared by the kernel, image by image
  a.avgPoolBackward(dyv, dx, ...geometry);
  return backend.makeTensorInfo(input.shape, 'float32', dx);
});

/** Strides of `shape` (row-major) over the dims of `out`, 0 where it broadcasts. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1, j = out.length - 1; i >= 0; i--, j--) {
    strides[j] = shape[i] === 1 && out[j] !== 1 ? 0 : stride;
    stride *= shape[i]!;
  }
  return strides;
}

/** Elementwise tanh (op 0) or square (op 1). */
function unary(name: string, op: number): KernelConfig {
  return native(name, ({ inputs, backend }, a) => {
    const { x } = inputs as { x: TensorInfo };
    const xv = backend.f32(x);
    if (!xv || xv.length === 0) return undefined;
    const y = uninitialized(xv.length);
    a.unary(op, xv, y);
    return backend.makeTensorInfo(x.shape, 'float32', y);
  });
}

function binary(name: string, op: number): KernelConfig {
  return native(name, ({ inputs, backend }, a) => {
    const { a: A, b: B } = inputs as { a: TensorInfo; b: TensorInfo };
    const av = backend.f32(A);
    const bv = backend.f32(B);
    if (!av || !bv) return undefined;
    const shape = tf.backend_util.assertAndGetBroadcastShape(A.shape, B.shape);
    if (shape.length === 0) return undefined; // scalar ⊕ scalar: not worth a native call
    const out = uninitialized(shape.reduce((p, q) => p * q, 1));
    if (out.length === 0) return undefined;
    a.binary(op, av, broadcastStrides(A.shape, shape), bv, broadcastStrides(B.shape, shape), out, shape);
    return backend.makeTensorInfo(shape, 'float32', out);
  });
}

/**
 * Zeros shaped like x. tfjs's cpu kernel fills a fresh array element by element (1.8 ms of a
 * reference step, for the data gradient training discards); a recycled buffer cleared with
 * TypedArray.fill is a memset.
 */
const zerosLike = native(tf.ZerosLike, ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return undefined;
  const out = uninitialized(x.shape.reduce((p, q) => p * q, 1)).fill(0);
  return backend.makeTensorInfo(x.shape, 'float32', out);
});

/** Sum or mean over a contiguous run of axes, as [outer, reduced, inner] → [outer, inner]. */
function reduction(name: string, mean: boolean): KernelConfig {
  return native(name, ({ inputs, backend, attrs }, a) => {
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrsAs<{ axis: number | number[]; keepDims: boolean }>(attrs);
    const xv = backend.f32(x);
    if (!xv || x.shape.length === 0) return undefined;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((v, i) => i > 0 && v !== axes[i - 1]! + 1)) return undefined;
    const first = axes[0]!;
    const last = axes.at(-1)!;
    const prod = (d: number[]) => d.reduce((p, q) => p * q, 1);
    const outer = prod(x.shape.slice(0, first));
    const r = prod(x.shape.slice(first, last + 1));
    const inner = prod(x.shape.slice(last + 1));
    if (r === 0) return undefined;
    const out = uninitialized(outer * inner);
    a.reduceSum(xv, out, outer, r, inner, mean ? 1 / r : 1);
    const shape = keepDims
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    return backend.makeTensorInfo(shape, 'float32', out);
  });
}

/** Channel-wise α: one value per last-axis channel (the layout linea's PReLU sites use). */
function channelAlpha(x: TensorInfo, alpha: TensorInfo): number | undefined {
  const c = x.shape.at(-1)!;
  const size = alpha.shape.reduce((p, q) => p * q, 1);
  const trailing = alpha.shape.slice(0, -1).every((d) => d === 1);
  return size === c && alpha.shape.at(-1) === c && trailing ? c : undefined;
}

const prelu = native(tf.Prelu, ({ inputs, backend }, a) => {
  const { x, alpha } = inputs as { x: TensorInfo; alpha: TensorInfo };
  const xv = backend.f32(x);
  const av = backend.f32(alpha);
  const c = channelAlpha(x, alpha);
  if (!xv || !av || c === undefined) return undefined;
  const y = uninitialized(xv.length);
  a.prelu(xv, av, y, c);
  return backend.makeTensorInfo(x.shape, 'float32', y);
});

/** Zero slopes per channel count: ReLU is PReLU at α = 0, and the PReLU loops are native. */
const zeroSlopes = new Map<number, Float32Array>();
function zerosFor(channels: number): Float32Array {
  let z = zeroSlopes.get(channels);
  if (!z) {
    z = new Float32Array(channels);
    zeroSlopes.set(channels, z);
  }
  return z;
}

const relu = native(tf.Relu, ({ inputs, backend }, a) => {
  const { x } = inputs as { x: TensorInfo };
  const xv = backend.f32(x);
  if (!xv || x.shape.length === 0) return undefined;
  const c = x.shape.at(-1)!;
  const y = uninitialized(xv.length);
  a.prelu(xv, zerosFor(c), y, c);
  return backend.makeTensorInfo(x.shape, 'float32', y);
});

/** dx of ReLU (dy where x > 0, else 0, as tfjs's dy·step(x)) through the PReLU backward loop at α = 0. */
export const RELU_GRAD = 'LineaReluGrad';

const reluGrad = {
  kernelName: RELU_GRAD,
  backendName: 'onednn',
  kernelFunc: kernelFunc(({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    const a = loadOnednnAddon();
    const c = x.shape.at(-1)!;
    const dyv = backend.f32(dy)!;
    const xv = backend.f32(x)!;
    const dx = uninitialized(xv.length);
    a.preluBackward(dyv, xv, zerosFor(c), dx, new Float32Array(c), c);
    nativeCalls.set(RELU_GRAD, (nativeCalls.get(RELU_GRAD) ?? 0) + 1);
    return backend.makeTensorInfo(x.shape, 'float32', dx);
  }),
} satisfies KernelConfig;

/**
 * A kernel giving [dx, dα] of a PReLU (alone, or fused with what follows it) in one native pass:
 * `run` fills dx (every element) and dα from dy, x and α.
 */
function preluGradient(
  kernelName: string,
  run: (
    a: OnednnAddon,
    v: { dy: Float32Array; x: Float32Array; alpha: Float32Array },
    dx: Float32Array,
    da: Float32Array,
    x: TensorInfo,
  ) => void,
): KernelConfig {
  return {
    kernelName,
    backendName: 'onednn',
    kernelFunc: kernelFunc(({ inputs, backend }) => {
      const { dy, x, alpha } = inputs as { dy: TensorInfo; x: TensorInfo; alpha: TensorInfo };
      const v = { dy: backend.f32(dy)!, x: backend.f32(x)!, alpha: backend.f32(alpha)! };
      const dx = uninitialized(v.x.length);
      const da = uninitialized(v.alpha.length);
      run(loadOnednnAddon(), v, dx, da, x);
      nativeCalls.set(kernelName, (nativeCalls.get(kernelName) ?? 0) + 1);
      return [backend.makeTensorInfo(x.shape, 'float32', dx), backend.makeTensorInfo(alpha.shape, 'float32', da)];
    }),
  };
}

/** dx and dα of PReLU in one pass (kernel used by the Prelu gradient below on this backend). */
export const PRELU_GRAD = 'LineaPreluGrad';

const preluGrad = preluGradient(PRELU_GRAD, (a, v, dx, da, x) =>
  a.preluBackward(v.dy, v.x, v.alpha, dx, da, x.shape.at(-1)!),
);

/** PReLU then 2×2 max pooling (stride 2, 'valid') in one pass, and its gradient (model.ts, activationMaxPool). */
const PRELU_POOL: PoolAttrs = { filterSize: 2, strides: 2, pad: 'valid' };

/** A fused PReLU's forward kernel: `run` fills y, of `shape`, from x and a channel-wise α. */
function preluForward(
  kernelName: string,
  shapeOf: (x: Shape4) => number[],
  run: (a: OnednnAddon, x: Float32Array, alpha: Float32Array, y: Float32Array, shape: Shape4) => void,
): KernelConfig {
  return {
    kernelName,
    backendName: 'onednn',
    kernelFunc: kernelFunc(({ inputs, backend }) => {
      const { x, alpha } = inputs as { x: TensorInfo; alpha: TensorInfo };
      const xv = backend.f32(x);
      const av = backend.f32(alpha);
      if (!xv || !av || x.shape.length !== 4 || channelAlpha(x, alpha) === undefined)
        throw new Error(`${kernelName}: expected float32 x [N,H,W,C] and a channel-wise alpha [C]`);
      const shape = shapeOf(x.shape as Shape4);
      const y = uninitialized(shape.reduce((p, q) => p * q, 1));
      run(loadOnednnAddon(), xv, av, y, x.shape as Shape4);
      nativeCalls.set(kernelName, (nativeCalls.get(kernelName) ?? 0) + 1);
      return backend.makeTensorInfo(shape, 'float32', y);
    }),
  };
}

const preluMaxPoolKernel = preluForward(
  PRELU_MAX_POOL,
  (shape) => {
    const { info } = poolGeometry(shape, PRELU_POOL);
    return [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  },
  (a, x, alpha, y, shape) => a.preluMaxPool(x, alpha, y, ...poolGeometry(shape, PRELU_POOL).geometry),
);
// dx is cleared by the kernel, image by image.
const preluMaxPoolGrad = preluGradient(PRELU_MAX_POOL_GRAD, (a, v, dx, da, x) =>
  a.preluMaxPoolBackward(v.dy, v.x, v.alpha, dx, da, ...poolGeometry(x.shape as Shape4, PRELU_POOL).geometry),
);

/** PReLU then the mean over positions (global average pooling) in one pass, and its gradient (activationMean). */
const preluMeanKernel = preluForward(
  PRELU_MEAN,
  ([n, , , c]) => [n, c],
  (a, x, alpha, y, [n, h, w, c]) => a.preluMean(x, alpha, y, n, h * w, c),
);
const preluMeanGrad = preluGradient(PRELU_MEAN_GRAD, (a, v, dx, da, x) => {
  const [n, h, w, c] = x.shape as Shape4;
  a.preluMeanBackward(v.dy, v.x, v.alpha, dx, da, n, h * w, c);
});

/** A parameter's whole SGD-momentum update in one native pass (the optimizer's kernel, optimizers.ts). */
const sgdMomentum = {
  kernelName: SGD_MOMENTUM,
  backendName: 'onednn',
  kernelFunc: kernelFunc(({ inputs, backend, attrs }) => {
    const { w, g, buf } = inputs as { w: TensorInfo; g: TensorInfo; buf: TensorInfo };
    const { lr, momentum, decay, nesterov, first } = attrsAs<SgdMomentumAttrs>(attrs);
    const wv = backend.f32(w);
    const gv = backend.f32(g);
    const bv = backend.f32(buf);
    if (!wv || !gv || !bv) throw new Error(`${SGD_MOMENTUM}: parameters, gradients and buffers must be float32`);
    const wOut = uninitialized(wv.length);
    const bufOut = uninitialized(wv.length);
    loadOnednnAddon().sgdMomentum(wv, gv, bv, wOut, bufOut, lr, momentum, decay, nesterov, first);
    nativeCalls.set(SGD_MOMENTUM, (nativeCalls.get(SGD_MOMENTUM) ?? 0) + 1);
    return [backend.makeTensorInfo(w.shape, 'float32', wOut), backend.makeTensorInfo(buf.shape, 'float32', bufOut)];
  }),
} satisfies KernelConfig;

let registered = false;

/**
 * Register the backend and its kernels with tfjs: every cpu kernel under the new name, then the
 * native replacements. Also routes the Prelu gradient through one fused kernel on this backend.
 */
function registerOnednn(): void {
  if (registered) return;
  tf.registerBackend('onednn', () => new OnednnBackend(), 1);
  const replacements = [
    conv2D,
    fusedConv2D,
    conv2DBackpropInput,
    conv2DBackpropFilter,
    batchMatMul,
    fusedMatMul,
    fusedBatchNorm,
    maxPool,
    maxPoolGrad,
    avgPool,
    avgPoolGrad,
    prelu,
    relu,
    unary(tf.Tanh, 0),
    unary(tf.Square, 1),
    binary(tf.Add, 0),
    binary(tf.Sub, 1),
    binary(tf.Multiply, 2),
    binary(tf.RealDiv, 3),
    binary(tf.SquaredDifference, 4),
    reduction(tf.Sum, false),
    reduction(tf.Mean, true),
    zerosLike,
  ];
  const replaced = new Set(replacements.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!replaced.has(k.kernelName)) tf.registerKernel({ ...k, backendName: 'onednn' });
  }
  for (const k of replacements) tf.registerKernel(k);
  tf.registerKernel(preluGrad);
  tf.registerKernel(preluMaxPoolKernel);
  tf.registerKernel(preluMaxPoolGrad);
  tf.registerKernel(preluMeanKernel);
  tf.registerKernel(preluMeanGrad);
  tf.registerKernel(reluGrad);
  tf.registerKernel(sgdMomentum);
  tf.registerKernel(batchNormTrain);
  tf.registerKernel(batchNormTrainGrad);
  tf.registerKernel(convParamGradients);
  registerPreluGradient();
  registerReluGradient();
  registerReductionGradients();
  registered = true;
}

/**
 * tfjs registers gradients per op, not per backend. This Prelu gradient keeps tfjs's formulation
 * (dx = x > 0 ? dy : α·dy; dα = Σ x ≤ 0 ? dy·x : 0) on every backend, and on onednn computes both in
 * one native pass when α is channel-wise.
 */
function registerPreluGradient(): void {
  const original = tf.getGradient(tf.Prelu);
  if (!original) throw new Error('tfjs has no Prelu gradient registered (is @tensorflow/tfjs-layers loaded?)');
  tf.registerGradient({
    kernelName: tf.Prelu,
    inputsToSave: ['x', 'alpha'],
    gradFunc: (dy, saved, attrs) => {
      const [x, alpha] = saved as [tf.Tensor, tf.Tensor];
      if (tf.getBackend() === 'onednn' && channelAlpha(x, alpha) !== undefined && x.dtype === 'float32') {
        const [dx, da] = tf.engine().runKernel(PRELU_GRAD, { dy: dy as tf.Tensor, x, alpha }) as tf.Tensor[];
        return { x: () => dx!, alpha: () => da! };
      }
      return original.gradFunc(dy, saved, attrs);
    },
  });
}

/**
 * The gradients of Sum and Mean spread dy back over the reduced axes. tfjs does it as
 * dy · ones(x.shape) (then ÷ n for Mean): a tensor of ones as large as x, filled by a JavaScript
 * loop, and one or two more passes over it (4 ms of a reference step, from global average
 * pooling). On onednn the same values come from one broadcasting add of a zeros tensor as small
 * as the reduced axes: dy + 0 is dy, as dy · 1 is.
 */
function registerReductionGradients(): void {
  for (const kernelName of [tf.Sum, tf.Mean]) {
    const original = tf.getGradient(kernelName);
    if (!original)
      throw new Error(`tfjs has no ${kernelName} gradient registered (is @tensorflow/tfjs-layers loaded?)`);
    tf.registerGradient({
      kernelName,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [tf.Tensor];
        if (tf.getBackend() !== 'onednn' || x.dtype !== 'float32' || x.rank === 0)
          return original.gradFunc(dy, saved, attrs);
        const axes = tf.util.parseAxisParam(attrsAs<{ axis: number | number[] }>(attrs).axis, x.shape);
        const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const spread = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
        const n = axes.reduce((p, axis) => p * x.shape[axis]!, 1);
        let g = tf.reshape(dy as tf.Tensor, expanded);
        if (kernelName === tf.Mean) g = tf.div(g, n);
        return { x: () => tf.add(g, tf.zeros(spread)) };
      },
    });
  }
}

/** ReLU's gradient, like PReLU's: tfjs's dy·step(x) everywhere, one native pass on onednn. */
function registerReluGradient(): void {
  const original = tf.getGradient(tf.Relu);
  if (!original) throw new Error('tfjs has no Relu gradient registered (is @tensorflow/tfjs-layers loaded?)');
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      if (tf.getBackend() === 'onednn' && x.dtype === 'float32' && x.rank > 0) {
        const dx = tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor;
        return { x: () => dx };
      }
      return original.gradFunc(dy, saved, attrs);
    },
  });
}

export const onednnCandidate = {
  name: 'onednn',
  tfName: 'onednn',
  async load() {
    loadOnednnAddon();
    registerOnednn();
  },
};
