/**
 * linearize: units with |1 − α| < ε_lin become exactly linear (α := 1); accuracy before and after,
 * a sensitivity table over ε_lin (docs/science.md, "Linearisation and folding"); then linear layers are folded where exact and
 * the folded model must give the same logits (relative error ≤ 1e-4), with its depth, size and
 * inference time beside the original's.
 */
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { defineStage, input } from '../src/index.ts';
import type { Model, ModelConfig } from '../src/models/index.ts';
import type { DataValue, LinearizeValue, SparsifyValue } from './lib/artifacts.ts';
import { BACKEND_ENV, loadModels, loadTf, loadTraining, type Tf } from './lib/runtime.ts';

/** Layers with parameters (conv, dense, batch norm), by parameter-name prefix. */
function layerCount(model: Model<ModelConfig>): number {
  return new Set(model.specs.map((s) => s.name.slice(0, s.name.lastIndexOf('/')))).size;
}

/** ‖a − b‖∞ / ‖a‖∞ of two models' logits on the same batch. */
function logitError(tf: Tf, a: Model<ModelConfig>, b: Model<ModelConfig>, x: Tensor): number {
  return tf.tidy(() => {
    const la = a.predict(x);
    const lb = b.predict(x);
    return tf.max(tf.abs(tf.sub(la, lb))).dataSync()[0]! / Math.max(tf.max(tf.abs(la)).dataSync()[0]!, 1e-12);
  });
}

/** Median wall time of one inference pass over `x`, after a warm-up. */
function inferenceMs(tf: Tf, model: Model<ModelConfig>, x: Tensor, repeats = 5): number {
  const once = () => {
    const t0 = performance.now();
    // Nothing returned from the tidy: it walks what it returns for tensors to keep, and a
    // returned array of outputs would add that walk (~0.7 µs an element) to the time measured.
    tf.tidy(() => {
      model.predict(x).dataSync();
    });
    return performance.now() - t0;
  };
  once();
  const times = Array.from({ length: repeats }, once).sort((p, q) => p - q);
  return times[Math.floor(repeats / 2)]!;
}

export const linearizeStage = defineStage({
  name: 'linearize',
  description: 'snap α to 1 below ε_lin, fold linear layers, check logits',
  params: z.object({
    epsilon: z.number().positive().default(1e-3),
    sensitivity: z.array(z.number().positive()).default([1e-4, 1e-3, 1e-2, 5e-2]),
    /** The folded model's logits may differ from the snapped model's by at most this (relative, max norm). */
    tolerance: z.number().positive().default(1e-4),
    /** Test images used for the logit check and the timing. */
    checkImages: z.number().int().positive().default(500),
  }),
  inputs: { data: input<DataValue>('prepared data'), sparse: input<SparsifyValue>('sparsified network') },
  env: BACKEND_ENV,
  // Milliseconds to a second of work: a cluster job would cost more than the stage (it runs in the driver).
  resources: { local: true },
  run: async (ctx): Promise<LinearizeValue> => {
    const [models, tf, { dataOf, useBackend }] = await Promise.all([loadModels(), loadTf(), loadTraining()]);
    const { countUnits, evaluate, foldLinear, headBatch, loadModel, saveModel, siteUnits, snapAlphas } = models;
    const { params } = ctx;
    const backend = await useBackend(ctx);
    const data = await dataOf(ctx.inputs.data);
    const source = ctx.inputs.sparse.file('model');
    const sensitivity = [];
    for (const epsilon of params.sensitivity) {
      const trial = await loadModel(source);
      try {
        snapAlphas(trial, epsilon);
        sensitivity.push({
          epsilon,
          accuracy: evaluate(trial, data.test).accuracy,
          nonlinear: countUnits(siteUnits(trial, epsilon)).k,
        });
      } finally {
        trial.dispose();
      }
    }
    const model = await loadModel(source);
    const x = headBatch(data.test, params.checkImages);
    try {
      const accuracyBefore = evaluate(model, data.test).accuracy;
      const snapped = snapAlphas(model, params.epsilon);
      const accuracyAfter = evaluate(model, data.test).accuracy;
      const folded = foldLinear(model);
      try {
        const maxRelativeError = logitError(tf, model, folded.model, x);
        if (!(maxRelativeError <= params.tolerance)) {
          throw new Error(
            `stage 'linearize': the folded model's logits differ from the linearised model's by ${maxRelativeError.toExponential(2)} (relative), above linearize.tolerance = ${params.tolerance}; folding is wrong for ${model.config.kind}`,
          );
        }
        await saveModel(model, join(ctx.outDir, 'model'));
        await saveModel(folded.model, join(ctx.outDir, 'folded'));
        const units = countUnits(siteUnits(model, params.epsilon)).n;
        ctx.log(
          `ε_lin ${params.epsilon}: ${snapped.total} of ${units} units linear; accuracy ${(100 * accuracyBefore).toFixed(2)}% → ${(100 * accuracyAfter).toFixed(2)}%; folded: ${folded.folds.length} folds, logit error ${maxRelativeError.toExponential(1)}`,
        );
        const sparse = ctx.inputs.sparse.value;
        return {
          epsilon: params.epsilon,
          omega: sparse.omega,
          startEpoch: sparse.startEpoch,
          start: sparse.start,
          backend,
          model: model.config,
          params: model.paramCount().trainable,
          units,
          linearized: snapped.total,
          accuracyBefore,
          accuracyAfter,
          sensitivity,
          folded: {
            folds: folded.folds,
            maxRelativeError,
            layers: { original: layerCount(model), folded: layerCount(folded.model) },
            params: { original: model.paramCount().trainable, folded: folded.model.paramCount().trainable },
            inferenceMs: { original: inferenceMs(tf, model, x), folded: inferenceMs(tf, folded.model, x) },
          },
        };
      } finally {
        folded.model.dispose();
      }
    } finally {
      x.dispose();
      model.dispose();
    }
  },
});
