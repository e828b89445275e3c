/**
 * report: gathers every variant of the sweep and writes a self-contained HTML page (figures
 * rendered to SVG in Node with Vega-Lite), results.json with every number behind it, and a
 * Markdown summary that judges docs/science.md's qualitative claims by rules fixed in advance. One
 * section per analysis: the nonlinear advantage (§1), frivolous units against width (§2), the
 * frivolous units of the linearised networks, transition to linearity (§3) and the bridge (§3.4).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, gather, type Variant } from '../src/index.ts';
import type {
  BaselineValue,
  ControlValue,
  FrivolousLinearizedValue,
  FrivolousValue,
  KernelDriftValue,
  LinearityValue,
  LinearizeValue,
  PathLengthValue,
  PretrainValue,
  SparsifyValue,
} from './lib/artifacts.ts';
import {
  accuracyVsApl,
  baselineFigure,
  coreNetworkFigure,
  driftFigure,
  frivolousAgreementFigure,
  frivolousGrowthFigure,
  gapFigure,
  knockoutFigure,
  layerFractionsFigure,
  ntkFigure,
  provenanceLine,
  trainingCurvesFigure,
  type CoreCell,
  type Figure,
} from './lib/report/figures.ts';
import { html, markdown, toSvg, type Section } from './lib/report/render.ts';
import {
  gaps,
  groupOf,
  joinRows,
  judgeClaims,
  protocolOf,
  sameLabels,
  sweepOf,
  taskGate,
  type Claim,
  type Labelled,
} from './lib/report/rows.ts';
import {
  agreementPoints,
  bridge,
  driftRows,
  FRIVOLOUS_COUNTS,
  growth,
  judgeFrivolousClaims,
  judgeKnockoutClaim,
  judgeLinearityClaims,
  knockoutRows,
  ntkPoints,
  ntkSlopes,
  widthPoints,
} from './lib/report/scaling.ts';

const labelled = <T>(variants: readonly Variant<T>[]): Labelled<T>[] =>
  variants.map((v) => ({ labels: v.labels, value: v.value }));
const fmt = (x: number | undefined, digits = 4) =>
  x === undefined || Number.isNaN(x) ? '–' : Number(x.toFixed(digits));
const sci = (x: number) => (x === 0 ? '0' : x.toExponential(3));
const pct = (x: number) => Number((100 * x).toFixed(2));
const list = (xs: readonly (number | string)[]) => [...new Set(xs)].join(', ');

export const reportStage = defineStage({
  name: 'report',
  description: 'HTML report with Vega-Lite figures, results.json, summary.md',
  publish: true,
  params: z.object({ title: z.string().default('Nonlinear advantage: how much nonlinearity does the network use?') }),
  inputs: {
    dense: gather<PretrainValue>('dense runs'),
    sparse: gather<SparsifyValue>('sparsified runs'),
    linearized: gather<LinearizeValue>('linearised networks'),
    pathLength: gather<PathLengthValue>('their path lengths'),
    baseline: gather<BaselineValue>('width-matched baselines'),
    control: gather<ControlValue>("the task gate's control networks"),
    frivolous: gather<FrivolousValue>('frivolous units of the width sweep'),
    frivolousLinearized: gather<FrivolousLinearizedValue>('frivolous units of the linearised networks'),
    kernelDrift: gather<KernelDriftValue>('kernel drift across the sparsified runs'),
    linearity: gather<LinearityValue>('the NTK width sweep'),
  },
  run: async (ctx) => {
    const { inputs } = ctx;
    const rows = joinRows({
      dense: labelled(inputs.dense),
      sparse: labelled(inputs.sparse),
      linearized: labelled(inputs.linearized),
      pathLength: labelled(inputs.pathLength),
      baseline: labelled(inputs.baseline),
    });
    if (rows.length === 0)
      throw new Error(
        "stage 'report': no sparsified network reached the report; check that sparsify, linearize and path-length ran",
      );
    const epsilon = inputs.linearized[0]!.value.epsilon;
    const provenance = provenanceLine({
      seeds: [...new Set(rows.map((r) => r.seed))],
      omegas: [...new Set(rows.map((r) => r.omega))].sort((a, b) => a - b),
      epsilon,
      backends: [...new Set([...inputs.dense, ...inputs.sparse].map((v) => v.value.backend))],
      sparse: {
        lr: inputs.sparse.map((s) => s.value.penaltyLr).sort((a, b) => a - b),
        clipNorm: inputs.sparse.map((s) => s.value.clipNorm),
        fineTune: inputs.sparse.map((s) => s.value.fineTuneEpochs),
      },
    });

    // Layer profiles and core-network cells, in each network's forward order.
    const profiles = inputs.pathLength.map((p) => {
      const s = inputs.sparse.find((v) => sameLabels(v.labels, p.labels))!;
      return {
        group: groupOf(p.labels),
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
    const gapPoints = gaps(rows);
    const gate = taskGate(
      inputs.dense.map((d) => ({ sweep: sweepOf(d.labels), seed: d.value.seed, accuracy: d.value.testAccuracy })),
      // A control's own axis is not part of the sweep it controls for.
      inputs.control.map((c) => ({
        sweep: sweepOf(Object.fromEntries(Object.entries(c.labels).filter(([k]) => k !== 'control'))),
        seed: c.value.seed,
        network: c.value.network,
        depth: c.value.depth,
        accuracy: c.value.testAccuracy,
      })),
    );
    const claims = judgeClaims(
      rows,
      profiles.map((p) => ({
        group: p.group,
        seed: p.seed,
        omega: p.omega,
        start: p.start,
        fractions: p.value.layers.map((l) => l.fraction),
      })),
      gate,
    );
    const rendered = async (figures: readonly Figure[]) => {
      const out = [];
      for (const figure of figures) out.push({ figure, svg: await toSvg(figure) });
      return out;
    };
    const folds = [...new Set(inputs.linearized.flatMap((l) => l.value.folded.folds))];
    const maxLogitError = Math.max(...inputs.linearized.map((l) => l.value.folded.maxRelativeError));
    const timing = inputs.linearized.map((l) => l.value.folded.inferenceMs);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = inputs.linearized[0]!.value;
    const sections: Section[] = [
      {
        id: 'nonlinear-advantage',
        title: 'Nonlinear advantage',
        text: [
          `${rows.length} sparsified networks in ${new Set(rows.map((r) => r.sweep)).size} sweep(s), seeds ${list(rows.map((r) => r.seed))}.`,
          gate.open
            ? 'Task gate passed: the dense network beats the same shape made linear and the plain D = 1 network by more than 4 points with 95 % confidence, so the claims below are judged.'
            : 'Task gate not passed (see its two claims and the table): the nonlinear-advantage claims are not testable on this task and are marked so. Verdicts need ≥ 3 paired seeds (the claims preset: `linea run --preset claims`).',
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
        tables: [
          {
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
          },
          {
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
          },
        ],
        notes: [
          `Budget: every sparsified run trains for the dense epochs before its start plus its own, ${[...new Set(inputs.sparse.map((s) => s.value.budget))].join(' / ')} epochs in all; baselines train from scratch for the same budget.`,
          `Penalty ω·Σ√(|1−α| + 1e-8) on every PReLU channel, α clipped to [0, 1] and snapped to 1 (then frozen) within 1e-3 after each step; linearisation sets α := 1 where |1−α| < ε_lin = ${epsilon}.`,
          `Folding: ${folds.length ? folds.join('; ') : 'nothing folds exactly in this architecture (zero-padded 3×3 convolutions around a linear layer do not compose into one)'}. Largest relative logit difference between folded and linearised models: ${maxLogitError.toExponential(2)}. Layers ${first.folded.layers.original} → ${first.folded.layers.folded}, parameters ${first.folded.params.original} → ${first.folded.params.folded}; inference over the check batch ${mean(timing.map((t) => t.original)).toFixed(2)} ms → ${mean(timing.map((t) => t.folded)).toFixed(2)} ms (mean over networks).`,
          `ε_lin sensitivity (accuracy at ε = ${first.sensitivity.map((s) => s.epsilon).join(', ')}) is in results.json for every network.`,
          'APL is the normalised average path length (docs/science.md, "Average path length"); the unnormalised one is in the table and results.json.',
        ],
      },
    ];

    // Frivolous units over the dense width sweep (§2).
    const widths = widthPoints(labelled(inputs.frivolous));
    const firstModel = inputs.dense[0]!.value.model as { classes?: number; outputs?: number };
    const chance = 1 / (firstModel.classes ?? firstModel.outputs ?? 2);
    const growths = growth(widths, chance);
    const untrained = widths.filter((w) => w.accuracy < chance + 0.05);
    const denseSeeds = list(inputs.dense.map((d) => d.value.seed));
    const backends = list([...inputs.dense, ...inputs.sparse].map((v) => v.value.backend));
    if (widths.length) {
      const f0 = inputs.frivolous[0]!.value;
      const setting = (pick: (v: FrivolousValue) => number) => list(inputs.frivolous.map((f) => pick(f.value)));
      const threshold = setting((v) => v.settings.threshold);
      const tail = list(inputs.frivolous.map((f) => `${100 * f.value.settings.energy} %`));
      const frivolousProvenance = `seeds ${denseSeeds}; width factors f ∈ {${list(widths.map((w) => w.width))}}, F = ${f0.widest}; ${f0.prunability.thresholds.length} knockout orders, agreement threshold ${threshold}, PCA tail ${tail} (docs/science.md, "Prunable units, Redundant units"); test set; backend ${backends}`;
      sections.push({
        id: 'frivolous',
        title: 'Frivolous units against width',
        text: [
          `${widths.length} dense networks trained by the pretrain stage at width factors ${list(widths.map((w) => `×${w.width}`))} of the default architecture, measured on the test set in the layers the paper records (every activation layer of a plain CNN; stem and stage outputs of a ResNet).`,
          ...(untrained.length
            ? [
                `Left out of g: ${untrained.map((w) => `×${w.width} (${w.group}, ${pct(w.accuracy)} % test accuracy, chance ${pct(chance)} %)`).join(', ')}: a network that did not train has no units worth counting.`,
              ]
            : []),
        ],
        claims: judgeFrivolousClaims(growths),
        figures: await rendered([
          frivolousGrowthFigure(
            widths.flatMap((w) =>
              FRIVOLOUS_COUNTS.map((units) => ({ group: w.group, width: w.width, units, value: w.counts[units] })),
            ),
            frivolousProvenance,
          ),
          frivolousAgreementFigure(
            agreementPoints(labelled(inputs.frivolous)),
            inputs.frivolous[0]!.value.settings.threshold,
            frivolousProvenance,
          ),
        ]),
        tables: [
          {
            caption: 'Per width: p* (mean over the knockout orders), c̄ (mean over layers), and the normalised counts.',
            columns: [
              'sweep',
              'f',
              'params',
              'test acc. %',
              'p*',
              'prunable',
              'non-prunable',
              'c̄',
              'redundant',
              'non-redundant',
            ],
            rows: widths.map((w) => [
              w.group,
              w.width,
              w.params,
              pct(w.accuracy),
              fmt(w.threshold, 3),
              fmt(w.counts.prunable),
              fmt(w.counts['non-prunable']),
              fmt(w.redundantFraction, 3),
              fmt(w.counts.redundant),
              fmt(w.counts['non-redundant']),
            ]),
          },
          {
            caption: 'Growth factor g: the mean ratio of a count per doubling of width (2 = as fast as the width).',
            columns: ['sweep', 'count', 'g', 'widths'],
            rows: growths.map((g) => [g.group, g.count, fmt(g.g, 3), g.widths.join(', ')]),
          },
        ],
        notes: [
          `Knockout: in every recorded layer at once, the first ⌊p·n_l⌋ units of a random order (fixed per order) are multiplied by 0 at every position, without rescaling; p ∈ {0, 1/6, …, 1}. p* is the linear interpolation of the first crossing of agreement ${threshold}, 1 when agreement never falls below it; averaged over the orders (plot_demo.ipynb).`,
          `Redundancy: covariance of the test-set activations (conv: every spatial position a sample, at most ${list(inputs.frivolous.map((f) => f.value.settings.maxSamples.toLocaleString('en')))} rows, sampled uniformly), eigenvalues ascending, the smallest k whose lowest k carry more than ${tail} of the variance; c_l = k/n_l, averaged over layers.`,
          "g is taken per doubling, (Y(f_{i+1})/Y(f_i))^(1/log₂(f_{i+1}/f_i)), which is the paper's get_slope on a doubling grid; pairs with a zero count have no ratio and are left out.",
        ],
      });
    }

    // The frivolous measures of the linearised networks, and knockouts of their nonlinear units.
    const knockouts = knockoutRows(labelled(inputs.frivolousLinearized));
    if (knockouts.length) {
      const point = (k: (typeof knockouts)[number], units: string, which: 'knockNonlinear' | 'knockLinear') => [
        {
          group: k.group,
          start: k.start,
          omega: k.omega,
          units,
          set: 'these units',
          agreement: k.value[which].targeted,
        },
        {
          group: k.group,
          start: k.start,
          omega: k.omega,
          units,
          set: 'random, same sizes',
          agreement: k.value[which].randomMean,
        },
      ];
      const pair = (x: { targeted: number; randomMean: number; units: number }) =>
        x.units === 0 ? '–' : `${pct(x.targeted)} / ${pct(x.randomMean)}`;
      sections.push({
        id: 'frivolous-linearized',
        title: 'Frivolous units of the linearised networks',
        text: [
          "Are the units that stay nonlinear the non-frivolous ones? Each linearised network's nonlinear units are knocked out in every layer at once and the agreement with the intact network compared with random sets of the same per-layer sizes; the same for its linear units, and for the to-stay-nonlinear units in the dense snapshot the run started from.",
        ],
        claims: [judgeKnockoutClaim(knockouts)],
        figures: await rendered([
          knockoutFigure(
            knockouts.flatMap((k) => [
              ...point(k, 'nonlinear', 'knockNonlinear'),
              ...point(k, 'linear', 'knockLinear'),
            ]),
            provenance,
          ),
        ]),
        tables: [
          {
            caption:
              'Agreement % with the intact network: chosen units knocked out / random sets of the same sizes (mean of the orders). p* and c̄ as in the width sweep.',
            columns: [
              'sweep',
              'start',
              'ω',
              'nonlinear',
              'p*',
              'c̄',
              'nonlinear out',
              'linear out',
              'nonlinear out, at the start epoch',
            ],
            rows: knockouts.map((k) => [
              k.group,
              k.start,
              k.omega,
              `${k.value.nonlinear}/${k.value.units}`,
              fmt(k.value.prunableThreshold, 3),
              fmt(k.value.redundantFraction, 3),
              pair(k.value.knockNonlinear),
              pair(k.value.knockLinear),
              pair(k.value.knockNonlinearAtStart),
            ]),
          },
        ],
        notes: [
          'Knocking out a linear unit (α = 1, the identity) removes its channel as it does for a nonlinear one. At the early start the start-epoch network is the initialisation, whose predictions are those of random weights.',
        ],
      });
    }

    // Transition to linearity over the NTK width sweep (§3).
    const ntk = ntkPoints(labelled(inputs.linearity));
    const slopes = ntkSlopes(ntk);
    if (ntk.length) {
      const v0 = ntk[0]!.value;
      const ntkProvenance = `seeds ${list(ntk.map((p) => p.value.seed))}; m ∈ {${list(ntk.map((p) => p.width))}}; ${list(ntk.map((p) => p.variant))}; full-batch GD on ½·MSE, rate ${list(ntk.map((p) => p.value.lr))}; backend ${list(ntk.map((p) => p.value.backend))}`;
      sections.push({
        id: 'linearity',
        title: 'Transition to linearity',
        text: [
          `NTK-parametrised tanh MLPs (weights N(0, 1), each layer scaled by 1/√fan-in, no biases) on points of the unit sphere with the target x₁x₂, trained by full-batch gradient descent; ${v0.depth} wide hidden layer(s), the bottleneck variant has a narrow layer between two wide ones.`,
        ],
        claims: judgeLinearityClaims(slopes),
        figures: await rendered([
          ntkFigure(
            'ntk-hessian',
            'Hessian spectral norm against width',
            '‖H‖₂ of the output (mean over probes)',
            ntk.flatMap((p) => [
              {
                group: p.group,
                variant: p.variant,
                width: p.width,
                value: p.value.hessian.initial,
                when: 'initialisation',
              },
              {
                group: p.group,
                variant: p.variant,
                width: p.width,
                value: p.value.hessian.final,
                when: 'after training',
              },
            ]),
            ntkProvenance,
          ),
          ntkFigure(
            'ntk-kernel',
            'Tangent-kernel drift against width',
            'relative change of the tangent kernel',
            ntk.map((p) => ({ group: p.group, variant: p.variant, width: p.width, value: p.value.kernelDrift })),
            ntkProvenance,
          ),
        ]),
        tables: [
          {
            caption: 'Log-log slopes against m (least squares) with R² as the quality of the fit.',
            columns: ['sweep', 'variant', 'measure', 'slope', 'R²', 'widths'],
            rows: slopes.map((s) => [s.group, s.variant, s.measure, fmt(s.slope, 3), fmt(s.r2, 3), s.n]),
          },
          {
            caption: 'Per network.',
            columns: [
              'sweep',
              'variant',
              'm',
              'params',
              'rate',
              'loss 0',
              'loss T',
              '‖H‖ at init',
              '‖H‖ trained',
              'kernel drift',
              'lin. gap',
              'travel',
            ],
            rows: ntk.map((p) => [
              p.group,
              p.variant,
              p.width,
              p.value.params,
              p.value.lr,
              sci(p.value.loss.initial),
              sci(p.value.loss.final),
              sci(p.value.hessian.initial),
              sci(p.value.hessian.final),
              sci(p.value.kernelDrift),
              sci(p.value.linearizationGap),
              sci(p.value.travel),
            ]),
          },
        ],
        notes: [
          'tfjs records no tape while it computes gradients, so there is no double backprop: each Hessian-vector product is a central difference of parameter gradients, (∇f(w + εv) − ∇f(w − εv))/2ε with ε = 1e-3 along v/‖v‖ (exact for a quadratic model, O(ε²) otherwise). ‖H‖₂ = |λ|max by power iteration (stopping at relative change < 1e-3), averaged over the Hessian probes.',
          'Kernel drift is ‖K_T − K_0‖_F / ‖K_0‖_F on training points; the linearisation gap is max |f(w_T) − f_lin(w_T)| / max |f(w_T) − f(w_0)| over the same points, with f_lin the first-order expansion around w_0 taken at the trained weights; travel is ‖w_T − w_0‖ / ‖w_0‖.',
        ],
      });
    }

    // The bridge (§3.4): the same measurements across each sparsified run.
    const drifts = driftRows(labelled(inputs.kernelDrift));
    const bridgeRows = bridge(drifts, gapPoints);
    if (drifts.length) {
      const driftSetting = (pick: (v: KernelDriftValue) => number) =>
        list(inputs.kernelDrift.map((k) => pick(k.value)));
      sections.push({
        id: 'bridge',
        title: 'Bridge: kernel drift across the sparsified runs',
        text: [
          'Linear in the parameters is not linear in the input: a network whose PReLUs are all at α = 1 still has a Hessian with respect to its weights. Does the tangent kernel move more when the penalty starts early, and does that go with the early/late gap Δ? This is an open question (docs/science.md, "The bridge"); the numbers are reported without a verdict.',
        ],
        claims: [],
        figures: await rendered([
          driftFigure(
            drifts.flatMap((d) => [
              { group: d.group, start: d.start, omega: d.omega, measure: 'kernel drift', value: d.value.kernelDrift },
              { group: d.group, start: d.start, omega: d.omega, measure: 'weight travel', value: d.value.travel },
            ]),
            driftSetting((v) => v.probes.kernel),
            provenance,
          ),
        ]),
        tables: [
          {
            caption:
              "Per start, over the ω sweep: kernel drift (mean and median) and mean travel, beside the sweep's mean early/late gap Δ (accuracy points, over the APL overlap).",
            columns: ['sweep', 'start', 'networks', 'kernel drift (mean)', 'kernel drift (median)', 'travel', 'Δ'],
            rows: bridgeRows.map((b) => [
              b.group,
              b.start,
              b.networks,
              fmt(b.kernelDrift),
              fmt(b.kernelDriftMedian),
              fmt(b.travel),
              b.gap === undefined ? '–' : fmt(100 * b.gap, 2),
            ]),
          },
          {
            caption:
              'Per network: Hessian norm of logit 0 (mean over probe images) at the start epoch and at the end, kernel drift, linearisation gap and travel between them.',
            columns: ['sweep', 'start', 'epoch', 'ω', '‖H‖ start', '‖H‖ end', 'kernel drift', 'lin. gap', 'travel'],
            rows: drifts.map((d) => [
              d.group,
              d.start,
              d.value.startEpoch,
              d.omega,
              sci(d.value.hessian.start),
              sci(d.value.hessian.end),
              fmt(d.value.kernelDrift),
              fmt(d.value.linearizationGap),
              fmt(d.value.travel),
            ]),
          },
        ],
        notes: [
          "The start network is the dense snapshot with PReLUs at α = 0, the same function and parameter layout as the run's start. The parameters here are the weights without α, each network at its own α: at α = 0 a max-pool over a window of ReLU zeros breaks its tie one way for α > 0 and the other for α < 0, so the gradient in α jumps and H does not exist there.",
          `These networks are piecewise linear in their input, and for a fixed pattern of active units polynomial in their weights: ‖H‖ is that piecewise Hessian. Its Hessian-vector products are central differences with a step of ${list(inputs.kernelDrift.map((k) => k.value.epsilon.toExponential()))}, small enough that a step rarely crosses a kink (kernel-drift.ts gives the measured sensitivity); power iteration as above, over ${driftSetting((v) => v.probes.hessian)} test images.`,
          'A kernel drift above 1 means the kernel grew: as units turn linear, gradients flow through both sides of every unit and logit 0 grows.',
        ],
      });
    }

    await mkdir(join(ctx.outDir, 'figures'), { recursive: true });
    for (const section of sections)
      for (const { figure, svg } of section.figures)
        await writeFile(join(ctx.outDir, 'figures', `${figure.id}.svg`), svg);
    const seedCount = new Set(rows.map((r) => r.seed)).size;
    const intro = [
      provenance,
      'Definitions, protocols, defaults and the rules behind every verdict: docs/science.md (it ships with linea). A verdict rests on paired seeds and a 95 % confidence interval: reproduced, refuted, inconclusive, or not tested with the reason.',
      ...(seedCount < 3
        ? [
            `${seedCount === 1 ? 'One seed' : `${seedCount} seeds`}: no verdict. The numbers below describe this run only; \`linea run --preset claims\` runs the protocol that can test the claims (3 paired seeds).`,
          ]
        : []),
    ];
    const page = { title: ctx.params.title, intro, sections };
    await writeFile(join(ctx.outDir, 'report.html'), html(page));
    const results = {
      provenance,
      claims: sections.flatMap((s) => s.claims),
      rows,
      gaps: gapPoints,
      gate,
      control: inputs.control.map((c) => ({ labels: c.labels, ...c.value })),
      dense: inputs.dense.map((d) => ({ labels: d.labels, ...d.value })),
      sparse: inputs.sparse.map((s) => ({ labels: s.labels, ...s.value })),
      linearized: inputs.linearized.map((l) => ({ labels: l.labels, ...l.value })),
      pathLength: inputs.pathLength.map((p) => ({ labels: p.labels, ...p.value })),
      baseline: inputs.baseline.map((b) => ({ labels: b.labels, ...b.value })),
      frivolous: { widths, growth: growths, networks: inputs.frivolous.map((f) => ({ labels: f.labels, ...f.value })) },
      frivolousLinearized: inputs.frivolousLinearized.map((f) => ({ labels: f.labels, ...f.value })),
      linearity: { slopes, networks: inputs.linearity.map((l) => ({ labels: l.labels, ...l.value })) },
      kernelDrift: { bridge: bridgeRows, networks: inputs.kernelDrift.map((k) => ({ labels: k.labels, ...k.value })) },
    };
    await writeFile(join(ctx.outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
    await writeFile(join(ctx.outDir, 'summary.md'), markdown(page));
    const allClaims: Claim[] = results.claims;
    ctx.log(allClaims.map((c) => `${c.claim}: ${c.verdict}`).join('\n'));
    return {
      networks: rows.length,
      claims: allClaims.map((c) => ({ claim: c.claim, verdict: c.verdict })),
      figures: sections.flatMap((s) => s.figures.map((f) => f.figure.id)),
    };
  },
});
