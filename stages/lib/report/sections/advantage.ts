/**
 * §1, the nonlinear advantage: accuracy against APL, the early/late gap, where the nonlinear units
 * sit, training curves, the width-matched baselines, and the task gate that decides whether the
 * advantage claims can be judged on this task at all.
 */
import {
  accuracyVsApl,
  baselineFigure,
  type CoreCell,
  coreNetworkFigure,
  gapFigure,
  layerFractionsFigure,
  trainingCurvesFigure,
} from '../figures.ts';
import type { PathLengthValue } from '../../artifacts.ts';
import type { Section } from '../render.ts';
import {
  type Gate,
  groupOf,
  judgeClaims,
  judgeDifficulty,
  protocolOf,
  type Row,
  sameLabels,
  sweepOf,
  taskGate,
} from '../rows.ts';
import { fmt, list, mean, pct, type ReportContext, rendered, type SectionOutput } from './context.ts';

export async function advantageSection(context: ReportContext): Promise<SectionOutput> {
  const { inputs, rows, provenance, gapPoints } = context;
  const { cells, fractions, curves, firstGroup, gates, claims } = advantageData(context);
  const gate = allGates(gates);
  const several = gates.size > 1;
  const section: Section = {
    id: 'nonlinear-advantage',
    title: 'Nonlinear advantage',
    paper: 'P1 nonlinear advantage',
    text: [
      `${rows.length} sparsified networks in ${gates.size} sweep(s), seeds ${list(rows.map((r) => r.seed))}.`,
      ...[...gates].map(([sweep, g]) => {
        const on = several ? ` on ${sweep}` : '';
        const plain = `the plain D = ${g.plainDepth ?? 1} network`;
        return g.open
          ? `Task gate passed${on}: the dense network beats the same shape made linear and ${plain} by more than 4 points with 95 % confidence, so the claims below are judged there.`
          : `Task gate not passed${on} (see its two claims and the table): the nonlinear-advantage claims are not testable there and are marked so. Verdicts need ≥ 3 paired seeds (the claims preset: \`linea run --preset claims\`).`;
      }),
    ],
    claims,
    figures: await rendered([
      accuracyVsApl(rows, provenance),
      gapFigure(gapPoints, provenance),
      coreNetworkFigure(cells, `${provenance}; sweep ${firstGroup}`),
      layerFractionsFigure(fractions, `${provenance}; sweep ${firstGroup}`),
      trainingCurvesFigure(curves, provenance),
      baselineFigure(rows, provenance),
    ]),
    tables: [gateTable(gate), networksTable(rows)],
    notes: advantageNotes(context),
  };
  return {
    section,
    results: {
      rows,
      gaps: gapPoints,
      gate,
      gates: Object.fromEntries(gates),
      control: inputs.control.map((c) => ({ labels: c.labels, ...c.value })),
      dense: inputs.dense.map((d) => ({ labels: d.labels, ...d.value })),
      sparse: inputs.sparse.map((s) => ({ labels: s.labels, ...s.value })),
      linearized: inputs.linearized.map((l) => ({ labels: l.labels, ...l.value })),
      pathLength: inputs.pathLength.map((p) => ({ labels: p.labels, ...p.value })),
      baseline: inputs.baseline.map((b) => ({ labels: b.labels, ...b.value })),
    },
  };
}

/** Layer profiles and core-network cells in each network's forward order, training curves, the gate and the claims. */
function advantageData({ inputs, rows, difficulty }: ReportContext) {
  const profiles = inputs.pathLength.map((p) => {
    const s = inputs.sparse.find((v) => sameLabels(v.labels, p.labels))!;
    return {
      group: groupOf(p.labels),
      sweep: sweepOf(p.labels),
      seed: s.value.seed,
      omega: s.value.omega,
      start: protocolOf(s.value),
      value: p.value,
    };
  });
  const firstGroup = rows[0]!.group;
  const shown = profiles
    .filter((p) => p.group === firstGroup)
    .sort((a, b) => a.start.localeCompare(b.start) || a.omega - b.omega);
  const cells: CoreCell[] = shown.flatMap((p) =>
    p.value.layers.flatMap((layer, l) =>
      (p.value.masks[layer.site] ?? []).map((nonlinear, channel) => ({
        panel: `${p.start}, ω=${p.omega}`,
        layer: l,
        site: layer.site,
        channel,
        nonlinear,
      })),
    ),
  );
  const fractions = shown.flatMap((p) =>
    p.value.layers.map((layer, l) => ({
      start: p.start,
      omega: p.omega,
      layer: l,
      site: layer.site,
      fraction: layer.fraction,
    })),
  );
  const curves = [
    ...inputs.dense.flatMap((d) =>
      d.value.history.map((h) => ({
        run: `dense ${groupOf(d.labels)}`,
        kind: 'dense (ReLU)',
        epoch: h.epoch,
        accuracy: h.testAccuracy ?? 0,
      })),
    ),
    ...inputs.sparse
      .filter((s) => groupOf(s.labels) === firstGroup)
      .flatMap((s) =>
        s.value.history.map((h) => ({
          run: `ω=${s.value.omega}`,
          kind: `sparsified, start ${s.value.start}`,
          epoch: s.value.startEpoch + h.epoch,
          accuracy: h.testAccuracy ?? 0,
        })),
      ),
    ...[...new Map(inputs.baseline.map((b) => [b.digest, b])).values()].flatMap((b) =>
      b.value.history.map((h) => ({
        run: `D=${b.value.depth}`,
        kind: 'baseline (plain ReLU)',
        epoch: h.epoch,
        accuracy: h.testAccuracy ?? 0,
      })),
    ),
  ];
  const { gates, claims } = judgedBySweep({ inputs, rows, difficulty }, profiles);
  return { cells, fractions, curves, firstGroup, gates, claims };
}

/** Each task (sweep) has its own gate and its own claims: a gate closed on one task says nothing of another. */
function judgedBySweep(
  { inputs, rows, difficulty }: Pick<ReportContext, 'inputs' | 'rows' | 'difficulty'>,
  profiles: readonly {
    group: string;
    sweep: string;
    seed: number;
    omega: number;
    start: string;
    value: PathLengthValue;
  }[],
) {
  const dense = inputs.dense.map((d) => ({
    sweep: sweepOf(d.labels),
    seed: d.value.seed,
    accuracy: d.value.testAccuracy,
  }));
  // A control's own axis is not part of the sweep it controls for.
  const controls = inputs.control.map((c) => ({
    sweep: sweepOf(Object.fromEntries(Object.entries(c.labels).filter(([k]) => k !== 'control'))),
    seed: c.value.seed,
    network: c.value.network,
    depth: c.value.depth,
    accuracy: c.value.testAccuracy,
  }));
  const sweeps = [...new Set(rows.map((r) => r.sweep))];
  const gates = new Map(
    sweeps.map((sweep) => [
      sweep,
      taskGate(
        dense.filter((d) => d.sweep === sweep),
        controls.filter((c) => c.sweep === sweep),
      ),
    ]),
  );
  const claims = [
    ...sweeps.flatMap((sweep) =>
      judgeClaims(
        rows.filter((r) => r.sweep === sweep),
        profiles
          .filter((p) => p.sweep === sweep)
          .map((p) => ({
            group: p.group,
            seed: p.seed,
            omega: p.omega,
            start: p.start,
            fractions: p.value.layers.map((l) => l.fraction),
          })),
        gates.get(sweep)!,
      ).map((c) => ({ ...c, task: sweep })),
    ),
    ...judgeDifficulty(rows, difficulty, gates),
  ];
  return { gates, claims };
}

/** Every sweep's gate rows in one table (the shallowest plain control of the first sweep names the column). */
function allGates(gates: ReadonlyMap<string, Gate>): Gate {
  const all = [...gates.values()];
  const plainDepth = all.find((g) => g.plainDepth !== undefined)?.plainDepth;
  return {
    open: all.every((g) => g.open),
    claims: all.flatMap((g) => g.claims),
    seeds: all.flatMap((g) => g.seeds),
    ...(plainDepth !== undefined ? { plainDepth } : {}),
  };
}

function gateTable(gate: Gate): Section['tables'][number] {
  return {
    caption: `The task gate: test accuracy in % per seed of the dense network, the same shape made linear, and the plain D = ${gate.plainDepth ?? 1} network (docs/science.md, "The task gate").`,
    columns: [
      'sweep',
      'seed',
      'dense',
      'linear',
      `plain D = ${gate.plainDepth ?? 1}`,
      'dense − linear',
      `dense − D${gate.plainDepth ?? 1}`,
    ],
    rows: gate.seeds.map((g) => [
      g.sweep,
      g.seed,
      pct(g.dense),
      g.linear === undefined ? '–' : pct(g.linear),
      g.plain1 === undefined ? '–' : pct(g.plain1),
      g.linear === undefined ? '–' : pct(g.dense - g.linear),
      g.plain1 === undefined ? '–' : pct(g.dense - g.plain1),
    ]),
  };
}

function networksTable(rows: readonly Row[]): Section['tables'][number] {
  return {
    caption:
      'Every sparsified network: accuracy in %, APL normalised and unnormalised, nonlinear units, the width-matched baseline.',
    columns: [
      'sweep',
      'start',
      'ω',
      'APL',
      'APL (unnorm.)',
      'nonlinear',
      'W_eff',
      'acc. sparsified',
      'acc. linearised',
      'baseline D',
      'baseline acc.',
      'params',
    ],
    rows: rows.map((r) => [
      r.group,
      r.start,
      r.omega,
      fmt(r.apl, 3),
      fmt(r.aplUnnormalized, 3),
      `${r.nonlinear}/${r.units}`,
      fmt(r.effectiveWidth, 1),
      pct(r.accuracySparse),
      pct(r.accuracyLinearized),
      r.baselineDepth ?? '–',
      r.baselineAccuracy === undefined ? '–' : pct(r.baselineAccuracy),
      r.params,
    ]),
  };
}

function advantageNotes({ inputs }: ReportContext): string[] {
  const epsilon = inputs.linearized[0]!.value.epsilon;
  const folds = [...new Set(inputs.linearized.flatMap((l) => l.value.folded.folds))];
  const maxLogitError = Math.max(...inputs.linearized.map((l) => l.value.folded.maxRelativeError));
  const timing = inputs.linearized.map((l) => l.value.folded.inferenceMs);
  const first = inputs.linearized[0]!.value;
  return [
    `Budget: every sparsified run trains for the dense epochs before its start plus its own, ${[...new Set(inputs.sparse.map((s) => s.value.budget))].join(' / ')} epochs in all; baselines train from scratch for the same budget.`,
    `Penalty ω·Σ√(|1−α| + 1e-8) on every PReLU channel, α clipped to [0, 1] and snapped to 1 (then frozen) within 1e-3 after each step; linearisation sets α := 1 where |1−α| < ε_lin = ${epsilon}.`,
    `Folding: ${folds.length ? folds.join('; ') : 'nothing folds exactly in this architecture (zero-padded 3×3 convolutions around a linear layer do not compose into one)'}. Largest relative logit difference between folded and linearised models: ${maxLogitError.toExponential(2)}. Layers ${first.folded.layers.original} → ${first.folded.layers.folded}, parameters ${first.folded.params.original} → ${first.folded.params.folded}; inference over the check batch ${mean(timing.map((t) => t.original)).toFixed(2)} ms → ${mean(timing.map((t) => t.folded)).toFixed(2)} ms (mean over networks).`,
    `ε_lin sensitivity (accuracy at ε = ${first.sensitivity.map((s) => s.epsilon).join(', ')}) is in results.json for every network.`,
    'APL is the normalised average path length (docs/science.md, "Average path length"); the unnormalised one is in the table and results.json.',
  ];
}
