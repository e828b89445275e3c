/**
 * Statistical verdicts (docs/science.md, "Verdicts"): a claim about a difference is judged from
 * paired per-seed values by a 95 % Student-t confidence interval of their mean (n − 1 degrees of
 * freedom), against a margin stated with the claim. Four outcomes:
 * - reproduced: the interval excludes the null by the margin (it lies entirely on the claim's side
 *   of ±margin);
 * - refuted: the interval lies entirely on the other side of 0, or inside the equivalence band
 *   (−margin, +margin): whatever the effect is, it is too small to be the claimed one;
 * - inconclusive: anything else;
 * - not tested: fewer than `minSeeds` seeds (one seed is no verdict), with the reason.
 * Pure functions; the rules are fixed here, before any run.
 */
import jstat from 'jstat';

export type Outcome = 'reproduced' | 'refuted' | 'inconclusive' | 'not tested';

export interface Interval {
  /** The per-seed values, in seed order. */
  readonly values: readonly number[];
  readonly n: number;
  readonly mean: number;
  /** Sample standard deviation (n − 1); 0 for one value. */
  readonly sd: number;
  /** The confidence interval of the mean ([mean, mean] for one value). */
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
}

/** Mean, SD and the t confidence interval of the mean of `values`. */
export function tInterval(values: readonly number[], level = 0.95): Interval {
  const n = values.length;
  if (n === 0) throw new Error('confidence interval of no values');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? studentQuantile(1 - (1 - level) / 2, n - 1) * (sd / Math.sqrt(n)) : 0;
  return { values, n, mean, sd, lo: mean - half, hi: mean + half, level };
}

/** The p-quantile of Student's t with `df` degrees of freedom. */
export function studentQuantile(p: number, df: number): number {
  return jstat.studentt.inv(p, df);
}

/** A claim that some per-seed quantity is above (or below) 0 by at least `margin`. */
export interface DifferenceRule {
  /** `greater`: the claim is effect > margin; `less`: effect < −margin. */
  readonly direction: 'greater' | 'less';
  /** The smallest effect that counts as the claimed one; also the half-width of the equivalence band. */
  readonly margin: number;
  /** The null value the effect is measured from (default 0), e.g. 2 for "g > 2". */
  readonly reference?: number;
  /** Seeds needed before any verdict (default 3). */
  readonly minSeeds?: number;
}

export interface Judgement {
  readonly outcome: Outcome;
  /** Why, in words: the interval against the rule, or what is missing. */
  readonly reason: string;
  readonly interval?: Interval;
  /** The mean and its interval in the claim's unit, `mean [lo, hi]`, for a table of verdicts. */
  readonly effect?: string;
}

export const MIN_SEEDS = 3;

/**
 * What every rule does first: the interval of the per-seed values and its description, or "not
 * tested" when there are too few seeds. `judge` decides with the interval and the description.
 */
function withInterval(
  values: readonly number[],
  minSeeds: number,
  format: (x: number) => string,
  judge: (interval: Interval, ci: string) => Judgement,
): Judgement {
  if (values.length === 0) return { outcome: 'not tested', reason: 'no seed gave a value' };
  const interval = tInterval(values);
  const ci = `mean ${format(interval.mean)}, 95 % CI [${format(interval.lo)}, ${format(interval.hi)}] over ${interval.n} seed${interval.n === 1 ? '' : 's'} (${values.map(format).join(', ')})`;
  const effect = `${format(interval.mean)} [${format(interval.lo)}, ${format(interval.hi)}]`;
  if (values.length < minSeeds) {
    return {
      outcome: 'not tested',
      reason: `${values.length === 1 ? 'one seed: no verdict' : `${values.length} seeds: no verdict`} (needs ${minSeeds}; run the claims preset); ${ci}`,
      interval,
      effect,
    };
  }
  return { ...judge(interval, ci), effect };
}

const fixed3 = (x: number) => x.toFixed(3);

/**
 * Judge a claimed difference from paired per-seed values (see the file comment). `format` writes
 * a value in the claim's unit (e.g. accuracy points).
 */
export function judgeDifference(
  values: readonly number[],
  rule: DifferenceRule,
  format: (x: number) => string = fixed3,
): Judgement {
  return withInterval(values, rule.minSeeds ?? MIN_SEEDS, format, (interval, ci) => {
    const r = rule.reference ?? 0;
    // In the claim's orientation, measured from the reference: the claim is "effect > margin".
    const [lo, hi] =
      rule.direction === 'greater' ? [interval.lo - r, interval.hi - r] : [r - interval.hi, r - interval.lo];
    const m = rule.margin;
    const side = rule.direction === 'greater' ? `above ${format(r + m)}` : `below ${format(r - m)}`;
    if (lo > m) return { outcome: 'reproduced', reason: `${ci}; the interval lies ${side}`, interval };
    if (hi < 0)
      return { outcome: 'refuted', reason: `${ci}; the interval lies on the wrong side of ${format(r)}`, interval };
    if (m > 0 && lo > -m && hi < m)
      return {
        outcome: 'refuted',
        reason: `${ci}; the interval lies within ${format(r)} ± ${format(m)}, too small to be the claimed effect`,
        interval,
      };
    return {
      outcome: 'inconclusive',
      reason: `${ci}; the interval neither lies ${side} nor excludes the claim`,
      interval,
    };
  });
}

/**
 * Judge a claim that a per-seed quantity stays within `reference ± band` (e.g. a slope of −½ ± 0.2):
 * reproduced if the whole interval lies inside the band, refuted if it lies entirely outside it.
 */
export function judgeWithin(
  values: readonly number[],
  reference: number,
  band: number,
  format: (x: number) => string = fixed3,
): Judgement {
  return withInterval(values, MIN_SEEDS, format, (interval, ci) => {
    const edge = `${format(reference)} ± ${format(band)}`;
    if (interval.lo > reference - band && interval.hi < reference + band)
      return { outcome: 'reproduced', reason: `${ci}; the interval lies within ${edge}`, interval };
    if (interval.lo > reference + band || interval.hi < reference - band)
      return { outcome: 'refuted', reason: `${ci}; the interval lies outside ${edge}`, interval };
    return { outcome: 'inconclusive', reason: `${ci}; the interval overlaps the edge of ${edge}`, interval };
  });
}
