/**
 * frivolous-linearized: the frivolous-unit measures on a linearised network of the main
 * experiment, and the question that joins the two papers: are the units that stay nonlinear the
 * non-frivolous ones? The nonlinear units (every layer at once) are knocked out and the agreement
 * with the intact network compared with random sets of the same per-layer sizes; the same for the
 * linear units, and for the to-stay-nonlinear units in the dense snapshot the run started from.
 * A set that matters more than chance costs more agreement than its random twins.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { Dataset, Model, ModelConfig } from '../src/models/index.ts';
import type {
  DataValue,
  FrivolousLinearizedValue,
  KnockoutValue,
  LinearizeValue,
  PathLengthValue,
  PretrainValue,
} from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTraining, type Models } from './lib/runtime.ts';
import { frivolousParams } from './frivolous.ts';

function knockout(
  { targetedKnockout }: Models,
  model: Model<ModelConfig>,
  ds: Dataset,
  masks: Readonly<Record<string, readonly number[]>>,
  pick: (nonlinear: number) => boolean,
  options: { orders: number; seed: number; reference: Int32Array },
): KnockoutValue {
  return targetedKnockout(
    model,
    ds,
    new Map(Object.entries(masks).map(([site, mask]) => [site, mask.map(pick)] as const)),
    options,
  );
}

export const frivolousLinearizedStage = defineStage({
  name: 'frivolous-linearized',
  description: 'frivolous measures of a linearised network; its nonlinear units knocked out against random ones',
  params: z.object(frivolousParams),
  inputs: {
    data: input<DataValue>('prepared data'),
    dense: input<PretrainValue>('the dense snapshots the run started from'),
    linearized: input<LinearizeValue>('linearised network'),
    pathLength: input<PathLengthValue>('its nonlinear-unit masks'),
  },
  env: BACKEND_ENV,
  run: async (ctx): Promise<FrivolousLinearizedValue> => {
    const [models, { dataOf, useBackend }] = await Promise.all([loadModels(), loadTraining()]);
    const { frivolousMeasures, loadModel, predictions } = models;
    const { params } = ctx;
    await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const lin = ctx.inputs.linearized.value;
    const { masks } = ctx.inputs.pathLength.value;
    const options = { orders: params.orders, seed: params.seed };
    const model = await loadModel(ctx.inputs.linearized.file('model'));
    const source = await loadModel(ctx.inputs.dense.file(ctx.inputs.dense.value.snapshots[lin.startEpoch]!));
    try {
      const m = frivolousMeasures(model, data.test, params);
      const reference = predictions(model, data.test);
      const value: FrivolousLinearizedValue = {
        omega: lin.omega,
        start: lin.start,
        startEpoch: lin.startEpoch,
        nonlinear: ctx.inputs.pathLength.value.total,
        units: ctx.inputs.pathLength.value.units,
        prunableThreshold: m.prunability.threshold,
        redundantFraction: m.redundantFraction,
        knockNonlinear: knockout(models, model, data.test, masks, (k) => k === 1, { ...options, reference }),
        knockLinear: knockout(models, model, data.test, masks, (k) => k === 0, { ...options, reference }),
        knockNonlinearAtStart: knockout(models, source, data.test, masks, (k) => k === 1, {
          ...options,
          reference: predictions(source, data.test),
        }),
      };
      const pair = (k: KnockoutValue) =>
        `${(100 * k.targeted).toFixed(1)}% vs random ${(100 * k.randomMean).toFixed(1)}%`;
      ctx.log(
        `p* ${value.prunableThreshold.toFixed(3)}, redundant ${value.redundantFraction.toFixed(3)}; agreement with ${value.nonlinear} nonlinear units out: ${pair(value.knockNonlinear)}; linear out: ${pair(value.knockLinear)}; at the start epoch: ${pair(value.knockNonlinearAtStart)}`,
      );
      return value;
    } finally {
      model.dispose();
      source.dispose();
    }
  },
});
