/**
 * The report's figures as Vega-Lite specs over plain data rows. Each figure carries a caption that
 * states what it was made from (seeds, ω values, ε_lin, APL variant, backend), so a figure copied
 * out of the report still says how it was produced.
 */
import type { GapPoint, Row } from './rows.ts';

export interface Figure {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  /**
   * A Vega-Lite spec as plain JSON. Specs are built from shared pieces (`base`, `panels`, layers)
   * that vega-lite's own union types cannot follow through spreads; `compile` checks the spec when
   * the figure is rendered (render.ts), and the report test renders every figure.
   */
  readonly spec: VegaLiteJson;
}

export type VegaLiteJson = Readonly<Record<string, unknown>>;

export interface Provenance {
  readonly seeds: readonly number[];
  readonly omegas: readonly number[];
  readonly epsilon: number;
  readonly backends: readonly string[];
  /** The sparsified phase's settings, as the runs recorded them. */
  readonly sparse?: {
    readonly lr: readonly number[];
    readonly clipNorm: readonly number[];
    readonly fineTune: readonly number[];
  };
}

export function provenanceLine(p: Provenance): string {
  const list = (xs: readonly (number | string)[]) => [...new Set(xs)].join(', ');
  const sparse = p.sparse
    ? `; sparse phase lr ${list(p.sparse.lr)}, gradient norm clipped to ${list(p.sparse.clipNorm.map((c) => (c > 0 ? c : 'none')))}, fine-tune ${list(p.sparse.fineTune)} epochs`
    : '';
  return `seeds ${list(p.seeds) || '–'}; ω ∈ {${list(p.omegas)}}; ε_lin = ${p.epsilon}; APL: normalised (random backward walk, ½/½ at residual junctions)${sparse}; backend ${list(p.backends) || '–'}`;
}

const WIDTH = 320;
const HEIGHT = 220;
const base = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  config: { font: 'sans-serif', view: { stroke: '#ccc' } },
} as const;
/** One panel per value of `field` when there is more than one, else the single chart itself. */
function panels(field: string, values: readonly unknown[], inner: Record<string, unknown>): Record<string, unknown> {
  return new Set(values).size > 1 ? { facet: { column: { field, type: 'nominal', title: null } }, spec: inner } : inner;
}

export function accuracyVsApl(rows: readonly Row[], provenance: string): Figure {
  const data = rows.map((r) => ({
    sweep: r.sweep,
    seed: r.seed,
    run: `${r.start}, seed ${r.seed}`,
    start: r.start,
    omega: r.omega,
    apl: r.apl,
    accuracy: r.accuracyLinearized,
  }));
  return {
    id: 'accuracy-vs-apl',
    title: 'Accuracy against average path length',
    caption: `Test accuracy of the linearised network against its APL, one point per ω and seed (shape), one line per start of the penalty and seed. ${provenance}.`,
    spec: {
      ...base,
      data: { values: data },
      ...panels(
        'sweep',
        rows.map((r) => r.sweep),
        {
          width: WIDTH,
          height: HEIGHT,
          mark: { type: 'line', point: true, strokeWidth: 1 },
          encoding: {
            x: { field: 'apl', type: 'quantitative', title: 'APL (normalised)' },
            y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
            color: { field: 'start', type: 'nominal', title: 'start' },
            shape: { field: 'seed', type: 'nominal', title: 'seed' },
            detail: { field: 'run', type: 'nominal' },
            order: { field: 'apl', type: 'quantitative' },
            tooltip: [
              { field: 'seed', type: 'nominal' },
              { field: 'omega', type: 'quantitative', title: 'ω' },
              { field: 'apl', type: 'quantitative', format: '.3f' },
              { field: 'accuracy', type: 'quantitative', format: '.4f' },
            ],
          },
        },
      ),
    },
  };
}

export function gapFigure(points: readonly GapPoint[], provenance: string): Figure {
  const data = points.map((p) => ({
    ...p,
    against: `late − ${p.versus}`,
    run: `${p.versus}, seed ${p.seed}`,
    gapPoints: 100 * p.gap,
  }));
  return {
    id: 'gap',
    title: 'Nonlinear advantage: Δ(d) = acc_late(d) − acc_early(d)',
    caption: `The gap at matched APL d per seed (thin lines), interpolated over each ω sweep where the sweeps overlap above chance, and its mean ± SD over seeds (band). ${points.length ? '' : 'No overlap in this run: the figure is empty. '}${provenance}.`,
    spec: {
      ...base,
      data: { values: data },
      width: WIDTH,
      height: HEIGHT,
      layer: [
        { mark: { type: 'rule', color: '#888' }, encoding: { y: { datum: 0 } } },
        {
          mark: { type: 'errorband', extent: 'stdev', opacity: 0.25 },
          encoding: {
            x: { field: 'd', type: 'quantitative' },
            y: { field: 'gapPoints', type: 'quantitative' },
            color: { field: 'against', type: 'nominal' },
          },
        },
        {
          mark: { type: 'line', point: { size: 12 }, strokeWidth: 0.8, opacity: 0.7 },
          encoding: {
            x: { field: 'd', type: 'quantitative', title: 'APL d (normalised)' },
            y: { field: 'gapPoints', type: 'quantitative', title: 'Δ(d), accuracy points' },
            color: { field: 'against', type: 'nominal', title: 'protocols' },
            detail: { field: 'run', type: 'nominal' },
          },
        },
      ],
    },
  };
}

export interface CoreCell {
  readonly panel: string;
  readonly layer: number;
  readonly site: string;
  readonly channel: number;
  readonly nonlinear: number;
}

export function coreNetworkFigure(cells: readonly CoreCell[], provenance: string): Figure {
  return {
    id: 'core-network',
    title: 'The core network: which channels stay nonlinear',
    caption: `Each activation layer (row) and channel (column); dark: nonlinear (|1 − α| ≥ ε_lin), light: linearised. One panel per ω and start. ${provenance}.`,
    spec: {
      ...base,
      data: { values: cells.map((c) => ({ ...c })) },
      facet: { field: 'panel', type: 'nominal', title: null, sort: null },
      columns: 4,
      spec: {
        width: 150,
        height: 80,
        mark: 'rect',
        encoding: {
          x: { field: 'channel', type: 'ordinal', title: 'channel', axis: { labels: false, ticks: false } },
          y: { field: 'layer', type: 'ordinal', title: 'layer' },
          color: {
            field: 'nonlinear',
            type: 'nominal',
            scale: { domain: [0, 1], range: ['#e8eef6', '#1f4e8c'] },
            legend: { title: 'nonlinear', labelExpr: "datum.label == '1' ? 'yes' : 'no'" },
          },
          tooltip: [
            { field: 'site', type: 'nominal' },
            { field: 'channel', type: 'quantitative' },
          ],
        },
      },
    },
  };
}

export function layerFractionsFigure(
  points: readonly { start: string; omega: number; layer: number; site: string; fraction: number }[],
  provenance: string,
): Figure {
  return {
    id: 'layer-fractions',
    title: 'Nonlinear fraction k_l / n_l per layer',
    caption: `The fraction of each activation layer's channels that stay nonlinear, one line per ω, one panel per start. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p, omega: String(p.omega) })) },
      ...panels(
        'start',
        points.map((p) => p.start),
        {
          width: 240,
          height: HEIGHT,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'layer', type: 'ordinal', title: 'activation layer' },
            y: { field: 'fraction', type: 'quantitative', title: 'k_l / n_l', scale: { domain: [0, 1] } },
            color: { field: 'omega', type: 'nominal', title: 'ω', sort: null },
            tooltip: [
              { field: 'site', type: 'nominal' },
              { field: 'fraction', type: 'quantitative', format: '.3f' },
            ],
          },
        },
      ),
    },
  };
}

export function trainingCurvesFigure(
  points: readonly { run: string; kind: string; epoch: number; accuracy: number }[],
  provenance: string,
): Figure {
  return {
    id: 'training-curves',
    title: 'Training curves',
    caption: `Test accuracy after each epoch on one time axis: the dense run, each sparsified run from its start epoch, the baselines from scratch. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p })) },
      ...panels(
        'kind',
        points.map((p) => p.kind),
        {
          width: 260,
          height: HEIGHT,
          mark: { type: 'line', point: { size: 12 } },
          encoding: {
            x: { field: 'epoch', type: 'quantitative', title: 'epoch (total budget)' },
            y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
            color: { field: 'run', type: 'nominal', title: 'run', legend: { columns: 2, symbolLimit: 40 } },
          },
        },
      ),
    },
  };
}

export function baselineFigure(rows: readonly Row[], provenance: string): Figure {
  const data = rows.flatMap((r) =>
    r.baselineAccuracy === undefined
      ? []
      : [
          {
            group: r.group,
            network: 'linearised',
            start: r.start,
            omega: r.omega,
            apl: r.apl,
            depth: r.baselineDepth,
            accuracy: r.accuracyLinearized,
          },
          {
            group: r.group,
            network: 'width-matched baseline',
            start: r.start,
            omega: r.omega,
            apl: r.baselineDepth,
            depth: r.baselineDepth,
            accuracy: r.baselineAccuracy,
          },
        ],
  );
  return {
    id: 'baseline',
    title: 'Linearised network against its width-matched plain baseline',
    caption: `Each linearised network at its APL, and the plain all-ReLU network with D = max(1, round(APL)) layers and the same parameter count (±2 %) trained from scratch with the same budget, at D. ${provenance}.`,
    spec: {
      ...base,
      data: { values: data },
      ...panels(
        'group',
        rows.map((r) => r.group),
        {
          width: WIDTH,
          height: HEIGHT,
          mark: { type: 'point', filled: true, size: 60 },
          encoding: {
            x: { field: 'apl', type: 'quantitative', title: 'APL (linearised) or D (baseline)' },
            y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
            color: { field: 'network', type: 'nominal', title: null },
            shape: { field: 'start', type: 'nominal' },
            tooltip: [
              { field: 'omega', type: 'quantitative', title: 'ω' },
              { field: 'depth', type: 'quantitative', title: 'D' },
              { field: 'accuracy', type: 'quantitative', format: '.4f' },
            ],
          },
        },
      ),
    },
  };
}

/** A log-log (base 2) line chart of `y` against `x`, one line per `color`, one panel per group. */
function logLog(
  data: readonly Record<string, unknown>[],
  options: { x: string; xTitle: string; y: string; yTitle: string; color: string; colorTitle: string; dash?: string },
): Record<string, unknown> {
  return {
    ...base,
    data: { values: data.map((d) => ({ ...d })) },
    ...panels(
      'group',
      data.map((d) => d.group),
      {
        width: WIDTH,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: options.x, type: 'quantitative', title: options.xTitle, scale: { type: 'log', base: 2 } },
          y: { field: options.y, type: 'quantitative', title: options.yTitle, scale: { type: 'log', base: 2 } },
          color: { field: options.color, type: 'nominal', title: options.colorTitle, sort: null },
          ...(options.dash ? { strokeDash: { field: options.dash, type: 'nominal', title: null } } : {}),
          tooltip: [
            { field: options.x, type: 'quantitative' },
            { field: options.y, type: 'quantitative', format: '.4g' },
            { field: options.color, type: 'nominal' },
          ],
        },
      },
    ),
  };
}

/** `units` names the count (prunable, …); a field called `count` would be Vega-Lite's count aggregate and draw no lines. */
export function frivolousGrowthFigure(
  points: readonly { group: string; width: number; units: string; value: number }[],
  provenance: string,
): Figure {
  const data = points.filter((p) => p.value > 0);
  return {
    id: 'frivolous-growth',
    title: 'Frivolous units against width',
    caption: `Normalised counts against the width factor f, log-log (base 2) as in the paper: prunable Pr = p*·f/F, non-prunable f/F − Pr, redundant R = c̄·f/F, non-redundant f/F − R (F the widest factor). A count growing as fast as the width has slope 1 (g = 2 per doubling). Zero counts are not drawn. ${provenance}.`,
    spec: logLog(data, {
      x: 'width',
      xTitle: 'width factor f',
      y: 'value',
      yTitle: 'normalised count',
      color: 'units',
      colorTitle: 'units',
    }),
  };
}

export function frivolousAgreementFigure(
  points: readonly { group: string; width: number; level: number; agreement: number }[],
  threshold: number,
  provenance: string,
): Figure {
  return {
    id: 'frivolous-agreement',
    title: 'Agreement under random knockout',
    caption: `Agreement of the argmax prediction with the intact network when the first ⌊p·n_l⌋ units of a random order are knocked out in every recorded layer at once (mean over the orders), one line per width factor; p* is where a line crosses ${threshold}. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p, width: String(p.width) })) },
      ...panels(
        'group',
        points.map((p) => p.group),
        {
          width: WIDTH,
          height: HEIGHT,
          layer: [
            { mark: { type: 'rule', color: '#888', strokeDash: [4, 4] }, encoding: { y: { datum: threshold } } },
            {
              mark: { type: 'line', point: true },
              encoding: {
                x: { field: 'level', type: 'quantitative', title: 'fraction knocked out p' },
                y: { field: 'agreement', type: 'quantitative', title: 'agreement', scale: { domain: [0, 1] } },
                color: { field: 'width', type: 'nominal', title: 'f', sort: null },
              },
            },
          ],
        },
      ),
    },
  };
}

export function knockoutFigure(
  points: readonly { group: string; start: string; omega: number; units: string; set: string; agreement: number }[],
  provenance: string,
): Figure {
  return {
    id: 'nonlinear-knockout',
    title: 'Are the nonlinear units the ones that matter?',
    caption: `Agreement with the intact linearised network when its nonlinear (or its linear) units are knocked out in every layer at once (solid), against random sets of the same per-layer sizes (dashed, mean of the orders); lower is more important. One panel per start. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p })) },
      ...panels(
        'start',
        points.map((p) => p.start),
        {
          width: 260,
          height: HEIGHT,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'omega', type: 'quantitative', title: 'ω', scale: { type: 'log' } },
            y: { field: 'agreement', type: 'quantitative', title: 'agreement', scale: { domain: [0, 1] } },
            color: { field: 'units', type: 'nominal', title: 'knocked out' },
            strokeDash: { field: 'set', type: 'nominal', title: null },
            detail: { field: 'group', type: 'nominal' },
            tooltip: [
              { field: 'omega', type: 'quantitative', title: 'ω' },
              { field: 'agreement', type: 'quantitative', format: '.3f' },
              { field: 'group', type: 'nominal' },
            ],
          },
        },
      ),
    },
  };
}

export function ntkFigure(
  id: string,
  title: string,
  what: string,
  points: readonly { group: string; variant: string; width: number; value: number; when?: string }[],
  provenance: string,
): Figure {
  return {
    id,
    title,
    caption: `${what} against the hidden width m of NTK-parametrised tanh MLPs, log-log (base 2), one line per variant; slope −½ is the m^−½ of a linear output, slope 0 no transition to linearity. The fitted slopes and R² are in the table below. ${provenance}.`,
    spec: logLog(
      points.filter((p) => p.value > 0),
      {
        x: 'width',
        xTitle: 'width m',
        y: 'value',
        yTitle: what,
        color: 'variant',
        colorTitle: 'variant',
        ...(points.some((p) => p.when) ? { dash: 'when' } : {}),
      },
    ),
  };
}

export function driftFigure(
  points: readonly { group: string; start: string; omega: number; measure: string; value: number }[],
  kernelImages: string | number,
  provenance: string,
): Figure {
  return {
    id: 'kernel-drift',
    title: 'Bridge: how far the tangent kernel moves during the sparsified run',
    caption: `Relative change of the tangent kernel of logit 0 (${kernelImages} test images) and relative travel of the weights, from the dense snapshot the penalty started at to the end of the sparsified run, against ω, one line per start; log scales, each panel its own. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.filter((p) => p.value > 0).map((p) => ({ ...p })) },
      resolve: { scale: { y: 'independent' } },
      ...panels(
        'measure',
        points.map((p) => p.measure),
        {
          width: 260,
          height: HEIGHT,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'omega', type: 'quantitative', title: 'ω', scale: { type: 'log' } },
            y: { field: 'value', type: 'quantitative', title: 'relative change', scale: { type: 'log' } },
            color: { field: 'start', type: 'nominal', title: 'start' },
            detail: { field: 'group', type: 'nominal' },
            tooltip: [
              { field: 'omega', type: 'quantitative', title: 'ω' },
              { field: 'value', type: 'quantitative', format: '.4f' },
              { field: 'group', type: 'nominal' },
            ],
          },
        },
      ),
    },
  };
}
