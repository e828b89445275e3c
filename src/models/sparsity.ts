/**
 * The sparsity prior on nonlinear units (docs/science.md, "The sparsity penalty"): L = ω · Σ_i √(|1 − α_i| + ε_r) over
 * every PReLU channel, pushing slopes towards 1 (linear). ε_r keeps the gradient finite at α = 1.
 * After each optimiser step a unit whose |1 − α| < ε_snap is snapped to exactly α = 1 and frozen
 * there, so units the penalty linearised stay linear while training goes on.
 *
 * A frozen unit is out of the optimisation altogether: out of the penalty (at α = 1, |1 − α| has
 * the subgradient −1 in tfjs, so each frozen unit would add ω/(2√ε_r) = 5000·ω to its α's gradient)
 * and its α's gradient is zeroed before global-norm clipping, so frozen units never shrink the
 * update of the weights that still learn (docs/science.md, "The sparsity penalty").
 */
import * as tf from './tf.ts';
import { buildModel, type ModelConfig } from './architectures/index.ts';
import type { Model } from './model.ts';
import type { Regularizer } from './train.ts';

export interface SparsityOptions {
  /** ω, the penalty's weight. */
  readonly omega: number;
  /** ε_r inside the square root (default 1e-8). */
  readonly epsilonRoot?: number;
  /** Snap and freeze α = 1 when |1 − α| < this (default 1e-3; 0 disables snapping). */
  readonly snap?: number;
}

export interface SparsityRegularizer extends Regularizer {
  /** 1 for every unit that still learns, 0 for frozen ones, per α parameter (tensors owned by the regulariser). */
  gradientMasks(model: Model<ModelConfig>): ReadonlyMap<string, tf.Tensor>;
  /** Frozen (linearised) units per α parameter, as 0/1 masks (copies). */
  frozen(): Map<string, Float32Array>;
  dispose(): void;
}

export function sparsityPenalty(options: SparsityOptions): SparsityRegularizer {
  const epsilonRoot = options.epsilonRoot ?? 1e-8;
  const snap = options.snap ?? 1e-3;
  if (!(options.omega >= 0)) throw new Error(`sparsity penalty: ω must be ≥ 0, got ${options.omega}`);
  const masks = new Map<string, tf.Tensor>();
  /** 1 − mask, kept beside it so a step does not recompute it. */
  const learning = new Map<string, tf.Tensor>();
  const alphas = (model: Model<ModelConfig>) => model.sites.filter((s) => s.alpha !== undefined).map((s) => s.alpha!);
  return {
    name: 'sparsity',
    penalty(model) {
      const names = alphas(model);
      if (names.length === 0) return tf.scalar(0);
      const terms = names.map((name) => {
        const perUnit = tf.sqrt(tf.add(tf.abs(tf.sub(1, model.get(name))), epsilonRoot));
        const mask = masks.get(name);
        return tf.sum(mask ? tf.mul(perUnit, tf.sub(1, mask)) : perUnit);
      });
      return tf.mul(options.omega, tf.addN(terms)) as tf.Scalar;
    },
    gradientMasks() {
      return learning;
    },
    afterStep(model) {
      if (snap <= 0) return;
      for (const name of alphas(model)) {
        const alpha = model.get(name);
        const previous = masks.get(name);
        const next = tf.tidy(() => {
          const near = tf.cast(tf.less(tf.abs(tf.sub(1, alpha)), snap), 'float32');
          const mask = previous ? tf.maximum(previous, near) : near;
          alpha.assign(tf.add(tf.mul(mask, 1), tf.mul(tf.sub(1, mask), alpha)));
          return mask;
        });
        // Steps may run inside a caller's tidy; the mask must outlive it.
        tf.keep(next);
        previous?.dispose();
        masks.set(name, next);
        learning.get(name)?.dispose();
        learning.set(name, tf.keep(tf.tidy(() => tf.sub(1, next))));
      }
    },
    frozen() {
      return new Map([...masks].map(([name, mask]) => [name, mask.dataSync().slice() as Float32Array]));
    },
    dispose() {
      for (const m of [...masks.values(), ...learning.values()]) m.dispose();
      masks.clear();
      learning.clear();
    },
  };
}

/**
 * Every slope frozen where it stands (the fine-tune after snapping): α's gradients are zeroed, so
 * neither the optimiser nor the clipped norm sees them, and α never moves (it has no weight decay).
 */
export function frozenSlopes(): Regularizer & { dispose(): void } {
  const zeros = new Map<string, tf.Tensor>();
  return {
    name: 'frozen-slopes',
    penalty: () => tf.scalar(0),
    gradientMasks(model) {
      for (const site of model.sites) {
        if (site.alpha !== undefined && !zeros.has(site.alpha))
          zeros.set(site.alpha, tf.keep(tf.zeros([site.channels])));
      }
      return zeros;
    },
    dispose() {
      for (const z of zeros.values()) z.dispose();
      zeros.clear();
    },
  };
}

/**
 * The same network with channel-wise PReLUs at α = 0 in place of its ReLUs: an identical function
 * whose slopes the sparsity penalty can then move. Every other parameter is copied.
 */
export function withPrelu(model: Model<ModelConfig>): Model<ModelConfig> {
  const prelu = buildModel({ ...model.config, activation: 'prelu' }, model.seed);
  const weights = model.weights();
  try {
    for (const spec of prelu.specs) if (spec.role === 'alpha') weights[spec.name] = tf.zeros([...spec.shape]);
    prelu.setWeights(weights);
  } finally {
    tf.dispose(weights);
  }
  return prelu;
}
