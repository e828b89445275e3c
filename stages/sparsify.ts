/**
 * sparsify: from the dense run's weights at epoch `start` (0 = initialisation, "early"; E = after
 * training, "late"), replace ReLUs by channel-wise PReLUs at α = 0 and train with the penalty
 * ω·Σ√(|1−α| + ε_r) (science.md §1.3), α kept in [0, 1] and snapped to 1 (and frozen) within ε_snap.
 * By default the total budget (dense epochs before the start + sparsified epochs) is the same for
 * every start, so early and late runs get equal training.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import { countUnits, loadModel, saveModel, siteUnits, sparsityPenalty, withPrelu, type Model, type ModelConfig } from '../src/models/index.ts';
import type { DataValue, PretrainValue, SparsifyValue } from './lib/artifacts.ts';
import { recipeParams } from './lib/arch.ts';
import { BACKEND_ENV, dataOf, trainedValue, trainResumable, useBackend } from './lib/training.ts';

const START_LABELS = { early: 'from initialisation', mid: 'half-way through dense training', late: 'after dense training' } as const;

/** The dense epoch a start label means, for a dense run of `epochs` epochs. */
export function startEpoch(start: keyof typeof START_LABELS | number, epochs: number): number {
  if (typeof start === 'number') return start;
  return start === 'early' ? 0 : start === 'mid' ? Math.round(epochs / 2) : epochs;
}

const nonlinearCount = (model: Model<ModelConfig>, snap: number) => countUnits(siteUnits(model, snap)).k;

export const sparsifyStage = defineStage({
  name: 'sparsify',
  description: 'PReLU slopes pushed to 1 by ω·Σ|1−α|^½, started at a chosen epoch of the dense run',
  params: z.object({
    omega: z.number().nonnegative().default(1e-3),
    /** `early` (0), `mid` (E/2), `late` (E), or a dense epoch. */
    start: z.union([z.enum(['early', 'mid', 'late']), z.number().int().nonnegative()]).default('late'),
    /** Epochs the late run sparsifies for; the budget is E + postEpochs unless `budget` is set. */
    postEpochs: z.number().int().positive().default(2),
    budget: z.number().int().positive().optional(),
    epsilonRoot: z.number().positive().default(1e-8),
    snap: z.number().nonnegative().default(1e-3),
    seed: z.number().int().default(0),
    recipe: recipeParams.omit({ epochs: true }).prefault({}),
  }),
  inputs: { data: input<DataValue>('prepared data'), dense: input<PretrainValue>('pretrain snapshots') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<SparsifyValue> => {
    const { params } = ctx;
    const dense = ctx.inputs.dense.value;
    const start = startEpoch(params.start, dense.epochs);
    if (start > dense.epochs) {
      throw new Error(`stage 'sparsify': start epoch ${start} is past the dense run's ${dense.epochs} epochs; set sparsify.start to early, mid, late or 0…${dense.epochs}`);
    }
    const budget = params.budget ?? dense.epochs + params.postEpochs;
    const epochs = budget - start;
    if (epochs < 1) {
      throw new Error(`stage 'sparsify': a budget of ${budget} epochs leaves none to sparsify after starting at epoch ${start}; raise sparsify.budget or sparsify.postEpochs`);
    }
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const penalty = sparsityPenalty({ omega: params.omega, epsilonRoot: params.epsilonRoot, snap: params.snap });
    const nonlinearPerEpoch: number[] = [];
    const run = await trainResumable(
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
      { ...params.recipe, epochs, seed: params.seed },
      { regularizers: [penalty], onEpoch: async (_end, model) => void nonlinearPerEpoch.push(nonlinearCount(model, params.snap)) },
    );
    try {
      await saveModel(run.model, join(ctx.outDir, 'model'));
      ctx.log(`ω ${params.omega}, start epoch ${start} (${typeof params.start === 'string' ? START_LABELS[params.start] : 'given'}): ${nonlinearCount(run.model, params.snap)} nonlinear units left`);
      return {
        ...trainedValue(run, data, params.seed, backend),
        omega: params.omega,
        startEpoch: start,
        start: String(params.start),
        budget,
        epochs,
        nonlinearPerEpoch,
      };
    } finally {
      penalty.dispose();
      run.model.dispose();
    }
  },
});
