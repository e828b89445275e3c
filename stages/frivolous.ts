/**
 * frivolous: prunable and redundant units of a trained dense network (docs/science.md, "Prunable units, Redundant units",
 * following the Frivolous Units paper's public code): random knockout of the first ⌊p·n_l⌋ units
 * of a random order in every recorded layer at once, agreement with the intact network's argmax
 * on the test set, p* where it crosses 0.8; PCA of the test-set activations (conv: every position
 * a sample), c_l = the fraction of lowest-variance directions that carry 5 % of the variance.
 * Counts are normalised by f/F so that a sweep over widths f ≤ F reads as in the paper (F = 4).
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { DataValue, FrivolousValue, PretrainValue } from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTraining } from './lib/runtime.ts';

/** The knobs of §2.3–2.4, shared with `frivolous-linearized`. */
export const frivolousParams = {
  /** Random knockout orders (the reference code's 3 "crosses"). */
  orders: z.number().int().positive().default(3),
  /** Agreement at which a level counts as pruned (0.8 in the paper). */
  threshold: z.number().gt(0).lt(1).default(0.8),
  /** Variance share carried by the redundant, lowest-variance directions (5 %). */
  energy: z.number().gt(0).lt(1).default(0.05),
  /** Activation rows kept per layer for the PCA (5·10⁴). */
  maxSamples: z.number().int().positive().default(50_000),
  seed: z.number().int().default(0),
};

export const frivolousStage = defineStage({
  name: 'frivolous',
  description: 'prunable (random knockout) and redundant (PCA) units of a dense network',
  params: z.object({
    ...frivolousParams,
    /** The widest factor F of the sweep: normalised counts are fractions × f/F. */
    widest: z.number().positive().default(4),
  }),
  inputs: { data: input<DataValue>('prepared data'), dense: input<PretrainValue>('trained dense network') },
  env: BACKEND_ENV,
  run: async (ctx): Promise<FrivolousValue> => {
    const [{ frivolousMeasures, loadModel }, { dataOf, useBackend }] = await Promise.all([
      loadModels(),
      loadTraining(),
    ]);
    const { params } = ctx;
    await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const dense = ctx.inputs.dense.value;
    const model = await loadModel(ctx.inputs.dense.file(dense.snapshots[dense.epochs]!));
    try {
      const m = frivolousMeasures(model, data.test, params);
      const share = dense.width / params.widest;
      const prunable = m.prunability.threshold * share;
      const redundant = m.redundantFraction * share;
      ctx.log(
        `width ×${dense.width}: p* ${m.prunability.threshold.toFixed(3)} (orders ${m.prunability.thresholds.map((t) => t.toFixed(3)).join(', ')}), redundant fraction ${m.redundantFraction.toFixed(3)}`,
      );
      return {
        width: dense.width,
        widest: params.widest,
        params: dense.params,
        testAccuracy: dense.testAccuracy,
        sites: m.sites,
        units: m.sites.map((id) => model.site(id).channels),
        prunability: m.prunability,
        redundancy: m.redundancy,
        redundantFraction: m.redundantFraction,
        settings: { threshold: params.threshold, energy: params.energy, maxSamples: params.maxSamples },
        normalized: { prunable, nonPrunable: share - prunable, redundant, nonRedundant: share - redundant },
      };
    } finally {
      model.dispose();
    }
  },
});
