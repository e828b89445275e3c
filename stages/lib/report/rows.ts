/**
 * The sweep as a table: one row per sparsified network, joined with its linearisation, path
 * length and baseline by the ablation labels that made them; and the numbers the report's claims
 * rest on (the early/late gap at matched APL, the decay of accuracy with APL, where nonlinear units
 * sit). Pure functions over the stages' values.
 */
import { judgeDifference, type DifferenceRule, type Interval, type Outcome } from './stats.ts';
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
  /** The labels other than ω, start and seed: the rows of one sweep across seeds. */
  readonly sweep: string;
  /** Nonlinear layers of the source network (activation sites). */
  readonly sourceLayers: number;
  /** Chance accuracy (1 / classes). */
  readonly chance: number;
}

export const sameLabels = (a: Labels, b: Labels) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
/** `sub`'s labels all agree with `labels` (an upstream variant reached by fewer axes). */
const within = (sub: Labels, labels: Labels) => Object.entries(sub).every(([k, v]) => labels[k] === v);

/**
 * Axes that choose a point of the ω × start sweep rather than a different experiment: `omega`,
 * `start`, and the claims preset's `claims-sweep` (protocol and ω together).
 */
export const SWEEP_POINT_AXES: readonly string[] = ['omega', 'start', 'claims-sweep'];

export function groupOf(labels: Labels, without: readonly string[] = SWEEP_POINT_AXES): string {
  const rest = Object.entries(labels).filter(([k]) => !without.includes(k));
  return rest.length ? rest.map(([k, v]) => `${k}=${v}`).join(', ') : 'default';
}

/** The sweep a variant belongs to across seeds: its labels without ω, start and seed. */
export const sweepOf = (labels: Labels) => groupOf(labels, [...SWEEP_POINT_AXES, 'seed']);

/**
 * The protocol of a sparsified run: its start, and `early-short` for a run from initialisation
 * that got only the late runs' penalty epochs (the equal-penalty budget).
 */
export function protocolOf(value: {
  readonly start: string;
  readonly startEpoch: number;
  readonly budgetRule?: string;
}): string {
  return value.startEpoch === 0 && value.budgetRule === 'penalty' ? `${value.start}-short` : value.start;
}

/** Classes of a model config (its output count). */
export const classesOf = (model: { readonly classes?: number; readonly outputs?: number }) =>
  model.classes ?? model.outputs ?? 2;

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
      start: protocolOf(s.value),
      startEpoch: s.value.startEpoch,
      apl: pl.value.normalized,
      aplUnnormalized: pl.value.unnormalized,
      nonlinear: pl.value.total,
      units: pl.value.units,
      effectiveWidth: pl.value.effectiveWidth,
      accuracySparse: lin.value.accuracyBefore,
      accuracyLinearized: lin.value.accuracyAfter,
      ...(base
        ? {
            baselineDepth: base.value.depth,
            baselineAccuracy: base.value.testAccuracy,
            baselineParams: base.value.params,
          }
        : {}),
      params: lin.value.params,
      ...(dense ? { denseAccuracy: dense.value.testAccuracy } : {}),
      backend: s.value.backend,
      seed: s.value.seed,
      sweep: sweepOf(s.labels),
      sourceLayers: pl.value.layers.length,
      chance: 1 / classesOf(lin.value.model as { classes?: number; outputs?: number }),
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
    if (q && p.apl <= d && d <= q.apl)
      return q.apl === p.apl
        ? Math.max(p.accuracy, q.accuracy)
        : p.accuracy + ((d - p.apl) / (q.apl - p.apl)) * (q.accuracy - p.accuracy);
  }
  return undefined;
}

export interface GapPoint {
  readonly group: string;
  readonly sweep: string;
  readonly seed: number;
  /** The protocol compared with the late start (early, early-short, mid …). */
  readonly versus: string;
  readonly d: number;
  readonly late: number;
  readonly early: number;
  readonly gap: number;
}

/**
 * Δ(d) = acc_late(d) − acc_early(d) on a grid of d where both sweeps of one seed are defined
 * (docs/science.md, "Early against late"), for every protocol other than `late`. Grid points where
 * both networks are within `chanceMargin` of chance accuracy say nothing about the claim and are
 * left out.
 */
export function gaps(rows: readonly Row[], step = 0.25, chanceMargin = 0.05): GapPoint[] {
  const out: GapPoint[] = [];
  for (const group of new Set(rows.map((r) => r.group))) {
    const of = (start: string) =>
      rows
        .filter((r) => r.group === group && r.start === start)
        .map((r) => ({ apl: r.apl, accuracy: r.accuracyLinearized }));
    const first = rows.find((r) => r.group === group)!;
    const late = of('late');
    if (late.length < 2) continue;
    for (const versus of [
      ...new Set(rows.filter((r) => r.group === group && r.start !== 'late').map((r) => r.start)),
    ]) {
      const early = of(versus);
      if (early.length < 2) continue;
      const lo = Math.max(Math.min(...late.map((p) => p.apl)), Math.min(...early.map((p) => p.apl)));
      const hi = Math.min(Math.max(...late.map((p) => p.apl)), Math.max(...early.map((p) => p.apl)));
      for (let d = Math.ceil(lo / step) * step; d <= hi + 1e-9; d += step) {
        const [l, e] = [accuracyAt(late, d), accuracyAt(early, d)];
        if (l === undefined || e === undefined) continue;
        if (Math.max(l, e) < first.chance + chanceMargin) continue;
        out.push({
          group,
          sweep: first.sweep,
          seed: first.seed,
          versus,
          d: Number(d.toFixed(4)),
          late: l,
          early: e,
          gap: l - e,
        });
      }
    }
  }
  return out;
}

export type { Outcome as Verdict } from './stats.ts';

export interface Claim {
  readonly claim: string;
  readonly verdict: Outcome;
  /** The numbers and the rule behind the verdict. */
  readonly evidence: string;
  /** Per-seed values and their interval, when the verdict rests on one. */
  readonly interval?: Interval;
  /** The effect and its 95 % CI in the claim's unit (`mean [lo, hi]`), when the verdict rests on one. */
  readonly effect?: string;
  /** The task (sweep) the claim was judged on, when the report holds several. */
  readonly task?: string;
}

const points = (x: number) => `${(100 * x).toFixed(2)} pt`;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Grid points a seed needs in the APL overlap before its Δ counts. */
export const MIN_GRID_POINTS = 3;
/** The margin of the task gate: the dense network must beat each control by this much (accuracy). */
export const GATE_MARGIN = 0.04;

/** A claim judged from per-seed values by the rule of stats.ts. */
function claimFrom(
  claim: string,
  values: readonly number[],
  rule: DifferenceRule,
  ruleText: string,
  format: (x: number) => string = points,
): Claim {
  const j = judgeDifference(values, rule, format);
  return {
    claim,
    verdict: j.outcome,
    evidence: `${j.reason}. Rule: ${ruleText}`,
    ...(j.interval ? { interval: j.interval } : {}),
    ...(j.effect ? { effect: j.effect } : {}),
  };
}

export interface GateControl {
  readonly sweep: string;
  readonly seed: number;
  readonly network: 'linear' | 'plain';
  readonly depth: number;
  readonly accuracy: number;
}

export interface Gate {
  /** Whether the nonlinear-advantage claims can be judged on this task. */
  readonly open: boolean;
  readonly claims: readonly Claim[];
  /** Depth of the plain control the gate used (the shallowest present). */
  readonly plainDepth?: number;
  /** Per seed: dense, linear and shallowest plain accuracies (for the report's table). */
  readonly seeds: readonly { sweep: string; seed: number; dense: number; linear?: number; plain1?: number }[];
}

/**
 * The task gate (docs/science.md, "The task gate"): per seed, the dense network against the same
 * shape made linear and against the plain D = 1 network. The claims are testable only if the dense
 * network beats both by GATE_MARGIN with confidence (both differences reproduced).
 */
export function taskGate(
  dense: readonly { sweep: string; seed: number; accuracy: number }[],
  controls: readonly GateControl[],
): Gate {
  // D = 1 is the control; a run may train only deeper plain controls (a stricter gate).
  const plains = controls.filter((c) => c.network === 'plain').map((c) => c.depth);
  const plainDepth = plains.length ? Math.min(...plains) : undefined;
  const seeds = dense.map((d) => {
    const find = (network: 'linear' | 'plain') =>
      controls.find(
        (c) =>
          c.sweep === d.sweep &&
          c.seed === d.seed &&
          c.network === network &&
          (network === 'linear' || c.depth === plainDepth),
      )?.accuracy;
    const [linear, plain1] = [find('linear'), find('plain')];
    return {
      sweep: d.sweep,
      seed: d.seed,
      dense: d.accuracy,
      ...(linear !== undefined ? { linear } : {}),
      ...(plain1 !== undefined ? { plain1 } : {}),
    };
  });
  const rule: DifferenceRule = { direction: 'greater', margin: GATE_MARGIN };
  const text = `the 95 % CI of the per-seed difference lies above ${points(GATE_MARGIN)}.`;
  const claims = [
    claimFrom(
      'the dense network beats the same shape made linear',
      seeds.flatMap((s) => (s.linear === undefined ? [] : [s.dense - s.linear])),
      rule,
      text,
    ),
    claimFrom(
      `the dense network beats a plain network with ${plainDepth ?? 1} nonlinear layer${(plainDepth ?? 1) > 1 ? 's' : ''} (D = ${plainDepth ?? 1})`,
      seeds.flatMap((s) => (s.plain1 === undefined ? [] : [s.dense - s.plain1])),
      rule,
      text,
    ),
  ];
  return {
    open: claims.every((c) => c.verdict === 'reproduced'),
    claims,
    seeds,
    ...(plainDepth !== undefined ? { plainDepth } : {}),
  };
}

/** What every claim's judge reads: the rows, the seeds, and the task gate. */
interface Judging {
  readonly rows: readonly Row[];
  readonly seeds: readonly number[];
  /** Per seed, f(seed) where it is defined. */
  bySeed<T>(f: (seed: number) => T | undefined): T[];
  /** The "not testable on this task" verdict while the gate is closed. */
  closed(claim: string): Claim | undefined;
  readonly gaps: readonly GapPoint[];
  /** The early protocols (every start but late). */
  readonly protocols: readonly string[];
}

/**
 * The Nonlinear Advantage claims (docs/science.md, "Verdicts"), each judged from paired
 * per-seed values by the rule stated beside it. The rules are fixed here, before any run.
 * Claims about the advantage itself are judged only where the task gate is open.
 */
export function judgeClaims(
  rows: readonly Row[],
  layers: readonly { group: string; seed: number; omega: number; start: string; fractions: readonly number[] }[],
  gate: Gate,
): Claim[] {
  const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
  const j: Judging = {
    rows,
    seeds,
    bySeed: (f) =>
      seeds.flatMap((seed) => {
        const v = f(seed);
        return v === undefined ? [] : [v];
      }),
    closed: (claim) =>
      gate.open
        ? undefined
        : {
            claim,
            verdict: 'not tested',
            evidence: `not testable on this task: the task gate is not passed (${gate.claims.map((c) => `${c.claim}: ${c.verdict}`).join('; ')}).`,
          },
    gaps: gaps(rows),
    protocols: [...new Set(rows.map((r) => r.start))].filter((s) => s !== 'late').sort(),
  };
  return [...gate.claims, judgeDecay(j), ...judgeLateBeatsEarly(j), judgeBaseline(j), judgeMiddleLayers(j, layers)];
}

/**
 * 1. Slow decay, then collapse, as APL falls (late protocol): per seed, the drop from the top-APL
 * network to the best one at ≤ half its APL (slow), and to the lowest-APL one (collapse).
 */
function judgeDecay(j: Judging): Claim {
  const claim = 'accuracy decays slowly, then collapses, as APL falls (late start)';
  const per = j.bySeed((seed) => {
    const pts = j.rows.filter((r) => r.seed === seed && r.start === 'late').sort((a, b) => b.apl - a.apl);
    if (pts.length < MIN_GRID_POINTS) return undefined;
    const top = pts[0]!;
    const half = pts.filter((p) => p.apl <= top.apl / 2);
    if (half.length === 0) return undefined;
    return {
      slow: top.accuracyLinearized - Math.max(...half.map((p) => p.accuracyLinearized)),
      collapse: top.accuracyLinearized - pts.at(-1)!.accuracyLinearized,
    };
  });
  const slow = judgeDifference(
    per.map((p) => p.slow),
    { direction: 'less', reference: 0.02, margin: 0 },
    points,
  );
  const collapse = judgeDifference(
    per.map((p) => p.collapse),
    { direction: 'greater', reference: 0.1, margin: 0 },
    points,
  );
  const outcome: Outcome =
    per.length === 0
      ? 'not tested'
      : slow.outcome === 'not tested' || collapse.outcome === 'not tested'
        ? 'not tested'
        : slow.outcome === 'reproduced' && collapse.outcome === 'reproduced'
          ? 'reproduced'
          : slow.outcome === 'refuted' || collapse.outcome === 'refuted'
            ? 'refuted'
            : 'inconclusive';
  return {
    claim,
    verdict: outcome,
    ...(slow.effect && collapse.effect ? { effect: `slow drop ${slow.effect}; collapse ${collapse.effect}` } : {}),
    evidence:
      per.length === 0
        ? `needs ≥ ${MIN_GRID_POINTS} late-start networks per seed, one at ≤ half the top APL`
        : `slow: drop to the best network at ≤ half the top APL, ${slow.reason}; collapse: drop to the lowest-APL network, ${collapse.reason}. Rule: the slow drop's CI lies below 2 pt and the collapse's above 10 pt.`,
  };
}

/** A task and its easier sibling of one family, named by their `task` axis values. */
export interface DifficultyPair {
  readonly hard: string;
  readonly easy: string;
}

/** The task axis value in a sweep's labels (`task=rhm-3, …`), if any. */
export const taskOf = (sweep: string) =>
  sweep
    .split(', ')
    .find((part) => part.startsWith('task='))
    ?.slice('task='.length);

/**
 * 3. A larger gap on the hard task than on the easy one, for every (hard, easy) pair of the run whose
 * sweeps differ only in the task. The easy task needs no gate (the claim is that its gap vanishes);
 * the hard one does.
 */
export function judgeDifficulty(
  rows: readonly Row[],
  pairs: readonly DifficultyPair[],
  gates: ReadonlyMap<string, Gate>,
): Claim[] {
  const claim = 'the gap is larger on the hard task than on the easy one';
  const points = gaps(rows);
  const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
  const sweeps = [...new Set(rows.map((r) => r.sweep))];
  const out: Claim[] = [];
  for (const hardSweep of sweeps) {
    for (const pair of pairs.filter((p) => p.hard === taskOf(hardSweep))) {
      const easySweep = hardSweep
        .split(', ')
        .map((part) => (part === `task=${pair.hard}` ? `task=${pair.easy}` : part))
        .join(', ');
      if (!sweeps.includes(easySweep)) continue;
      const task = `${hardSweep} vs ${easySweep}`;
      const gate = gates.get(hardSweep);
      if (gate && !gate.open) {
        out.push({
          claim,
          task,
          verdict: 'not tested',
          evidence: `not testable: the hard task's gate is not passed (${gate.claims.map((c) => `${c.claim}: ${c.verdict}`).join('; ')}).`,
        });
        continue;
      }
      const protocols = [...new Set(points.filter((p) => p.sweep === hardSweep).map((p) => p.versus))];
      const versus = protocols.includes('early') ? 'early' : protocols.sort()[0];
      const at = (sweep: string, seed: number) => {
        const pts = points.filter((p) => p.seed === seed && p.versus === versus && p.sweep === sweep);
        return pts.length >= MIN_GRID_POINTS ? mean(pts.map((p) => p.gap)) : undefined;
      };
      const values = seeds.flatMap((seed) => {
        const [h, e] = [at(hardSweep, seed), at(easySweep, seed)];
        return h === undefined || e === undefined ? [] : [h - e];
      });
      out.push(
        values.length === 0
          ? {
              claim,
              task,
              verdict: 'not tested',
              evidence: `no seed has ≥ ${MIN_GRID_POINTS} matched-APL grid points of late against ${versus ?? 'an early protocol'} on both tasks`,
            }
          : {
              ...claimFrom(
                claim,
                values,
                { direction: 'greater', margin: 0.01 },
                `per seed, Δ(hard) − Δ(easy), Δ = late − ${versus} at matched APL; reproduced if the 95 % CI lies above 1 pt.`,
              ),
              task,
            },
      );
    }
  }
  if (out.length === 0) {
    out.push({
      claim,
      verdict: 'not tested',
      evidence: `needs a hard task and its easy partner of one family in the run (${pairs.map((p) => `task=${p.hard},${p.easy}`).join(' or ')}), early and late`,
    });
  }
  return out;
}

/**
 * 4. Linearised beats its width-matched baseline of depth D = round(APL) < the source's depth (a
 * baseline as deep as the source is the source retrained, which says nothing).
 */
function judgeBaseline(j: Judging): Claim {
  const claim = 'the linearised network beats its width-matched baseline of the same depth';
  const values = j.bySeed((seed) => {
    const paired = j.rows.filter(
      (r) =>
        r.seed === seed &&
        r.start === 'late' &&
        r.baselineAccuracy !== undefined &&
        r.baselineDepth! < r.sourceLayers &&
        r.accuracyLinearized > r.chance + 0.05,
    );
    return paired.length ? mean(paired.map((r) => r.accuracyLinearized - r.baselineAccuracy!)) : undefined;
  });
  return (
    j.closed(claim) ??
    (values.length === 0
      ? {
          claim,
          verdict: 'not tested',
          evidence: 'no late-start network above chance has a baseline shallower than its source',
        }
      : claimFrom(
          claim,
          values,
          { direction: 'greater', margin: 0.01 },
          'per seed, the mean difference over late-start networks whose baseline is shallower than the source; reproduced if the 95 % CI lies above 1 pt.',
        ))
  );
}

/** 5. Nonlinear units concentrate in the middle of the network. */
function judgeMiddleLayers(j: Judging, layers: Parameters<typeof judgeClaims>[1]): Claim {
  const claim = 'nonlinear units concentrate in the middle of the network';
  const values = j.bySeed((seed) => {
    const partial = layers.filter(
      (l) =>
        l.seed === seed && l.fractions.length >= 3 && l.fractions.some((f) => f > 0) && l.fractions.some((f) => f < 1),
    );
    return partial.length
      ? mean(partial.map((l) => mean(l.fractions.slice(1, -1)) - mean([l.fractions[0]!, l.fractions.at(-1)!])))
      : undefined;
  });
  return values.length === 0
    ? { claim, verdict: 'not tested', evidence: 'needs partially sparsified networks with ≥ 3 activation layers' }
    : claimFrom(
        claim,
        values,
        { direction: 'greater', margin: 0.05 },
        "per seed, the middle layers' mean k/n minus the first and last layers' over partially sparsified networks; reproduced if the 95 % CI lies above 0.05.",
        (x) => x.toFixed(3),
      );
}

/** 2. Late beats early at matched APL, for each early protocol. */
function judgeLateBeatsEarly(j: Judging): Claim[] {
  const claims: Claim[] = [];
  if (j.protocols.length === 0)
    claims.push({
      claim: 'late beats early at matched APL (Δ(d) > 0)',
      verdict: 'not tested',
      evidence: 'needs both an early and a late sweep',
    });
  const deltaOf = (versus: string, sweep?: (s: string) => boolean) =>
    j.bySeed((seed) => {
      const pts = j.gaps.filter((p) => p.seed === seed && p.versus === versus && (!sweep || sweep(p.sweep)));
      return pts.length >= MIN_GRID_POINTS ? mean(pts.map((p) => p.gap)) : undefined;
    });
  for (const versus of j.protocols) {
    const claim = `late beats ${versus} at matched APL (Δ(d) > 0)`;
    const values = deltaOf(versus);
    claims.push(
      j.closed(claim) ??
        (values.length === 0
          ? {
              claim,
              verdict: 'not tested',
              evidence: `no seed has ≥ ${MIN_GRID_POINTS} grid points (step 0.25) where both sweeps overlap in APL above chance accuracy`,
            }
          : claimFrom(
              claim,
              values,
              { direction: 'greater', margin: 0.01 },
              `per seed, the mean Δ over ≥ ${MIN_GRID_POINTS} APL grid points above chance; reproduced if the 95 % CI lies above 1 pt, refuted if below 0 or within ±1 pt.`,
            )),
    );
  }
  return claims;
}
