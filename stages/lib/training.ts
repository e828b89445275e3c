/**
 * What the training stages share: choosing the tensor backend, loading prepared data, and training
 * through the engine's checkpoints, so a killed stage resumes from its last finished epoch and
 * a finished one leaves no checkpoint behind.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact, StageContext } from '../../src/index.ts';
import {
  evaluate,
  loadCheckpoint,
  loadData,
  selectBackend,
  train,
  type EpochEnd,
  type EpochMetrics,
  type Model,
  type ModelConfig,
  type PreparedData,
  type Regularizer,
  type TrainConfigInput,
} from '../../src/models/index.ts';
import type { TrainedValue } from './artifacts.ts';

/** Stages that compute with tensors key on the backend the user forced (results differ in the last bits). */
export const BACKEND_ENV = ['LINEA_BACKEND'] as const;

export async function useBackend(ctx: { log(message: string): void }): Promise<string> {
  return (await selectBackend({ log: (line) => ctx.log(line) })).name;
}

const loaded = new Map<string, PreparedData>();

/** The prepared data of a `prepare-data` artifact (read once per process). */
export async function dataOf(artifact: Artifact<unknown>): Promise<PreparedData> {
  let data = loaded.get(artifact.digest);
  if (!data) {
    data = await loadData(artifact.dir);
    loaded.set(artifact.digest, data);
  }
  return data;
}

export interface TrainedRun {
  readonly model: Model<ModelConfig>;
  readonly history: readonly EpochMetrics[];
}

type AnyContext = StageContext<unknown, never>;

/**
 * Train `fresh()` (or the model of the last checkpoint under this cache key) on the data. After
 * each epoch, `onEpoch` may write into the checkpoint directory things that must survive a kill
 * (e.g. per-epoch snapshots); they are copied back into `ctx.outDir` on resume.
 */
export async function trainResumable(
  ctx: Pick<AnyContext, 'checkpoint' | 'resume' | 'progress' | 'signal' | 'outDir' | 'log'>,
  fresh: () => Model<ModelConfig> | Promise<Model<ModelConfig>>,
  data: PreparedData,
  config: TrainConfigInput,
  hooks: { regularizers?: readonly Regularizer[]; keep?: string; onEpoch?: (end: EpochEnd, model: Model<ModelConfig>) => Promise<void> } = {},
): Promise<TrainedRun> {
  const resumed = await ctx.resume<{ epoch: number }>();
  let model: Model<ModelConfig>;
  let resume;
  if (resumed) {
    ({ model, resume } = await loadCheckpoint(join(resumed.dir, 'state')));
    if (hooks.keep) await cp(join(resumed.dir, hooks.keep), join(ctx.outDir, hooks.keep), { recursive: true });
    ctx.log(`resuming after epoch ${resumed.state.epoch}`);
  } else {
    model = await fresh();
  }
  const result = await train(model, { train: data.train, test: data.test }, config, {
    ...(hooks.regularizers ? { regularizers: hooks.regularizers } : {}),
    ...(resume ? { resume } : {}),
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.progress({ done: (p.epoch - 1) * p.steps + p.step, total: p.epochs * p.steps, message: `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)} ${p.imagesPerSecond.toFixed(0)} img/s` }),
    onEpoch: async (end) => {
      await hooks.onEpoch?.(end, model);
      const m = end.metrics;
      ctx.log(`epoch ${m.epoch}: loss ${m.loss.toFixed(4)} train ${(100 * m.trainAccuracy).toFixed(2)}% test ${m.testAccuracy === undefined ? '–' : `${(100 * m.testAccuracy).toFixed(2)}%`} (${m.seconds.toFixed(1)} s)`);
      await ctx.checkpoint({ epoch: m.epoch }, async (dir) => {
        await end.save(join(dir, 'state'));
        if (hooks.keep) await cp(join(ctx.outDir, hooks.keep), join(dir, hooks.keep), { recursive: true });
      });
    },
  });
  return { model, history: result.history };
}

/** What every training stage reports about its run (see TrainedValue). */
export function trainedValue(run: TrainedRun, data: PreparedData, seed: number, backend: string): TrainedValue {
  return {
    model: run.model.config,
    seed,
    backend,
    params: run.model.paramCount().trainable,
    history: run.history,
    // The last epoch's test accuracy, or a fresh evaluation when the run trained no epoch.
    testAccuracy: run.history.at(-1)?.testAccuracy ?? evaluate(run.model, data.test).accuracy,
  };
}
