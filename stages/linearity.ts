/**
 * linearity: transition to linearity of one NTK-parametrised MLP of width m (docs/science.md, "Kernel drift and the linearisation gap",
 * §5.4): n points on the unit sphere in ℝ^d with the target x₁·x₂, full-batch gradient descent on
 * the squared loss; the spectral norm of the Hessian of the output with respect to the parameters
 * (power iteration on central-difference Hessian-vector products; tfjs has no double backprop),
 * averaged over probe inputs, at initialisation and after training; the relative change of the
 * tangent kernel on probe points; the gap to the linearisation around the initial weights.
 * Variants: a linear output, a tanh output, and a narrow bottleneck layer between two wide ones.
 */
import { z } from 'zod';
import { defineStage } from '../src/index.ts';
import type { MlpConfig } from '../src/models/index.ts';
import type { LinearityValue } from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTf, loadTraining } from './lib/runtime.ts';

export const linearityStage = defineStage({
  name: 'linearity',
  description: 'Hessian norm, kernel drift and linearisation gap of an NTK MLP of width m',
  params: z.object({
    width: z.number().int().positive().default(256),
    /** Wide hidden layers (tanh). */
    depth: z.number().int().positive().default(1),
    output: z.enum(['linear', 'tanh']).default('linear'),
    /** A hidden layer of this width after the first wide one, followed by another wide one; 0 = none. */
    bottleneck: z.number().int().nonnegative().default(0),
    inputs: z.number().int().min(2).default(10),
    points: z.number().int().positive().default(128),
    steps: z.number().int().positive().default(1000),
    /** Gradient-descent rate; halved (up to 6 times) while the loss diverges. */
    lr: z.number().positive().default(1),
    hessianProbes: z.number().int().positive().default(8),
    kernelProbes: z.number().int().positive().default(32),
    /** Power-iteration steps for each Hessian norm (stops earlier at relative change < 1e-3). */
    iterations: z.number().int().positive().default(30),
    seed: z.number().int().default(0),
  }),
  inputs: {},
  env: BACKEND_ENV,
  run: async (ctx): Promise<LinearityValue> => {
    const [models, tf, { useBackend }] = await Promise.all([loadModels(), loadTf(), loadTraining()]);
    const {
      buildModel,
      fitSquaredLoss,
      linearizationGap,
      meanHessianNorm,
      relativeKernelChange,
      relativeTravel,
      sphereProductTask,
      tangentKernel,
    } = models;
    const { params } = ctx;
    const backend = await useBackend(ctx);
    const widths =
      params.bottleneck > 0
        ? [params.width, params.bottleneck, ...Array(params.depth).fill(params.width)]
        : Array(params.depth).fill(params.width);
    const config: MlpConfig = {
      kind: 'mlp',
      inputShape: [params.inputs],
      outputs: 1,
      depth: widths.length,
      width: params.width,
      widths,
      activation: 'tanh',
      outputActivation: params.output,
      parametrization: 'ntk',
      bias: false,
      init: 'lecun',
    };
    const task = sphereProductTask(params.points, params.inputs, params.seed);
    const x = tf.tensor2d(task.x, [params.points, params.inputs]);
    const y = tf.tensor1d(task.y);
    // Probes are training points, as §3.3 suggests for the kernel.
    const kernelProbes = tf.slice(x, [0], [Math.min(params.kernelProbes, params.points)]);
    const hessianProbes = tf.slice(x, [0], [Math.min(params.hessianProbes, params.points)]);
    const initial = buildModel(config, params.seed);
    let model = buildModel(config, params.seed);
    try {
      const hessianOptions = { iterations: params.iterations, tolerance: 1e-3, seed: params.seed };
      const h0 = meanHessianNorm(initial, hessianProbes, hessianOptions).norm;
      const k0 = tangentKernel(initial, kernelProbes);
      let lr = params.lr;
      let trace;
      for (let attempt = 0; ; attempt++) {
        try {
          trace = fitSquaredLoss(model, x, y, { lr, steps: params.steps });
          break;
        } catch (error) {
          if (attempt === 6)
            throw new Error(
              `stage 'linearity': gradient descent diverged at every rate down to ${lr} for width ${params.width}; lower linearity.lr (${(error as Error).message})`,
            );
          lr /= 2;
          model.dispose();
          model = buildModel(config, params.seed);
          ctx.log(`diverged; halving the rate to ${lr}`);
        }
      }
      const value: LinearityValue = {
        width: params.width,
        depth: params.depth,
        output: params.output,
        bottleneck: params.bottleneck,
        params: model.paramCount().trainable,
        seed: params.seed,
        backend,
        lr,
        loss: { initial: trace[0]!.loss, final: trace.at(-1)!.loss },
        hessian: { initial: h0, final: meanHessianNorm(model, hessianProbes, hessianOptions).norm },
        kernelDrift: relativeKernelChange(k0, tangentKernel(model, kernelProbes)),
        linearizationGap: linearizationGap(initial, model, kernelProbes),
        travel: relativeTravel(initial, model),
      };
      ctx.log(
        `m ${params.width} (${params.output} output${params.bottleneck ? `, bottleneck ${params.bottleneck}` : ''}): loss ${value.loss.initial.toExponential(2)} → ${value.loss.final.toExponential(2)}; ‖H‖ ${h0.toExponential(3)} → ${value.hessian.final.toExponential(3)}; kernel drift ${value.kernelDrift.toExponential(3)}; gap ${value.linearizationGap.toExponential(3)}`,
      );
      return value;
    } finally {
      initial.dispose();
      model.dispose();
      tf.dispose([x, y, kernelProbes, hessianProbes]);
    }
  },
});
