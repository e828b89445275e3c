/**
 * path-length: the average path length of the linearised network (docs/science.md, "Average path length"), normalised
 * (backward walk, ½/½ at residual junctions: the effective depth) and unnormalised (every
 * input→output path equally), the per-layer nonlinear fractions k_l/n_l, the effective width and
 * the total nonlinear units (§1.7), and which channels stay nonlinear.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { LinearizeValue, PathLengthValue } from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTraining } from './lib/runtime.ts';

export const pathLengthStage = defineStage({
  name: 'path-length',
  description: 'APL (normalised and unnormalised), k_l/n_l, effective depth and width',
  params: z.object({
    /** ε_lin for counting a unit as linear; defaults to the one linearize used. */
    epsilon: z.number().positive().optional(),
  }),
  inputs: { linearized: input<LinearizeValue>('linearised network') },
  env: BACKEND_ENV,
  // Milliseconds to a second of work: a cluster job would cost more than the stage (it runs in the driver).
  resources: { local: true },
  run: async (ctx): Promise<PathLengthValue> => {
    const [{ coreNetwork, countUnits, loadModel, siteUnits }, { useBackend }] = await Promise.all([
      loadModels(),
      loadTraining(),
    ]);
    await useBackend(ctx);
    const epsilon = ctx.params.epsilon ?? ctx.inputs.linearized.value.epsilon;
    const model = await loadModel(ctx.inputs.linearized.file('model'));
    try {
      const units = siteUnits(model, epsilon);
      const masks: Record<string, number[]> = {};
      for (const site of model.sites) {
        const alpha = site.alpha ? model.get(site.alpha).dataSync() : undefined;
        masks[site.id] = alpha
          ? Array.from(alpha, (a) => (Math.abs(1 - a) >= epsilon ? 1 : 0))
          : Array(site.channels).fill(site.nonlinearity === 'linear' ? 0 : 1);
      }
      const core = coreNetwork(model.structure, model.sites, units);
      ctx.log(
        `APL normalised ${core.pathLength.normalized.toFixed(3)}, unnormalised ${core.pathLength.unnormalized.toFixed(3)}; ${core.total} nonlinear units, W_eff ${core.effectiveWidth.toFixed(1)}`,
      );
      return {
        epsilon,
        normalized: core.pathLength.normalized,
        unnormalized: core.pathLength.unnormalized,
        effectiveDepth: core.effectiveDepth,
        effectiveWidth: core.effectiveWidth,
        total: core.total,
        units: countUnits(units).n,
        layers: core.fractions.map((f) => ({ ...f, role: model.site(f.site).role })),
        masks,
      };
    } finally {
      model.dispose();
    }
  },
});
