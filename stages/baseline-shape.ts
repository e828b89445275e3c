/**
 * baseline-shape: the plain all-ReLU network a linearised one is compared with (docs/science.md, "The width-matched baseline"):
 * D = max(minDepth, round(APL_norm)) nonlinear layers (minDepth 1 by default) in the source's stage layout, widths scaled by
 * bisection until its parameter count is within tolerance of the linearised network's. Its output
 * depends only on D and the target, so every ω and start with the same D share one baseline.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { BaselineShapeValue, LinearizeValue, PathLengthValue } from './lib/artifacts.ts';
import { loadModels } from './lib/runtime.ts';

export const baselineShapeStage = defineStage({
  name: 'baseline-shape',
  description: 'depth D = round(APL), widths matched to the parameter count',
  params: z.object({
    tolerance: z.number().positive().max(0.5).default(0.02),
    /**
     * The shallowest baseline built: D = max(minDepth, round(APL)). A parameter-matched single
     * layer with a GAP head is very wide (≈ 1,900 channels for a 28k-parameter CNN) and slow to
     * train; a deeper baseline only makes "the linearised network beats it" harder to reproduce.
     */
    minDepth: z.number().int().positive().default(1),
    /**
     * The deepest baseline built: a network whose APL rounds to its own depth would be compared
     * with itself retrained (the claim leaves those out), and whole channel counts may not match
     * its parameter count within the tolerance.
     */
    maxDepth: z.number().int().positive().optional(),
  }),
  inputs: {
    linearized: input<LinearizeValue>('linearised network'),
    pathLength: input<PathLengthValue>('its path length'),
  },
  // Milliseconds to a second of work: a cluster job would cost more than the stage (it runs in the driver).
  resources: { local: true },
  run: async (ctx): Promise<BaselineShapeValue> => {
    const { widthMatchedBaseline } = await loadModels();
    const depth = Math.min(
      ctx.params.maxDepth ?? Infinity,
      Math.max(ctx.params.minDepth, Math.round(ctx.inputs.pathLength.value.normalized)),
    );
    const target = ctx.inputs.linearized.value.params;
    let b;
    try {
      b = widthMatchedBaseline(ctx.inputs.linearized.value.model, depth, target, ctx.params.tolerance);
    } catch (error) {
      throw new Error(
        `stage 'baseline-shape': ${(error as Error).message}; a small network may need a looser baseline-shape.tolerance (now ${ctx.params.tolerance})`,
      );
    }
    ctx.log(
      `D = ${depth}: ${b.params} parameters for a target of ${target} (${(100 * b.relativeError).toFixed(2)} %), width ×${b.multiplier.toFixed(3)}`,
    );
    return {
      depth,
      model: b.config,
      params: b.params,
      targetParams: target,
      relativeError: b.relativeError,
      multiplier: b.multiplier,
    };
  },
});
