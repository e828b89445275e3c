/**
 * kernel-drift: the bridge between the papers (docs/science.md, "The bridge"). The transition-to-linearity
 * measurements on a PReLU network of the main experiment, between the dense snapshot its
 * sparsified run started from and the end of that run: Hessian norm of logit 0 with respect to
 * the parameters at both ends, the relative change of the tangent kernel on test images, the gap
 * to the linearisation around the start, and how far the weights travelled. Does the kernel move
 * more when the penalty starts early, and does that go with the early/late accuracy gap?
 * (The linearity meant here is in the parameters, not the PReLUs' α = 1 linearity in the input.)
 * The parameters here are the weights without α, held at their values in each network.
 */
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { DataValue, KernelDriftValue, PretrainValue, SparsifyValue } from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTf, loadTraining } from './lib/runtime.ts';

export const kernelDriftStage = defineStage({
  name: 'kernel-drift',
  description: 'Hessian norm, tangent-kernel drift and linearisation gap across a sparsified run',
  params: z.object({
    hessianProbes: z.number().int().positive().default(4),
    kernelProbes: z.number().int().positive().default(32),
    iterations: z.number().int().positive().default(20),
    /**
     * Central-difference step of the Hessian-vector products. ReLU networks are piecewise linear:
     * a step that crosses a kink adds a jump to the product and swamps it, so the step is small.
     * Measured on the default network, ‖H‖ for one input at three steps (1e-3 / 1e-4 / 1e-5):
     * at initialisation 785 / 192 / 192; after a late sparsified run 8718 / 371 / 358 (that last at 1e-6).
     */
    epsilon: z.number().positive().default(1e-5),
    seed: z.number().int().default(0),
  }),
  inputs: {
    data: input<DataValue>('prepared data'),
    dense: input<PretrainValue>('pretrain snapshots'),
    sparse: input<SparsifyValue>('sparsified network'),
  },
  env: BACKEND_ENV,
  run: async (ctx): Promise<KernelDriftValue> => {
    const [models, tf, { dataOf, useBackend }] = await Promise.all([loadModels(), loadTf(), loadTraining()]);
    const {
      headBatch,
      linearizationGap,
      loadModel,
      meanHessianNorm,
      relativeKernelChange,
      relativeTravel,
      tangentKernel,
      withPrelu,
    } = models;
    const { params } = ctx;
    await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const sparse = ctx.inputs.sparse.value;
    const relu = await loadModel(ctx.inputs.dense.file(ctx.inputs.dense.value.snapshots[sparse.startEpoch]!));
    // The run started from this snapshot with PReLUs at α = 0: the same function and parameter layout.
    const start = withPrelu(relu);
    relu.dispose();
    const end = await loadModel(ctx.inputs.sparse.file('model'));
    const kernelProbes = headBatch(data.test, params.kernelProbes);
    const hessianProbes = headBatch(data.test, params.hessianProbes);
    try {
      // The weights without the PReLU α (see ParamSelection): at the start every α is 0, where the
      // network is not differentiable in α.
      const weights = { exclude: ['alpha'] as const };
      const hessianOptions = {
        ...weights,
        iterations: params.iterations,
        tolerance: 1e-3,
        seed: params.seed,
        epsilon: params.epsilon,
      };
      const value: KernelDriftValue = {
        omega: sparse.omega,
        start: sparse.start,
        startEpoch: sparse.startEpoch,
        hessian: {
          start: meanHessianNorm(start, hessianProbes, hessianOptions).norm,
          end: meanHessianNorm(end, hessianProbes, hessianOptions).norm,
        },
        kernelDrift: relativeKernelChange(
          tangentKernel(start, kernelProbes, weights),
          tangentKernel(end, kernelProbes, weights),
        ),
        linearizationGap: linearizationGap(start, end, kernelProbes, weights),
        travel: relativeTravel(start, end, weights),
        probes: { hessian: hessianProbes.shape[0]!, kernel: kernelProbes.shape[0]! },
        epsilon: params.epsilon,
      };
      ctx.log(
        `start ${sparse.start} (epoch ${sparse.startEpoch}), ω ${sparse.omega}: ‖H‖ ${value.hessian.start.toExponential(3)} → ${value.hessian.end.toExponential(3)}; kernel drift ${value.kernelDrift.toFixed(3)}; gap ${value.linearizationGap.toFixed(3)}; travel ${value.travel.toFixed(3)}`,
      );
      return value;
    } finally {
      start.dispose();
      end.dispose();
      tf.dispose([kernelProbes, hessianProbes]);
    }
  },
});
