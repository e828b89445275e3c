/**
 * The sweep as a table: one row per sparsified network, joined with its linearisation, path
 * length and baseline by the ablation labels that made them; and the numbers the report's claims
 * rest on (the early/late gap at matched APL, the decay of accuracy with APL, where nonlinear units
 * sit). Pure functions over the stages' values.
 */
import type { BaselineValue, LinearizeValue, PathLengthValue, PretrainValue, SparsifyValue } from '../artifacts.ts';

export type Labels = Readonly<Record<string, string>>;
export interface Labelled<T> {
  readonly labels: Labels;
  readonly value: T;
}

export interface Row {
  readonly labels: Labels;
  /** The labels other than ω and start: rows with equal groups form one sweep. */
  readonly group: string;
  readonly omega: number;
  readonly start: string;
  readonly startEpoch: number;
  readonly apl: number;
  readonly aplUnnormalized: number;
  readonly nonlinear: number;
  readonly units: number;
  readonly effectiveWidth: number;
  readonly accuracySparse: number;
  readonly accuracyLinearized: number;
  readonly baselineDepth?: number;
  readonly baselineAccuracy?: number;
  readonly baselineParams?: number;
  readonly params: number;
  readonly denseAccuracy?: number;
  readonly backend: string;
  readonly seed: number;
}

export const sameLabels = (a: Labels, b: Labels) => Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
/** `sub`'s labels all agree with `labels` (an upstream variant reached by fewer axes). */
const within = (sub: Labels, labels: Labels) => Object.entries(sub).every(([k, v]) => labels[k] === v);

export function groupOf(labels: Labels): string {
  const rest = Object.entries(labels).filter(([k]) => k !== 'omega' && k !== 'start');
  return rest.length ? rest.map(([k, v]) => `${k}=${v}`).join(', ') : 'default';
}

export function joinRows(inputs: {
  dense: readonly Labelled<PretrainValue>[];
  sparse: readonly Labelled<SparsifyValue>[];
  linearized: readonly Labelled<LinearizeValue>[];
  pathLength: readonly Labelled<PathLengthValue>[];
  baseline: readonly Labelled<BaselineValue>[];
}): Row[] {
  const rows: Row[] = [];
  for (const s of inputs.sparse) {
    const lin = inputs.linearized.find((l) => sameLabels(l.labels, s.labels));
    const pl = inputs.pathLength.find((p) => sameLabels(p.labels, s.labels));
    if (!lin || !pl) continue;
    const base = inputs.baseline.find((b) => within(b.labels, s.labels));
    const dense = inputs.dense.find((d) => within(d.labels, s.labels));
    rows.push({
      labels: s.labels,
      group: groupOf(s.labels),
      omega: s.value.omega,
      start: s.value.start,
      startEpoch: s.value.startEpoch,
      apl: pl.value.normalized,
      aplUnnormalized: pl.value.unnormalized,
      nonlinear: pl.value.total,
      units: pl.value.units,
      effectiveWidth: pl.value.effectiveWidth,
      accuracySparse: lin.value.accuracyBefore,
      accuracyLinearized: lin.value.accuracyAfter,
      ...(base ? { baselineDepth: base.value.depth, baselineAccuracy: base.value.testAccuracy, baselineParams: base.value.params } : {}),
      params: lin.value.params,
      ...(dense ? { denseAccuracy: dense.value.testAccuracy } : {}),
      backend: s.value.backend,
      seed: s.value.seed,
    });
  }
  return rows.sort((a, b) => a.group.localeCompare(b.group) || a.start.localeCompare(b.start) || a.omega - b.omega);
}

/** Piecewise-linear accuracy at APL d over a sweep's points, or undefined outside their range. */
export function accuracyAt(points: readonly { apl: number; accuracy: number }[], d: number): number | undefined {
  const sorted = [...points].sort((a, b) => a.apl - b.apl);
  if (sorted.length === 0 || d < sorted[0]!.apl || d > sorted.at(-1)!.apl) return undefined;
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i]!;
    if (p.apl === d) return p.accuracy;
    const q = sorted[i + 1];
    if (q && p.apl <= d && d <= q.apl) return q.apl === p.apl ? Math.max(p.accuracy, q.accuracy) : p.accuracy + ((d - p.apl) / (q.apl - p.apl)) * (q.accuracy - p.accuracy);
  }
  return undefined;
}

export interface GapPoint {
  readonly group: string;
  readonly d: number;
  readonly late: number;
  readonly early: number;
  readonly gap: number;
}

/** Δ(d) = acc_late(d) − acc_early(d) on a grid of d where both sweeps are defined (science.md §1.4). */
export function gaps(rows: readonly Row[], step = 0.25): GapPoint[] {
  const out: GapPoint[] = [];
  for (const group of new Set(rows.map((r) => r.group))) {
    const of = (start: string) => rows.filter((r) => r.group === group && r.start === start).map((r) => ({ apl: r.apl, accuracy: r.accuracyLinearized }));
    const late = of('late');
    const early = of('early');
    if (late.length < 2 || early.length < 2) continue;
    const lo = Math.max(Math.min(...late.map((p) => p.apl)), Math.min(...early.map((p) => p.apl)));
    const hi = Math.min(Math.max(...late.map((p) => p.apl)), Math.max(...early.map((p) => p.apl)));
    for (let d = Math.ceil(lo / step) * step; d <= hi + 1e-9; d += step) {
      const [l, e] = [accuracyAt(late, d), accuracyAt(early, d)];
      if (l !== undefined && e !== undefined) out.push({ group, d: Number(d.toFixed(4)), late: l, early: e, gap: l - e });
    }
  }
  return out;
}

export type Verdict = 'reproduced' | 'not reproduced' | 'not tested';

export interface Claim {
  readonly claim: string;
  readonly verdict: Verdict;
  /** The numbers and the rule behind the verdict. */
  readonly evidence: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/**
 * science.md's qualitative claims, each judged by a stated rule on this run's numbers. The rules
 * are fixed here, before any run, so a run cannot be tuned to pass them.
 */
export function judgeClaims(rows: readonly Row[], layers: readonly { group: string; omega: number; start: string; fractions: readonly number[] }[]): Claim[] {
  const claims: Claim[] = [];

  // 1. Slow decay, then collapse, as APL falls (late protocol, per group).
  const decay = [...new Set(rows.map((r) => r.group))].flatMap((group) => {
    const pts = rows.filter((r) => r.group === group && r.start === 'late').sort((a, b) => b.apl - a.apl);
    if (pts.length < 3) return [];
    const top = pts[0]!;
    const half = pts.filter((p) => p.apl <= top.apl / 2);
    const slow = half.some((p) => p.accuracyLinearized >= top.accuracyLinearized - 0.02);
    const last = pts.at(-1)!;
    const collapse = last.accuracyLinearized <= top.accuracyLinearized - 0.1;
    return [{ group, slow, collapse, text: `${group}: ${pct(top.accuracyLinearized)} at APL ${top.apl.toFixed(2)}; best at APL ≤ ${(top.apl / 2).toFixed(2)}: ${half.length ? pct(Math.max(...half.map((p) => p.accuracyLinearized))) : 'no point'}; ${pct(last.accuracyLinearized)} at the lowest APL ${last.apl.toFixed(2)}` }];
  });
  claims.push({
    claim: 'accuracy decays slowly, then collapses, as APL falls',
    verdict: decay.length === 0 ? 'not tested' : decay.every((d) => d.slow && d.collapse) ? 'reproduced' : 'not reproduced',
    evidence: decay.length === 0 ? 'needs ≥ 3 ω values with the late start' : `${decay.map((d) => d.text).join('; ')}. Rule: some point at ≤ half the top APL within 2 points of the top accuracy (slow), and the lowest-APL point ≥ 10 points below it (collapse).`,
  });

  // 2. Late beats early at matched APL; more on the hard task.
  const g = gaps(rows);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const byGroup = [...new Set(g.map((p) => p.group))].map((group) => ({ group, gap: mean(g.filter((p) => p.group === group).map((p) => p.gap)), n: g.filter((p) => p.group === group).length }));
  claims.push({
    claim: 'late beats early at matched APL (Δ(d) > 0)',
    verdict: byGroup.length === 0 ? 'not tested' : byGroup.every((b) => b.gap > 0) ? 'reproduced' : 'not reproduced',
    evidence: byGroup.length === 0 ? 'needs early and late sweeps whose APL ranges overlap' : `mean Δ over the overlapping APL range: ${byGroup.map((b) => `${b.group} ${(100 * b.gap).toFixed(2)} points (${b.n} grid points)`).join('; ')}. Rule: mean Δ > 0 in every group.`,
  });
  const task = (name: string) => byGroup.find((b) => new RegExp(`(^|, )task=${name}(,|$)`).test(b.group));
  const [easy, hard] = [task('easy'), task('hard')];
  claims.push({
    claim: 'the gap is larger on the hard task than on the easy one',
    verdict: !easy || !hard ? 'not tested' : hard.gap > easy.gap ? 'reproduced' : 'not reproduced',
    evidence: !easy || !hard ? 'needs the task axis with easy and hard (linea run --ablate task=easy,hard)' : `mean Δ: hard ${(100 * hard.gap).toFixed(2)} points, easy ${(100 * easy.gap).toFixed(2)} points. Rule: hard > easy.`,
  });

  // 3. Linearised beats its width-matched baseline.
  const paired = rows.filter((r) => r.baselineAccuracy !== undefined);
  const wins = paired.filter((r) => r.accuracyLinearized > r.baselineAccuracy!);
  claims.push({
    claim: 'the linearised network beats its width-matched baseline',
    verdict: paired.length === 0 ? 'not tested' : wins.length * 2 > paired.length ? 'reproduced' : 'not reproduced',
    evidence: paired.length === 0 ? 'no baselines in this run' : `${wins.length} of ${paired.length} networks beat their baseline; mean difference ${(100 * mean(paired.map((r) => r.accuracyLinearized - r.baselineAccuracy!))).toFixed(2)} points. Rule: more than half win.`,
  });

  // 4. Nonlinear units concentrate in the middle of the network.
  const partial = layers.filter((l) => l.fractions.length >= 3 && l.fractions.some((f) => f > 0) && l.fractions.some((f) => f < 1));
  const middle = partial.map((l) => mean(l.fractions.slice(1, -1)) - mean([l.fractions[0]!, l.fractions.at(-1)!]));
  claims.push({
    claim: 'nonlinear units concentrate in the middle of the network',
    verdict: partial.length === 0 ? 'not tested' : mean(middle) > 0 ? 'reproduced' : 'not reproduced',
    evidence: partial.length === 0 ? 'needs partially sparsified networks with ≥ 3 activation layers' : `over ${partial.length} partially sparsified networks, the middle layers' mean k/n minus the first and last layers' is ${mean(middle).toFixed(3)} on average. Rule: > 0.`,
  });
  return claims;
}
