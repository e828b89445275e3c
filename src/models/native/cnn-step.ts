/**
 * A plain CNN's training step as one native call where the backend is onednn
 * (native/onednn/src/cnn_step.cc): the forward pass in training mode, the task loss and every
 * parameter's gradient, and the batch norms' next moving statistics, without tfjs's per-op
 * bookkeeping (a tensor, a kernel lookup and a tape entry for each of ~190 kernel calls a step
 * of the claims preset's network makes, as long as its arithmetic).
 *
 * train.ts's trainingStep takes this path when `fusedCnnStep` offers one and the op-by-op path
 * otherwise (another backend or architecture, tanh); regularisers, gradient
 * masks, clipping and the optimiser are the same on both. test/cnn-step.test.ts checks that the
 * two give the same loss, gradients and moving statistics.
 */
import * as tf from '../tf.ts';
import { BN_EPSILON, BN_MOMENTUM, type Model, type StateUpdate } from '../model.ts';
import type { ModelConfig } from '../architectures/index.ts';
import type { CnnStepConfig, OnednnBackend } from './onednn.ts';

/** What one fused step gives: the task's loss and hits, each parameter's gradient by name, the queued moving statistics. */
export interface FusedStep {
  readonly task: number;
  readonly hits: number;
  readonly grads: Map<string, tf.Tensor>;
  readonly updates: StateUpdate[];
}

const ACTIVATIONS: Readonly<Record<string, CnnStepConfig['activation']>> = { linear: 0, relu: 1, prelu: 2 };

function isOnednn(backend: tf.KernelBackend): backend is tf.KernelBackend & OnednnBackend {
  return typeof (backend as Partial<OnednnBackend>).cnnStep === 'function';
}

/**
 * The fused step for this model on the current backend, or undefined where there is none. The
 * returned function gives undefined for a batch it cannot take (not float32 / int32 values, or
 * the backend has changed since), which trainingStep then takes op by op.
 */
export function fusedCnnStep(
  model: Model<ModelConfig>,
): ((x: tf.Tensor, labels: tf.Tensor1D) => FusedStep | undefined) | undefined {
  const c = model.config;
  if (c.kind !== 'plain-cnn' || process.env.LINEA_CNN_STEP === '0') return undefined;
  const activation = ACTIVATIONS[c.activation];
  const backend = tf.backend();
  if (activation === undefined || tf.getBackend() !== 'onednn' || !isOnednn(backend)) return undefined;

  // The order cnn_step.cc takes them in.
  const params: string[] = [];
  const trained: string[] = [];
  const moving: string[] = [];
  const both = (name: string) => {
    params.push(name);
    trained.push(name);
  };
  for (const i of c.channels.keys()) {
    both(`conv${i}/kernel`);
    if (!c.batchNorm) both(`conv${i}/bias`);
    else {
      both(`bn${i}/gamma`);
      both(`bn${i}/beta`);
      params.push(`bn${i}/moving_mean`, `bn${i}/moving_variance`);
      moving.push(`bn${i}/moving_mean`, `bn${i}/moving_variance`);
    }
    if (activation === 2) both(`act${i}/alpha`);
  }
  both('head/kernel');
  both('head/bias');
  const variables = params.map((name) => model.get(name));
  const movingVariables = moving.map((name) => model.get(name));
  const shapeOf = new Map(params.map((name, i) => [name, variables[i]!.shape]));
  const native = backend.cnnStep({
    height: c.inputShape[0],
    width: c.inputShape[1],
    inChannels: c.inputShape[2],
    channels: c.channels,
    pool: c.channels.map((_, i) => c.poolAfter.includes(i)),
    maxPool: c.pool === 'max',
    batchNorm: c.batchNorm,
    flatten: c.head === 'flatten',
    activation,
    classes: c.classes,
    epsilon: BN_EPSILON,
    momentum: BN_MOMENTUM,
  });
  const result = new Float64Array(2);

  return (x, labels) => {
    // Tensors made after a switch to another backend live in that backend's memory.
    if (tf.backend() !== backend) return undefined;
    const xs = backend.f32(x);
    const ls = backend.i32(labels);
    const values = variables.map((v) => backend.f32(v));
    if (!xs || !ls || values.some((v) => v === undefined)) return undefined;
    const grads = trained.map((name) => new Float32Array(tf.util.sizeFromShape(shapeOf.get(name)!)));
    // A moving statistic no one else sees is updated in place (each element is read before it is
    // written); any other gets a pool buffer, which becomes the variable's, so the next step can.
    const inPlace = movingVariables.map((v) => backend.mutable(v));
    const stats = moving.map((name, i) => inPlace[i] ?? backend.take(tf.util.sizeFromShape(shapeOf.get(name)!)));
    native.run(x.shape[0]!, xs, ls, values as Float32Array[], grads, stats, result);
    return {
      task: result[0]!,
      hits: result[1]!,
      grads: new Map(trained.map((name, i) => [name, tf.tensor(grads[i]!, shapeOf.get(name)!)])),
      // Kept, as the op-by-op path keeps them: committed after the step, outside its tidy.
      updates: moving.flatMap((name, i) =>
        inPlace[i] ? [] : [{ name, value: tf.keep(tf.tensor(stats[i]!, shapeOf.get(name)!)) }],
      ),
    };
  };
}
