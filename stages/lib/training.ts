/**
 * What the training stages share (loaded when a stage runs: runtime.ts): choosing the tensor
 * backend, building a model config for the data, loading prepared data, and training
 * through the engine's checkpoints, so a killed stage resumes from its last finished epoch and
 * a finished one leaves no checkpoint behind.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Artifact, Json, StageContext } from '../../src/index.ts';
import {
  evaluate,
  loadCheckpoint,
  loadData,
  parseModelConfig,
  selectBackend,
  train,
  type EpochEnd,
  type EpochMetrics,
  type Model,
  type ModelConfig,
  type Nonlinearity,
  type PreparedData,
  type Regularizer,
  type TrainConfigInput,
} from '../../src/models/index.ts';
import type { ArchParams } from './arch.ts';
import type { DataValue, TrainedValue } from './artifacts.ts';

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

/** Where a resumable training run stood: its phase (for runs in several phases) and epoch, plus what the stage kept. */
export interface TrainingState {
  readonly epoch: number;
  readonly phase?: string;
  readonly extra?: Json;
}

/**
 * Train `fresh()` (or the model of the last checkpoint under this cache key) on the data. After
 * each epoch, `onEpoch` may write into the checkpoint directory things that must survive a kill
 * (e.g. per-epoch snapshots); they are copied back into `ctx.outDir` on resume. A stage that
 * trains in several phases names each (`phase`): a checkpoint resumes only the phase that wrote
 * it, and `extra()` is stored with every checkpoint (read back with `resumedState`).
 */
export async function trainResumable(
  ctx: Pick<AnyContext, 'checkpoint' | 'resume' | 'progress' | 'signal' | 'outDir' | 'log'>,
  fresh: () => Model<ModelConfig> | Promise<Model<ModelConfig>>,
  data: PreparedData,
  config: TrainConfigInput,
  hooks: {
    regularizers?: readonly Regularizer[];
    keep?: string;
    phase?: string;
    extra?: () => Json;
    onEpoch?: (end: EpochEnd, model: Model<ModelConfig>) => Promise<void>;
  } = {},
): Promise<TrainedRun> {
  const resumed = await ctx.resume<TrainingState & Json>();
  let model: Model<ModelConfig>;
  let resume;
  if (resumed && resumed.state.phase === hooks.phase) {
    ({ model, resume } = await loadCheckpoint(join(resumed.dir, 'state')));
    if (hooks.keep) await cp(join(resumed.dir, hooks.keep), join(ctx.outDir, hooks.keep), { recursive: true });
    ctx.log(`resuming after ${hooks.phase ? `${hooks.phase} ` : ''}epoch ${resumed.state.epoch}`);
  } else {
    model = await fresh();
  }
  const phase = hooks.phase ? `${hooks.phase} ` : '';
  const result = await train(model, { train: data.train, test: data.test }, config, {
    ...(hooks.regularizers ? { regularizers: hooks.regularizers } : {}),
    ...(resume ? { resume } : {}),
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.progress({
        done: (p.epoch - 1) * p.steps + p.step,
        total: p.epochs * p.steps,
        message: `${phase}epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)} ${p.imagesPerSecond.toFixed(0)} img/s`,
      }),
    onEpoch: async (end) => {
      await hooks.onEpoch?.(end, model);
      const m = end.metrics;
      // The epoch's numbers as metrics: linea view draws them as curves, one line per instance
      // (five ω values' penalty phases side by side), and the run record keeps them.
      await ctx.progress({
        done: m.epoch,
        total: config.epochs,
        message: `${phase}epoch ${m.epoch}/${config.epochs}`,
        metrics: {
          [`${phase}loss`]: m.loss,
          [`${phase}train accuracy`]: m.trainAccuracy,
          ...(m.testAccuracy !== undefined ? { [`${phase}test accuracy`]: m.testAccuracy } : {}),
          ...Object.fromEntries(Object.entries(m.penalties).map(([name, value]) => [`${phase}${name}`, value])),
        },
      });
      ctx.log(
        `${phase}epoch ${m.epoch}: loss ${m.loss.toFixed(4)} train ${(100 * m.trainAccuracy).toFixed(2)}% test ${m.testAccuracy === undefined ? '–' : `${(100 * m.testAccuracy).toFixed(2)}%`} (${m.seconds.toFixed(1)} s)`,
      );
      const state: Record<string, Json> = { epoch: m.epoch };
      if (hooks.phase !== undefined) state.phase = hooks.phase;
      if (hooks.extra) state.extra = hooks.extra();
      await ctx.checkpoint(state, async (dir) => {
        await end.save(join(dir, 'state'));
        if (hooks.keep) await cp(join(ctx.outDir, hooks.keep), join(dir, hooks.keep), { recursive: true });
      });
    },
  });
  return { model, history: result.history };
}

/** The state of the checkpoint a rerun under the same key would resume from, if any. */
export async function resumedState(ctx: Pick<AnyContext, 'resume'>): Promise<TrainingState | undefined> {
  return (await ctx.resume<TrainingState & Json>())?.state;
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

/** The model config for this data, with every site's nonlinearity set to `activation`. */
export function modelFor(stage: string, arch: ArchParams, data: DataValue, activation: Nonlinearity): ModelConfig {
  try {
    if (arch.kind === 'mlp')
      return parseModelConfig({ ...arch, inputShape: data.shape, outputs: data.classes, activation });
    return parseModelConfig({ ...arch, inputShape: data.shape, classes: data.classes, activation });
  } catch (error) {
    throw new Error(
      `stage '${stage}': param 'arch' ${(error as Error).message.replace(/^invalid model config: /, 'is invalid: ')}; fix it in pipeline.ts or with --set ${stage}.arch.<field>=<value>`,
    );
  }
}
