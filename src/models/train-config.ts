/**
 * The training recipe as the experiment writes it: optimiser, learning-rate schedule, epochs,
 * batch size, weight decay, clipping. Schemas only, with no tensor code beside them, so that a
 * pipeline can be defined (and its params checked) without loading a tensor library.
 */
import { z } from 'zod';

export const optimizerConfig = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('sgd'),
      momentum: z.number().min(0).max(1).default(0.9),
      nesterov: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      kind: z.literal('adam'),
      beta1: z.number().min(0).max(1).default(0.9),
      beta2: z.number().min(0).max(1).default(0.999),
      epsilon: z.number().positive().default(1e-8),
    })
    .strict(),
]);
export type OptimizerConfig = z.output<typeof optimizerConfig>;

export const scheduleConfig = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }).strict(),
  /** lr × gamma at each milestone epoch (e.g. [91, 136] with 0.1, the CIFAR ResNet recipe). */
  z
    .object({
      kind: z.literal('step'),
      milestones: z.array(z.number().int().nonnegative()),
      gamma: z.number().positive().default(0.1),
    })
    .strict(),
  /** Cosine from lr to minLr over the run, evaluated per step. */
  z.object({ kind: z.literal('cosine'), minLr: z.number().nonnegative().default(0) }).strict(),
]);
export type ScheduleConfig = z.output<typeof scheduleConfig>;

export const trainConfig = z
  .object({
    epochs: z.number().int().nonnegative(),
    batchSize: z.number().int().positive().default(128),
    lr: z.number().positive().default(0.05),
    optimizer: optimizerConfig.default({ kind: 'sgd', momentum: 0.9, nesterov: false }),
    schedule: scheduleConfig.default({ kind: 'constant' }),
    /** L2 on every trainable parameter except PReLU α. */
    weightDecay: z.number().nonnegative().default(0),
    /** Rescale the gradient to at most this global L2 norm (0: never). */
    clipNorm: z.number().nonnegative().default(0),
    /** Seeds the data order (the model's own seed fixes its initial weights). */
    seed: z.number().int().default(0),
    evalBatchSize: z.number().int().positive().default(500),
  })
  .strict();
export type TrainConfig = z.output<typeof trainConfig>;
export type TrainConfigInput = z.input<typeof trainConfig>;
