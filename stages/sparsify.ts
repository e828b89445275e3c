/**
 * sparsify: from the dense run's weights at epoch `start` (0 = initialisation, "early"; E = after
 * training, "late"), replace ReLUs by channel-wise PReLUs at α = 0 and train with the penalty
 * ω·Σ√(|1−α| + ε_r) (docs/science.md, "The sparsity penalty"), α kept in [0, 1] and snapped to 1
 * (and frozen) within ε_snap. Optionally a fine-tune follows: every α snapped once more and frozen
 * where it stands, ω = 0, the weights trained on (`fineTuneEpochs`).
 * Budgets: `total` (default) gives every start the same epochs in all (dense epochs before the
 * start + penalty + fine-tune = E + postEpochs); `penalty` gives every start the same penalty
 * length (postEpochs − fineTuneEpochs). The papers do not say which they used.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input, type Json } from '../src/index.ts';
import type { EpochMetrics, Model, ModelConfig } from '../src/models/index.ts';
import type { DataValue, PretrainValue, SparsifyValue } from './lib/artifacts.ts';
import { recipeParams } from './lib/arch.ts';
import { BACKEND_ENV, loadModels, loadTraining, type Models } from './lib/runtime.ts';
import type { TrainedRun } from './lib/training.ts';

const START_LABELS = {
  early: 'from initialisation',
  mid: 'half-way through dense training',
  late: 'after dense training',
} as const;

/** The dense epoch a start label means, for a dense run of `epochs` epochs. */
export function startEpoch(start: keyof typeof START_LABELS | number, epochs: number): number {
  if (typeof start === 'number') return start;
  return start === 'early' ? 0 : start === 'mid' ? Math.round(epochs / 2) : epochs;
}

const nonlinearCount = ({ countUnits, siteUnits }: Models, model: Model<ModelConfig>, snap: number) =>
  countUnits(siteUnits(model, snap)).k;

const sparsifyParams = z.object({
  omega: z.number().nonnegative().default(1e-3),
  /** `early` (0), `mid` (E/2), `late` (E), or a dense epoch. */
  start: z.union([z.enum(['early', 'mid', 'late']), z.number().int().nonnegative()]).default('late'),
  /** Epochs the late run trains for after the dense run (penalty + fine-tune); the budget is E + postEpochs unless `budget` is set. */
  postEpochs: z.number().int().positive().default(2),
  budget: z.number().int().positive().optional(),
  /** `total`: every start gets the same epochs in all; `penalty`: every start gets the same penalty epochs. */
  budgetRule: z.enum(['total', 'penalty']).default('total'),
  /** Epochs after the penalty with every α snapped and frozen and ω = 0 (0: none). */
  fineTuneEpochs: z.number().int().nonnegative().default(0),
  /** Learning rate of the penalty phase when it starts from initialisation (training from scratch); default recipe.lr. */
  scratchLr: z.number().positive().optional(),
  epsilonRoot: z.number().positive().default(1e-8),
  snap: z.number().nonnegative().default(1e-3),
  seed: z.number().int().default(0),
  recipe: recipeParams.omit({ epochs: true }).prefault({}),
});
type SparsifyParams = z.output<typeof sparsifyParams>;

/**
 * When the penalty starts, how many epochs it runs, and the budget: the dense epochs before the
 * start plus the sparse phase (its penalty epochs and the fine-tune after them).
 */
function epochPlan(params: SparsifyParams, denseEpochs: number): { start: number; budget: number; epochs: number } {
  const start = startEpoch(params.start, denseEpochs);
  if (start > denseEpochs) {
    throw new Error(
      `stage 'sparsify': start epoch ${start} is past the dense run's ${denseEpochs} epochs; set sparsify.start to early, mid, late or 0…${denseEpochs}`,
    );
  }
  const budget = params.budget ?? denseEpochs + params.postEpochs;
  const sparsified = params.budgetRule === 'total' ? budget - start : params.postEpochs;
  const epochs = sparsified - params.fineTuneEpochs;
  if (epochs < 1) {
    throw new Error(
      `stage 'sparsify': ${sparsified} epochs after starting at epoch ${start} leave no penalty epoch before a ${params.fineTuneEpochs}-epoch fine-tune; raise sparsify.budget or sparsify.postEpochs, or lower sparsify.fineTuneEpochs`,
    );
  }
  return { start, budget, epochs };
}

export const sparsifyStage = defineStage({
  name: 'sparsify',
  description: 'PReLU slopes pushed to 1 by ω·Σ|1−α|^½, started at a chosen epoch of the dense run',
  params: sparsifyParams,
  inputs: { data: input<DataValue>('prepared data'), dense: input<PretrainValue>('pretrain snapshots') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<SparsifyValue> => {
    const [models, { dataOf, resumedState, trainedValue, trainResumable, useBackend }] = await Promise.all([
      loadModels(),
      loadTraining(),
    ]);
    const { frozenSlopes, loadModel, saveModel, snapAlphas, sparsityPenalty, withPrelu } = models;
    const { params } = ctx;
    const dense = ctx.inputs.dense.value;
    const { start, budget, epochs } = epochPlan(params, dense.epochs);
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const penalty = sparsityPenalty({ omega: params.omega, epsilonRoot: params.epsilonRoot, snap: params.snap });
    const frozen = frozenSlopes();
    // Kept in every checkpoint, so a run resumed in its fine-tune still reports the penalty phase.
    let kept: { nonlinearPerEpoch: number[]; penaltyHistory: EpochMetrics[] } = {
      nonlinearPerEpoch: [],
      penaltyHistory: [],
    };
    const resumed = await resumedState(ctx);
    // biome-ignore lint/plugin: written by `extra` below into this cache key's own checkpoint
    if (resumed?.extra) kept = resumed.extra as unknown as typeof kept;
    const recipe = { ...params.recipe, seed: params.seed };
    // biome-ignore lint/plugin: plain numbers and arrays, but interfaces have no index signature for Json
    const extra = () => kept as unknown as Json;
    let run!: TrainedRun;
    try {
      if (resumed?.phase !== 'fine-tune') {
        run = await trainResumable(
          ctx,
          async () => {
            const relu = await loadModel(ctx.inputs.dense.file(dense.snapshots[start]!));
            try {
              return withPrelu(relu);
            } finally {
              relu.dispose();
            }
          },
          data,
          { ...recipe, epochs, ...(start === 0 && params.scratchLr !== undefined ? { lr: params.scratchLr } : {}) },
          {
            phase: 'penalty',
            extra,
            regularizers: [penalty],
            onEpoch: async (end, model) => {
              kept = {
                nonlinearPerEpoch: [...kept.nonlinearPerEpoch, nonlinearCount(models, model, params.snap)],
                penaltyHistory: [...end.history],
              };
            },
          },
        );
      }
      if (params.fineTuneEpochs > 0) {
        const afterPenalty = run!;
        run = await trainResumable(
          ctx,
          () => {
            snapAlphas(afterPenalty.model, params.snap);
            return afterPenalty.model;
          },
          data,
          { ...recipe, epochs: params.fineTuneEpochs },
          { phase: 'fine-tune', extra, regularizers: [frozen] },
        );
        run = {
          model: run.model,
          history: [...kept.penaltyHistory, ...run.history.map((h) => ({ ...h, epoch: h.epoch + epochs }))],
        };
      }
    } catch (error) {
      penalty.dispose();
      frozen.dispose();
      throw error;
    }
    const nonlinearPerEpoch = kept.nonlinearPerEpoch;
    try {
      await saveModel(run.model, join(ctx.outDir, 'model'));
      ctx.log(
        `ω ${params.omega}, start epoch ${start} (${typeof params.start === 'string' ? START_LABELS[params.start] : 'given'}): ${nonlinearCount(models, run.model, params.snap)} nonlinear units left`,
      );
      return {
        ...trainedValue(run, data, params.seed, backend),
        omega: params.omega,
        startEpoch: start,
        start: String(params.start),
        budget,
        budgetRule: params.budgetRule,
        epochs,
        fineTuneEpochs: params.fineTuneEpochs,
        penaltyLr: start === 0 && params.scratchLr !== undefined ? params.scratchLr : params.recipe.lr,
        fineTuneLr: params.recipe.lr,
        clipNorm: params.recipe.clipNorm,
        nonlinearPerEpoch,
      };
    } finally {
      penalty.dispose();
      frozen.dispose();
      run.model.dispose();
    }
  },
});
