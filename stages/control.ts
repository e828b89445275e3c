/**
 * control: the networks a task must beat before the nonlinear-advantage claims can be tested on it
 * (docs/science.md, "The task gate"). Either the dense architecture with every unit linear (its
 * initial weights, every α = 1 and frozen: a linear classifier with the same parameters), or a
 * plain all-ReLU network of fixed depth D whose widths are matched to the dense network's
 * parameter count (the same construction as the APL-matched baseline). Both are trained from
 * scratch with the run's total budget. If the dense network cannot beat them by a clear margin,
 * depth and nonlinearity are not what the task needs, and "late beats early" means nothing there.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { Model, ModelConfig } from '../src/models/index.ts';
import type { ControlValue, DataValue, PretrainValue } from './lib/artifacts.ts';
import { recipeParams } from './lib/arch.ts';
import { BACKEND_ENV, loadModels, loadTf, loadTraining, type Models, type Tf } from './lib/runtime.ts';

/** The dense network's initial weights with every PReLU at α = 1: linear end to end. */
function linearTwin(relu: Model<ModelConfig>, { withPrelu }: Models, tf: Tf): Model<ModelConfig> {
  const model = withPrelu(relu);
  for (const site of model.sites) if (site.alpha) model.get(site.alpha).assign(tf.ones([site.channels]));
  return model;
}

export const controlStage = defineStage({
  name: 'control',
  description: 'the task gate: the dense shape made linear, or a plain network of fixed depth D',
  params: z.object({
    network: z.enum(['linear', 'plain']).default('linear'),
    /** Nonlinear layers of the plain network. */
    depth: z.number().int().positive().default(1),
    tolerance: z.number().positive().max(0.5).default(0.02),
    seed: z.number().int().default(0),
    recipe: recipeParams.prefault({ epochs: 6 }),
  }),
  inputs: { data: input<DataValue>('prepared data'), dense: input<PretrainValue>('the dense network it controls for') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<ControlValue> => {
    const [models, tf, { dataOf, trainedValue, trainResumable, useBackend }] = await Promise.all([
      loadModels(),
      loadTf(),
      loadTraining(),
    ]);
    const { buildModel, frozenSlopes, loadModel, widthMatchedBaseline } = models;
    const { params } = ctx;
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const dense = ctx.inputs.dense.value;
    const frozen = frozenSlopes();
    let fresh: () => Promise<Model<ModelConfig>>;
    let depth: number;
    if (params.network === 'linear') {
      depth = 0;
      fresh = async () => {
        const relu = await loadModel(ctx.inputs.dense.file(dense.snapshots[0]!));
        try {
          return linearTwin(relu, models, tf);
        } finally {
          relu.dispose();
        }
      };
    } else {
      depth = params.depth;
      let shape;
      try {
        shape = widthMatchedBaseline(dense.model, depth, dense.params, params.tolerance);
      } catch (error) {
        throw new Error(
          `stage 'control': ${(error as Error).message}; a small network may need a looser control.tolerance (now ${params.tolerance})`,
        );
      }
      ctx.log(`plain D = ${depth}: ${shape.params} parameters for the dense network's ${dense.params}`);
      fresh = async () => buildModel(shape.config, params.seed);
    }
    const run = await trainResumable(
      ctx,
      fresh,
      data,
      { ...params.recipe, seed: params.seed },
      params.network === 'linear' ? { regularizers: [frozen] } : {},
    );
    try {
      return { ...trainedValue(run, data, params.seed, backend), network: params.network, depth };
    } finally {
      frozen.dispose();
      run.model.dispose();
    }
  },
});
