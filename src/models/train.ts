/**
 * The training loop: seeded data order, SGD/Adam with a learning-rate schedule, weight decay that
 * skips PReLU α, regulariser hooks, α kept in [0, 1], per-epoch metrics and a checkpoint hook per
 * epoch, progress with images/s. Every step runs inside `tidy`; what must outlive a step is kept
 * explicitly and disposed by hand, so tf.memory() is flat across epochs.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from './tf.ts';
import { trainConfig, type TrainConfig, type TrainConfigInput } from './train-config.ts';
import type { Model, StateUpdate } from './model.ts';
import { exampleSize, type Dataset } from './data/dataset.ts';
import { learningRate, Optimizer, type OptimizerState } from './optimizers.ts';
import { deriveSeed, mulberry32, permutation } from './random.ts';
import { readTensors, saveModel, writeTensors, loadModel } from './weights-io.ts';
import { fusedCnnStep } from './native/cnn-step.ts';
import type { ModelConfig } from './architectures/index.ts';

export { trainConfig, type TrainConfig, type TrainConfigInput } from './train-config.ts';

/** An extra loss term, e.g. the sparsity penalty ω·Σ|1−α|^½ (docs/science.md, "The sparsity penalty"). */
export interface Regularizer {
  readonly name: string;
  /** A scalar added to the task loss (computed inside the gradient tape). */
  penalty(model: Model<ModelConfig>): tf.Scalar;
  /** After each optimiser step and α clamp: e.g. snap α to 1 and freeze it. */
  afterStep?(model: Model<ModelConfig>): void;
  /**
   * Multipliers for some parameters' gradients (by parameter name), applied before clipping and
   * the optimiser: 0 takes a unit out of the step entirely (a frozen slope). Owned by the regulariser.
   */
  gradientMasks?(model: Model<ModelConfig>): ReadonlyMap<string, tf.Tensor>;
}

export interface EpochMetrics {
  /** Epochs completed so far (1 after the first). */
  readonly epoch: number;
  readonly lr: number;
  /** Mean task loss (cross entropy) over the epoch's training batches. */
  readonly loss: number;
  /** Mean of each regulariser's penalty over the epoch. */
  readonly penalties: Readonly<Record<string, number>>;
  /** Accuracy on the training batches as they were seen during the epoch. */
  readonly trainAccuracy: number;
  readonly testLoss?: number;
  readonly testAccuracy?: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly imagesPerSecond: number;
}

/** What resuming needs besides the model's weights: where the run stood and the optimiser state. */
export interface ResumeState {
  readonly epoch: number;
  readonly optimizer: OptimizerState;
  readonly history: readonly EpochMetrics[];
}

export interface EpochEnd {
  readonly metrics: EpochMetrics;
  readonly history: readonly EpochMetrics[];
  /** Write model, optimiser state and history to `dir` (read back with `loadCheckpoint`). */
  save(dir: string): Promise<void>;
}

export interface TrainHooks {
  readonly regularizers?: readonly Regularizer[];
  readonly onProgress?: (progress: TrainProgress) => void | Promise<void>;
  readonly onEpoch?: (end: EpochEnd) => Promise<void> | void;
  /** Continue a run (weights already in the model) from this state. */
  readonly resume?: ResumeState;
  readonly signal?: AbortSignal;
}

export interface TrainResult {
  readonly history: readonly EpochMetrics[];
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

function checkShapes(model: Model<ModelConfig>, ds: Dataset, what: string): void {
  if (ds.shape.join('×') !== model.inputShape.join('×')) {
    throw new TrainingError(
      `${what} examples are ${ds.shape.join('×')} but the model takes ${model.inputShape.join('×')}`,
    );
  }
  if (ds.classes > model.outputs)
    throw new TrainingError(`${what} has ${ds.classes} classes but the model has ${model.outputs} outputs`);
}

function batchTensors(
  ds: Dataset,
  order: ArrayLike<number>,
  start: number,
  end: number,
): { x: tf.Tensor; labels: tf.Tensor1D } {
  const per = exampleSize(ds.shape);
  const n = end - start;
  const x = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = order[start + i]!;
    x.set(ds.x.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j]!;
  }
  return { x: tf.tensor(x, [n, ...ds.shape]), labels: tf.tensor1d(labels, 'int32') };
}

function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classes), logits) as tf.Scalar;
}

/** Mean loss and accuracy in eval mode (batch norm on moving statistics). */
export function evaluate(model: Model<ModelConfig>, ds: Dataset, batchSize = 500): { loss: number; accuracy: number } {
  checkShapes(model, ds, 'evaluation data');
  const n = ds.labels.length;
  let loss = 0;
  let correct = 0;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const [l, c] = tf.tidy(() => {
      const { x, labels } = batchTensors(ds, order, start, end);
      const logits = model.predict(x);
      return [
        tf.mul(crossEntropy(logits, labels, model.outputs), end - start).dataSync()[0]!,
        tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')).dataSync()[0]!,
      ];
    });
    loss += l;
    correct += c;
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** The optimiser a training config asks for, over the model's trainable parameters (no decay on α). */
export function optimizerFor(
  model: Model<ModelConfig>,
  config: Pick<TrainConfig, 'optimizer' | 'weightDecay'>,
): Optimizer {
  const trainable = model.specs.filter((s) => s.trainable);
  return new Optimizer(
    config.optimizer,
    trainable.map((s) => ({ name: s.name, variable: model.get(s.name), decay: s.role !== 'alpha' })),
    config.weightDecay,
  );
}

// A type alias, not an interface: tf.tidy only returns index-signature-compatible containers.
export type StepResult = {
  /** Task loss plus penalties. */
  readonly loss: number;
  /** Mean cross entropy over the batch. */
  readonly task: number;
  /** Correct predictions in the batch. */
  readonly hits: number;
  readonly penalties: number[];
};

/** The gradients of one step, by parameter name, before masks, clipping and the optimiser. */
interface Gradients {
  readonly grads: Map<string, tf.Tensor>;
  readonly updates: StateUpdate[];
  /** The step's figures, read once the update is made. */
  read(): StepResult;
}

/**
 * One optimisation step on a batch: forward in training mode, gradients of task loss plus
 * penalties, optimiser update, batch-norm statistics, α clamp, regulariser after-step hooks.
 * A plain CNN on the onednn backend computes its part in one native call (native/cnn-step.ts)
 * unless `fused` is false; the penalties, masks, clipping and optimiser are the same either way.
 * The benchmark times exactly this function.
 */
export function trainingStep(
  model: Model<ModelConfig>,
  optimizer: Optimizer,
  regularizers: readonly Regularizer[] = [],
  clipNorm = 0,
  options: { readonly fused?: boolean } = {},
): (x: tf.Tensor, labels: tf.Tensor1D, lr: number) => StepResult {
  const trainable = model.specs.filter((s) => s.trainable);
  const specByVariable = new Map(trainable.map((s) => [model.get(s.name).name, s.name]));
  const variables = trainable.map((s) => model.get(s.name));
  const hasAlpha = model.specs.some((s) => s.role === 'alpha');
  const fused = options.fused === false ? undefined : fusedCnnStep(model);

  /** Everything through tfjs's tape, op by op. */
  const taped = (x: tf.Tensor, labels: tf.Tensor1D): Gradients => {
    let updates: StateUpdate[] = [];
    let taskLoss: tf.Scalar | undefined;
    let hits: tf.Scalar | undefined;
    let penalties: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const forward = model.forward(x, { training: true });
      updates = forward.updates;
      taskLoss = tf.keep(crossEntropy(forward.output, labels, model.outputs));
      hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(forward.output, 1), labels), 'float32'))) as tf.Scalar;
      penalties = regularizers.map((r) => tf.keep(r.penalty(model)));
      return penalties.reduce<tf.Scalar>((total, p) => tf.add(total, p) as tf.Scalar, taskLoss!);
    }, variables);
    const byName = new Map(Object.entries(grads).map(([v, g]) => [specByVariable.get(v) ?? v, g]));
    return {
      grads: byName,
      updates,
      read: () => {
        const read: StepResult = {
          loss: value.dataSync()[0]!,
          task: taskLoss!.dataSync()[0]!,
          hits: hits!.dataSync()[0]!,
          penalties: penalties.map((p) => p.dataSync()[0]!),
        };
        tf.dispose([taskLoss!, hits!, ...penalties]);
        return read;
      },
    };
  };

  /** The network natively, the penalties (small tensors of α) through the tape, their gradients added. */
  const native = (x: tf.Tensor, labels: tf.Tensor1D): Gradients | undefined => {
    const step = fused?.(x, labels);
    if (!step) return undefined;
    let penalties: tf.Scalar[] = [];
    if (regularizers.length) {
      const { grads } = tf.engine().gradients(
        () => {
          penalties = regularizers.map((r) => tf.keep(r.penalty(model)));
          return penalties.reduce((total, p) => tf.add(total, p) as tf.Scalar);
        },
        variables,
        undefined,
        true,
      );
      for (const [i, g] of grads.entries()) {
        const name = trainable[i]!.name;
        if (g) step.grads.set(name, tf.add(step.grads.get(name)!, g));
      }
    }
    return {
      grads: step.grads,
      updates: step.updates,
      read: () => {
        const values = penalties.map((p) => p.dataSync()[0]!);
        tf.dispose(penalties);
        return { loss: values.reduce((a, b) => a + b, step.task), task: step.task, hits: step.hits, penalties: values };
      },
    };
  };

  return (x, labels, lr) => {
    let updates: StateUpdate[] = [];
    const result = tf.tidy(() => {
      const step = native(x, labels) ?? taped(x, labels);
      updates = step.updates;
      const masked = new Map<string, tf.Tensor>();
      for (const [name, g] of step.grads) {
        let grad = g;
        for (const r of regularizers) {
          const mask = r.gradientMasks?.(model).get(name);
          if (mask) grad = tf.mul(grad, mask);
        }
        masked.set(name, grad);
      }
      // Global-norm clipping over the masked gradients: one scale for every gradient, so the step
      // keeps its direction, and frozen parameters do not count towards the norm.
      const scale =
        clipNorm > 0
          ? tf.minimum(
              1,
              tf.div(clipNorm, tf.add(tf.sqrt(tf.addN([...masked.values()].map((g) => tf.sum(tf.square(g))))), 1e-12)),
            )
          : undefined;
      const byName = new Map([...masked].map(([name, g]) => [name, scale ? tf.mul(g, scale) : g]));
      optimizer.apply(byName, lr);
      return step.read();
    });
    model.commitUpdates(updates);
    if (hasAlpha) model.clampAlphas();
    for (const r of regularizers) r.afterStep?.(model);
    return result;
  };
}

export async function train(
  model: Model<ModelConfig>,
  data: { train: Dataset; test?: Dataset },
  configInput: TrainConfigInput,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const config = trainConfig.parse(configInput);
  checkShapes(model, data.train, 'training data');
  if (data.test) checkShapes(model, data.test, 'test data');
  const optimizer = optimizerFor(model, config);
  const regularizers = hooks.regularizers ?? [];
  const step = trainingStep(model, optimizer, regularizers, config.clipNorm);
  const history: EpochMetrics[] = [...(hooks.resume?.history ?? [])];
  if (hooks.resume) optimizer.load(hooks.resume.optimizer);
  const n = data.train.labels.length;
  const steps = Math.ceil(n / config.batchSize);

  try {
    for (let epoch = hooks.resume?.epoch ?? 0; epoch < config.epochs; epoch++) {
      // The order of epoch e depends only on (seed, e): a resumed run sees the same batches.
      const order = permutation(mulberry32(deriveSeed(config.seed, 'order', epoch)), n);
      let lossSum = 0;
      let correct = 0;
      const penaltySums = new Map(regularizers.map((r) => [r.name, 0]));
      let lr = config.lr;
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        if (hooks.signal?.aborted) throw hooks.signal.reason ?? new Error('training aborted');
        const start = i * config.batchSize;
        const end = Math.min(n, start + config.batchSize);
        lr = learningRate(config.lr, config.schedule, epoch + i / steps, config.epochs);
        const stepResult = tf.tidy(() => {
          const { x, labels } = batchTensors(data.train, order, start, end);
          return step(x, labels, lr);
        });
        if (!Number.isFinite(stepResult.loss)) {
          throw new TrainingError(
            `training diverged at epoch ${epoch + 1}, step ${i + 1}: the loss is ${stepResult.loss}; lower the learning rate (lr = ${lr})`,
          );
        }
        lossSum += stepResult.task * (end - start);
        correct += stepResult.hits;
        for (const [i, r] of regularizers.entries())
          penaltySums.set(r.name, penaltySums.get(r.name)! + stepResult.penalties[i]!);
        const elapsed = (performance.now() - t0) / 1000;
        // The caller may take this moment to let its event loop run (awaiting is cheap when it does not).
        await hooks.onProgress?.({
          epoch: epoch + 1,
          epochs: config.epochs,
          step: i + 1,
          steps,
          loss: stepResult.task,
          imagesPerSecond: end / elapsed,
        });
      }
      const seconds = (performance.now() - t0) / 1000;
      const test = data.test ? evaluate(model, data.test, config.evalBatchSize) : undefined;
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        lr,
        loss: lossSum / n,
        penalties: Object.fromEntries([...penaltySums].map(([k, v]) => [k, v / steps])),
        trainAccuracy: correct / n,
        ...(test ? { testLoss: test.loss, testAccuracy: test.accuracy } : {}),
        seconds,
        imagesPerSecond: n / seconds,
      };
      history.push(metrics);
      await hooks.onEpoch?.({
        metrics,
        history: [...history],
        save: (dir) => saveCheckpoint(dir, model, optimizer, history),
      });
    }
    return { history };
  } finally {
    optimizer.dispose();
  }
}

async function saveCheckpoint(
  dir: string,
  model: Model<ModelConfig>,
  optimizer: Optimizer,
  history: readonly EpochMetrics[],
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveModel(model, dir, 'model');
  const state = optimizer.state();
  try {
    await writeTensors(dir, 'optimizer', state.slots, { step: state.step, config: optimizer.config });
  } finally {
    tf.dispose(state.slots);
  }
  await writeFile(join(dir, 'history.json'), JSON.stringify({ epoch: history.length, history }, null, 1) + '\n');
}

/** A model and the state to resume its training, from a directory written by `EpochEnd.save`. */
export async function loadCheckpoint(dir: string): Promise<{ model: Model<ModelConfig>; resume: ResumeState }> {
  const model = await loadModel(dir, 'model');
  try {
    const { tensors, topology } = await readTensors(dir, 'optimizer');
    const { epoch, history } = JSON.parse(await readFile(join(dir, 'history.json'), 'utf8')) as {
      epoch: number;
      history: EpochMetrics[];
    };
    return {
      model,
      resume: { epoch, history, optimizer: { step: (topology as { step: number }).step, slots: tensors } },
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
