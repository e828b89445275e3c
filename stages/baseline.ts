/**
 * baseline: trains the width-matched plain ReLU network from scratch with the experiment's total
 * budget, so its accuracy can stand beside the linearised network's.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { BaselineShapeValue, BaselineValue, DataValue } from './lib/artifacts.ts';
import { recipeParams } from './lib/arch.ts';
import { BACKEND_ENV, loadModels, loadTraining } from './lib/runtime.ts';

export const baselineStage = defineStage({
  name: 'baseline',
  description: 'the width-matched plain network, trained from scratch',
  params: z.object({ seed: z.number().int().default(0), recipe: recipeParams.prefault({ epochs: 6 }) }),
  inputs: { data: input<DataValue>('prepared data'), shape: input<BaselineShapeValue>('baseline shape') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<BaselineValue> => {
    const [{ buildModel }, { dataOf, trainedValue, trainResumable, useBackend }] = await Promise.all([
      loadModels(),
      loadTraining(),
    ]);
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const shape = ctx.inputs.shape.value;
    const run = await trainResumable(ctx, () => buildModel(shape.model, ctx.params.seed), data, {
      ...ctx.params.recipe,
      seed: ctx.params.seed,
    });
    try {
      return {
        ...trainedValue(run, data, ctx.params.seed, backend),
        depth: shape.depth,
        targetParams: shape.targetParams,
      };
    } finally {
      run.model.dispose();
    }
  },
});
