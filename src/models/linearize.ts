/**
 * Linearisation (docs/science.md, "Linearisation and folding"): units with |1 − α| < ε_lin become exactly linear (α := 1), and
 * layers that are then linear end to end are folded into fewer layers where that is exact:
 * - an MLP hidden layer whose every unit is linear disappears: W = W_i·W_{i+1},
 *   b = b_i·W_{i+1} + b_{i+1};
 * - batch norm (inference statistics) folds into the convolution before it.
 * Convolutions with 'same' padding on both sides of a linear layer do not compose exactly (the
 * middle layer's zero padding differs from a wider kernel's), so they are kept.
 */
import * as tf from './tf.ts';
import {
  buildModel,
  hiddenWidths,
  type MlpConfig,
  type ModelConfig,
  type PlainCnnConfig,
} from './architectures/index.ts';
import type { Model } from './model.ts';

export interface Snapped {
  /** Units set to exactly α = 1, per site. */
  readonly linearized: Readonly<Record<string, number>>;
  readonly total: number;
}

/** Set α := 1 where |1 − α| < ε, in place. */
export function snapAlphas(model: Model<ModelConfig>, epsilon: number): Snapped {
  const linearized: Record<string, number> = {};
  let total = 0;
  for (const site of model.sites) {
    if (!site.alpha) continue;
    const v = model.get(site.alpha);
    const values = v.dataSync();
    let n = 0;
    const next = Float32Array.from(values, (a) => (Math.abs(1 - a) < epsilon ? (n++, 1) : a));
    v.assign(tf.tensor1d(next));
    linearized[site.id] = n;
    total += n;
  }
  return { linearized, total };
}

export interface Folded {
  readonly model: Model<ModelConfig>;
  /** What was folded, for the report. */
  readonly folds: readonly string[];
}

function values(model: Model<ModelConfig>, name: string): Float32Array {
  return model.get(name).dataSync() as Float32Array;
}

function isLinearSite(model: Model<ModelConfig>, id: string): boolean {
  const site = model.site(id);
  if (site.nonlinearity === 'linear') return true;
  if (site.nonlinearity !== 'prelu') return false;
  return values(model, site.alpha!).every((a) => a === 1);
}

interface Plan {
  readonly config: ModelConfig;
  /** Fresh tensors (never the source's variables): the caller disposes them. */
  readonly weights: tf.NamedTensorMap;
  readonly folds: string[];
}

function sameWeights(model: Model<ModelConfig>): Plan {
  return { config: model.config, weights: model.weights(), folds: [] };
}

function foldMlp(model: Model<ModelConfig>, c: MlpConfig): Plan {
  const widths = hiddenWidths(c);
  if (c.parametrization === 'ntk' || !c.bias) return sameWeights(model);
  // Layers as (W, b) in row-major [in, out], then fold each fully linear hidden site into the next.
  type Dense = { w: tf.Tensor2D; b: tf.Tensor1D; alpha?: tf.Tensor1D; site?: string };
  const layers: Dense[] = widths.map((_, i) => ({
    w: model.getRank(`dense${i}/kernel`, 2),
    b: model.getRank(`dense${i}/bias`, 1),
    ...(c.activation === 'prelu' ? { alpha: model.getRank(`hidden${i}/alpha`, 1) } : {}),
    site: `hidden${i}`,
  }));
  layers.push({
    w: model.getRank('output/kernel', 2),
    b: model.getRank('output/bias', 1),
  });
  const folds: string[] = [];
  const kept: Dense[] = [];
  let pending: { w: tf.Tensor2D; b: tf.Tensor1D } | undefined;
  for (const layer of layers) {
    const w: tf.Tensor2D = pending ? tf.matMul(pending.w, layer.w) : layer.w;
    const b = pending
      ? (tf.add(tf.reshape(tf.matMul(tf.expandDims(pending.b, 0), layer.w), [-1]), layer.b) as tf.Tensor1D)
      : layer.b;
    if (layer.site && isLinearSite(model, layer.site)) {
      pending = { w, b };
      folds.push(`${layer.site}: every unit linear, folded into the next layer`);
    } else {
      kept.push({ ...layer, w, b });
      pending = undefined;
    }
  }
  const config: MlpConfig = { ...c, widths: kept.slice(0, -1).map((l) => l.w.shape[1]), depth: kept.length - 1 };
  const weights: tf.NamedTensorMap = {};
  kept.forEach((l, i) => {
    const prefix = i === kept.length - 1 ? 'output' : `dense${i}`;
    weights[`${prefix}/kernel`] = tf.clone(l.w);
    weights[`${prefix}/bias`] = tf.clone(l.b);
    if (l.alpha) weights[`hidden${i}/alpha`] = tf.clone(l.alpha);
  });
  return { config, weights, folds };
}

function foldBatchNorm(model: Model<ModelConfig>, c: PlainCnnConfig): Plan {
  if (!c.batchNorm) return sameWeights(model);
  const config: PlainCnnConfig = { ...c, batchNorm: false };
  const weights: tf.NamedTensorMap = {};
  const folds: string[] = [];
  c.channels.forEach((_, i) => {
    const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((p) =>
      model.get(`bn${i}/${p}`),
    );
    // y = γ (conv(x) − μ)/√(σ² + ε) + β = conv'(x) + b' with conv' = conv·s, b' = β − μ·s, s = γ/√(σ² + ε)
    const scale = tf.div(gamma!, tf.sqrt(tf.add(variance!, 1e-5)));
    weights[`conv${i}/kernel`] = tf.mul(model.get(`conv${i}/kernel`), scale);
    weights[`conv${i}/bias`] = tf.sub(beta!, tf.mul(mean!, scale));
    if (c.activation === 'prelu') weights[`act${i}/alpha`] = tf.clone(model.get(`act${i}/alpha`));
    folds.push(`bn${i}: folded into conv${i}`);
  });
  weights['head/kernel'] = tf.clone(model.get('head/kernel'));
  weights['head/bias'] = tf.clone(model.get('head/bias'));
  return { config, weights, folds };
}

/** A new model computing the same function with linear layers folded where exact. */
export function foldLinear(model: Model<ModelConfig>): Folded {
  const folds: string[] = [];
  let config: ModelConfig = model.config;
  const weights = tf.tidy(() => {
    const c = model.config;
    const plan =
      c.kind === 'mlp' ? foldMlp(model, c) : c.kind === 'plain-cnn' ? foldBatchNorm(model, c) : sameWeights(model);
    folds.push(...plan.folds);
    config = plan.config;
    return plan.weights;
  });
  const folded = buildModel(config, model.seed);
  try {
    folded.setWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  return { model: folded, folds };
}
