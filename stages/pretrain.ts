/**
 * pretrain: dense training of the chosen architecture with plain ReLUs (PReLU at α = 0) for E
 * epochs, keeping the weights of every epoch (0 = initialisation) so that `sparsify` can start from
 * any epoch without training again.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { Model, ModelConfig } from '../src/models/index.ts';
import type { DataValue, PretrainValue } from './lib/artifacts.ts';
import { archParams, recipeParams, resize } from './lib/arch.ts';
import { BACKEND_ENV, loadModels, loadTraining } from './lib/runtime.ts';

export const snapshotDir = (epoch: number) => join('snapshots', `epoch-${String(epoch).padStart(3, '0')}`);

export const pretrainStage = defineStage({
  name: 'pretrain',
  description: 'dense ReLU training, a snapshot of every epoch',
  params: z.object({
    arch: archParams.default({
      kind: 'plain-cnn',
      channels: [16, 16, 32, 32],
      poolAfter: [1],
      batchNorm: false,
      head: 'flatten',
    }),
    /** Channel multiplier over `arch` (docs/science.md, "Average path length": core networks should not depend on it). */
    width: z.number().positive().default(1),
    /** Depth override: conv layers (plain CNN), 6n+2 (ResNet) or hidden layers (MLP). */
    depth: z.number().int().positive().optional(),
    /** Initial weights and data order. */
    seed: z.number().int().default(0),
    recipe: recipeParams.prefault({ epochs: 4 }),
  }),
  inputs: { data: input<DataValue>('prepared data') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<PretrainValue> => {
    const [{ buildModel, saveModel }, { dataOf, modelFor, trainedValue, trainResumable, useBackend }] =
      await Promise.all([loadModels(), loadTraining()]);
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const config = modelFor(
      'pretrain',
      resize(ctx.params.arch, ctx.params.width, ctx.params.depth),
      ctx.inputs.data.value,
      'relu',
    );
    const snapshot = (model: Model<ModelConfig>, epoch: number) =>
      saveModel(model, join(ctx.outDir, snapshotDir(epoch)));
    const run = await trainResumable(
      ctx,
      async () => {
        const model = buildModel(config, ctx.params.seed);
        await snapshot(model, 0);
        return model;
      },
      data,
      { ...ctx.params.recipe, seed: ctx.params.seed },
      { keep: 'snapshots', onEpoch: (end, model) => snapshot(model, end.metrics.epoch) },
    );
    try {
      const epochs = ctx.params.recipe.epochs;
      return {
        ...trainedValue(run, data, ctx.params.seed, backend),
        epochs,
        width: ctx.params.width,
        snapshots: Array.from({ length: epochs + 1 }, (_, e) => snapshotDir(e)),
      };
    } finally {
      run.model.dispose();
    }
  },
});
