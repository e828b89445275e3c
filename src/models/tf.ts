/**
 * tfjs-core, required rather than imported, as the models use it (`import * as tf from './tf.ts'`).
 *
 * Why: tfjs's packages are CommonJS bundles (tfjs-core alone is 1.2 MB), and on every `import`
 * of a CommonJS file Node's ES module loader first scans its whole text for the names it
 * exports, even when `require` has already loaded it. In a fresh process here, importing
 * tfjs-core, the CPU and wasm backends and tfjs-layers took 318 ms; requiring them, 122 ms. Every
 * process that trains paid the difference: each Slurm job, each pool worker, each test.
 *
 * What the models use is re-exported by name below (a name used for the first time is added
 * here: the type checker says so); every type comes through `export type *`.
 */
import { createRequire } from 'node:module';
import type * as Core from '@tensorflow/tfjs-core';

export type * from '@tensorflow/tfjs-core';

export const requireTf = createRequire(import.meta.url);
const core = requireTf('@tensorflow/tfjs-core') as typeof Core;

// Classes are values and types at once.
export const Tensor = core.Tensor;
export type Tensor<R extends Core.Rank = Core.Rank> = Core.Tensor<R>;
export const Variable = core.Variable;
export type Variable<R extends Core.Rank = Core.Rank> = Core.Variable<R>;

export const {
  // Kernel names.
  Add,
  AvgPool,
  AvgPoolGrad,
  BatchMatMul,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  FusedBatchNorm,
  FusedConv2D,
  MaxPool,
  MaxPoolGrad,
  Mean,
  Multiply,
  Prelu,
  RealDiv,
  Relu,
  Square,
  SquaredDifference,
  Sub,
  Sum,
  Tanh,
  ZerosLike,
  _FusedMatMul,
  // Namespaces.
  backend_util,
  fused,
  io,
  losses,
  util,
  // Ops and the engine.
  abs,
  add,
  addN,
  argMax,
  avgPool,
  backend,
  batchNorm,
  cast,
  clipByValue,
  clone,
  conv2d,
  customGrad,
  dispose,
  div,
  engine,
  equal,
  expandDims,
  getBackend,
  getGradient,
  getKernel,
  getKernelsForBackend,
  keep,
  less,
  matMul,
  max,
  maxPool,
  maximum,
  mean,
  memory,
  minimum,
  moments,
  mul,
  oneHot,
  ones,
  pad,
  prelu,
  ready,
  registerBackend,
  registerGradient,
  registerKernel,
  relu,
  reshape,
  reverse,
  rsqrt,
  scalar,
  setBackend,
  sigmoid,
  slice,
  sqrt,
  square,
  stack,
  stridedSlice,
  sub,
  sum,
  tanh,
  tensor,
  tensor1d,
  tensor2d,
  tidy,
  transpose,
  unregisterKernel,
  variable,
  variableGrads,
  version_core,
  zeros,
  zerosLike,
} = core;
