/**
 * Frivolous units (docs/science.md, "Frivolous units", following the public code of Casper et al. exactly):
 * - prunable units: knock out the first ⌊p·n_l⌋ units of a random order in every recorded layer
 *   at once (no rescaling), measure the agreement of the argmax prediction with the intact
 *   network, and interpolate where it crosses 0.8;
 * - redundant units: PCA of a layer's activations (conv: every position a sample), the smallest k
 *   whose lowest-variance directions carry more than 5 % of the variance, c = k/n;
 * - the growth factor g of a count over a doubling width sweep.
 */
import * as tf from './tf.ts';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { ModelConfig } from './architectures/index.ts';
import { batches, type Dataset } from './data/dataset.ts';
import type { ActivationSite, Model } from './model.ts';
import { deriveSeed, mulberry32, permutation } from './random.ts';

/** p ∈ {0, 1/6, …, 1} (`np.linspace(0, 1, 7)`). */
export const ABLATION_LEVELS: readonly number[] = Array.from({ length: 7 }, (_, i) => i / 6);

/** Fraction of positions where two prediction vectors agree. */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`agreement: ${a.length} and ${b.length} predictions`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/**
 * p*: the linearly interpolated ablation level where agreement first falls below `threshold`
 * (between the last level at or above it and the next); 1 when it never does.
 */
export function pruneThreshold(levels: readonly number[], agreements: readonly number[], threshold = 0.8): number {
  for (let r = 0; r + 1 < levels.length; r++) {
    const [x1, x2, y1, y2] = [levels[r]!, levels[r + 1]!, agreements[r]!, agreements[r + 1]!];
    if (y1 >= threshold && y2 < threshold) return x1 + ((threshold - y1) * (x2 - x1)) / (y2 - y1);
  }
  return 1;
}

/** Eigenvalues (ascending) of the covariance of the columns of a rows × cols sample matrix. */
export function covarianceEigenvalues(samples: Float64Array | Float32Array, rows: number, cols: number): number[] {
  if (rows < 2) throw new Error(`covariance of ${rows} sample(s): need at least 2`);
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += samples[r * cols + c]!;
  for (let c = 0; c < cols; c++) mean[c]! /= rows;
  const cov = new Float64Array(cols * cols);
  const centred = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) centred[c] = samples[r * cols + c]! - mean[c]!;
    for (let i = 0; i < cols; i++) {
      const ci = centred[i]!;
      if (ci === 0) continue;
      for (let j = i; j < cols; j++) cov[i * cols + j]! += ci * centred[j]!;
    }
  }
  const m = new Matrix(cols, cols);
  for (let i = 0; i < cols; i++) {
    for (let j = i; j < cols; j++) {
      const v = cov[i * cols + j]! / (rows - 1);
      const finite = Number.isFinite(v) ? v : 0; // the reference code maps NaN to 0
      m.set(i, j, finite);
      m.set(j, i, finite);
    }
  }
  return new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues.slice().sort((a, b) => a - b);
}

/**
 * The smallest k whose k lowest-variance directions carry more than `energy` of the variance
 * (`compressability_95`), and c = k/n. Eigenvalues that rounding made slightly negative count as 0.
 */
export function compressibility(
  eigenvaluesAscending: readonly number[],
  energy = 0.05,
): { k: number; n: number; fraction: number } {
  const values = eigenvaluesAscending.map((v) => Math.max(0, v));
  const total = values.reduce((a, b) => a + b, 0);
  const n = values.length;
  // No variance at all: every ratio is 0/0 and the reference code's search falls through to its
  // first component, so one direction "carries" the tail and c = 1/n.
  if (total === 0) return { k: 1, n, fraction: 1 / n };
  let cumulative = 0;
  for (let k = 1; k <= n; k++) {
    cumulative += values[k - 1]!;
    if (cumulative / total > energy) return { k, n, fraction: k / n };
  }
  return { k: n, n, fraction: 1 };
}

/**
 * g = mean of Y(f_{i+1}) / Y(f_i) over a doubling width grid (`get_slope`). With `widths` given,
 * each ratio is taken per doubling, (Y(f_{i+1}) / Y(f_i))^(1 / log₂(f_{i+1} / f_i)), which is the
 * same on a doubling grid and comparable on any other. Pairs where either count is not positive
 * have no ratio and are left out (as the similarity notebook does); NaN when none is left.
 * `skipFirstPair` drops the narrowest pair, as the reference's similarity notebook does for the
 * redundant and non-redundant counts (its ablation notebook, for prunability, keeps every pair).
 */
export function growthFactor(
  values: readonly number[],
  widths?: readonly number[],
  options: { skipFirstPair?: boolean } = {},
): number {
  if (values.length < 2) throw new Error('growth factor: need counts at two widths at least');
  if (widths && widths.length !== values.length)
    throw new Error(`growth factor: ${values.length} counts for ${widths.length} widths`);
  const ratios = values.slice(1).flatMap((v, i) => {
    if (options.skipFirstPair && i === 0) return [];
    const prev = values[i]!;
    if (!(v > 0 && prev > 0)) return [];
    const doublings = widths ? Math.log2(widths[i + 1]! / widths[i]!) : 1;
    return [(v / prev) ** (1 / doublings)];
  });
  return ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : Number.NaN;
}

/** Argmax predictions in eval mode, with an optional hook on every activation site. */
export function predictions(
  model: Model<ModelConfig>,
  ds: Dataset,
  onSite?: (site: ActivationSite, y: tf.Tensor) => tf.Tensor | void,
  batchSize = 500,
): Int32Array {
  const out = new Int32Array(ds.labels.length);
  let offset = 0;
  for (const x of batches(ds, batchSize)) {
    const p = tf.tidy(() =>
      tf.argMax(model.forward(x, { training: false, ...(onSite ? { onSite } : {}) }).output, 1).dataSync(),
    );
    out.set(p, offset);
    offset += p.length;
    x.dispose();
  }
  return out;
}

export interface Prunability {
  readonly levels: readonly number[];
  /** agreement[order][level] */
  readonly agreement: readonly (readonly number[])[];
  /** p* per random order. */
  readonly thresholds: readonly number[];
  /** Mean p* over the orders. */
  readonly threshold: number;
}

/**
 * Agreement of the argmax prediction with `reference` when, in every site named in `knocked`, the
 * units flagged there are multiplied by 0 at every position (no rescaling of the survivors).
 */
export function knockoutAgreement(
  model: Model<ModelConfig>,
  ds: Dataset,
  knocked: ReadonlyMap<string, ArrayLike<boolean>>,
  reference: Int32Array = predictions(model, ds),
): number {
  const masks = new Map(
    [...knocked].map(
      ([id, off]) =>
        [id, tf.tensor1d(Float32Array.from({ length: model.site(id).channels }, (_, i) => (off[i] ? 0 : 1)))] as const,
    ),
  );
  try {
    return agreement(
      reference,
      predictions(model, ds, (site, y) => (masks.has(site.id) ? tf.mul(y, masks.get(site.id)!) : undefined)),
    );
  } finally {
    for (const m of masks.values()) m.dispose();
  }
}

/** The first `count` entries of `order` flagged, as a knockout set of `n` units. */
const firstOf = (order: ArrayLike<number>, count: number, n: number): boolean[] => {
  const off = Array<boolean>(n).fill(false);
  for (let i = 0; i < count; i++) off[order[i]!] = true;
  return off;
};

/**
 * Random knockout of the first ⌊p·n_l⌋ units of a random order (fixed per order) in every one of
 * `sites` at once, at every level; the intact network's predictions are the reference.
 */
export function prunability(
  model: Model<ModelConfig>,
  ds: Dataset,
  options: {
    sites?: readonly string[];
    levels?: readonly number[];
    orders?: number;
    seed?: number;
    threshold?: number;
  } = {},
): Prunability {
  const levels = options.levels ?? ABLATION_LEVELS;
  const sites = (options.sites ?? model.sites.map((s) => s.id)).map((id) => model.site(id));
  const base = predictions(model, ds);
  const agreementByOrder: number[][] = [];
  for (let order = 0; order < (options.orders ?? 3); order++) {
    const orders = new Map(
      sites.map((s) => [
        s.id,
        permutation(mulberry32(deriveSeed(options.seed ?? 0, 'knockout', order, s.id)), s.channels),
      ]),
    );
    agreementByOrder.push(
      levels.map((p) =>
        knockoutAgreement(
          model,
          ds,
          new Map(sites.map((s) => [s.id, firstOf(orders.get(s.id)!, Math.floor(p * s.channels), s.channels)])),
          base,
        ),
      ),
    );
  }
  const thresholds = agreementByOrder.map((row) => pruneThreshold(levels, row, options.threshold ?? 0.8));
  return {
    levels,
    agreement: agreementByOrder,
    thresholds,
    threshold: thresholds.reduce((a, b) => a + b, 0) / thresholds.length,
  };
}

export interface TargetedKnockout {
  /** Units knocked out, over all sites. */
  readonly units: number;
  /** Agreement with the intact network when exactly the chosen units are knocked out. */
  readonly targeted: number;
  /** The same with random sets of the same size in every site, one per order. */
  readonly random: readonly number[];
  /** Mean of `random`. */
  readonly randomMean: number;
}

/**
 * Knock out a chosen set of units (e.g. those that stayed nonlinear) in every site at once, and
 * random sets of the same per-site sizes for comparison: a set that matters more than chance
 * costs more agreement than the random sets do.
 */
export function targetedKnockout(
  model: Model<ModelConfig>,
  ds: Dataset,
  chosen: ReadonlyMap<string, ArrayLike<boolean>>,
  options: { orders?: number; seed?: number; reference?: Int32Array } = {},
): TargetedKnockout {
  const base = options.reference ?? predictions(model, ds);
  const counts = new Map([...chosen].map(([id, off]) => [id, Array.from(off).filter(Boolean).length]));
  const random = Array.from({ length: options.orders ?? 3 }, (_, order) =>
    knockoutAgreement(
      model,
      ds,
      new Map(
        [...counts].map(([id, count]) => {
          const n = model.site(id).channels;
          return [
            id,
            firstOf(permutation(mulberry32(deriveSeed(options.seed ?? 0, 'targeted', order, id)), n), count, n),
          ];
        }),
      ),
      base,
    ),
  );
  return {
    units: [...counts.values()].reduce((a, b) => a + b, 0),
    targeted: knockoutAgreement(model, ds, chosen, base),
    random,
    randomMean: random.reduce((a, b) => a + b, 0) / random.length,
  };
}

/**
 * Activations of each site as a samples × channels matrix: every spatial position of every image
 * is a sample; at most `maxSamples` rows, kept uniformly at random (seeded).
 */
export function siteActivations(
  model: Model<ModelConfig>,
  ds: Dataset,
  options: { sites?: readonly string[]; maxSamples?: number; seed?: number } = {},
): Map<string, { samples: Float32Array; rows: number; cols: number }> {
  const wanted = new Set(options.sites ?? model.sites.map((s) => s.id));
  const chunks = new Map<string, Float32Array[]>();
  predictions(model, ds, (site, y) => {
    if (wanted.has(site.id))
      chunks.set(site.id, [
        ...(chunks.get(site.id) ?? []),
        tf.reshape(y, [-1, site.channels]).dataSync() as Float32Array,
      ]);
  });
  const max = options.maxSamples ?? 50_000;
  const out = new Map<string, { samples: Float32Array; rows: number; cols: number }>();
  for (const [id, parts] of chunks) {
    const cols = model.site(id).channels;
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      all.set(p, offset);
      offset += p.length;
    }
    const rows = all.length / cols;
    if (rows <= max) {
      out.set(id, { samples: all, rows, cols });
      continue;
    }
    const keep = permutation(mulberry32(deriveSeed(options.seed ?? 0, 'samples', id)), rows)
      .slice(0, max)
      .sort();
    const samples = new Float32Array(max * cols);
    for (const [i, r] of keep.entries()) samples.set(all.subarray(r * cols, (r + 1) * cols), i * cols);
    out.set(id, { samples, rows: max, cols });
  }
  return out;
}

export interface Redundancy {
  readonly site: string;
  readonly k: number;
  readonly n: number;
  /** c_l = k / n_l. */
  readonly fraction: number;
  readonly eigenvalues: readonly number[];
}

/** PCA compressibility of each site's activations on `ds`. */
export function redundancy(
  model: Model<ModelConfig>,
  ds: Dataset,
  options: { sites?: readonly string[]; maxSamples?: number; seed?: number; energy?: number } = {},
): Redundancy[] {
  return [...siteActivations(model, ds, options)].map(([site, a]) => {
    const eigenvalues = covarianceEigenvalues(a.samples, a.rows, a.cols);
    return { site, ...compressibility(eigenvalues, options.energy ?? 0.05), eigenvalues };
  });
}

/**
 * The layers whose units are counted (docs/science.md, "Recorded layers"): every activation site of a plain CNN or
 * MLP; for a ResNet, as the reference code records it (`models/resnet_cifar.py`), the stem and the
 * output of each of the three stages (the post-addition activation of its last block), not the
 * units inside the branches nor the intermediate blocks' outputs.
 */
export function recordedSites(model: Model<ModelConfig>): string[] {
  if (model.config.kind !== 'resnet') return model.sites.map((s) => s.id);
  const stageOutputs = new Map<string, string>();
  for (const site of model.sites) {
    const stage = /^(s\d+)b\d+\//.exec(site.id)?.[1];
    if (site.role === 'post-add' && stage) stageOutputs.set(stage, site.id); // sites come in order: the last block wins
  }
  return [...model.sites.filter((s) => s.role === 'stem').map((s) => s.id), ...stageOutputs.values()];
}

export interface FrivolousMeasures {
  readonly sites: readonly string[];
  readonly prunability: Prunability;
  readonly redundancy: readonly Omit<Redundancy, 'eigenvalues'>[];
  /** Mean c_l over the recorded layers. */
  readonly redundantFraction: number;
}

/** Prunability and redundancy of the recorded layers on `ds` (the test set), as §2.3–2.4 define them. */
export function frivolousMeasures(
  model: Model<ModelConfig>,
  ds: Dataset,
  options: { orders?: number; seed?: number; threshold?: number; energy?: number; maxSamples?: number } = {},
): FrivolousMeasures {
  const sites = recordedSites(model);
  const pr = prunability(model, ds, { sites, ...options });
  const red = redundancy(model, ds, { sites, ...options }).map(({ eigenvalues: _, ...r }) => r);
  return {
    sites,
    prunability: pr,
    redundancy: red,
    redundantFraction: red.reduce((a, r) => a + r.fraction, 0) / red.length,
  };
}
