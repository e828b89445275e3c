/**
 * The report's figures as Vega-Lite specs over plain data rows. Each figure carries a caption that
 * states what it was made from (seeds, ω values, ε_lin, APL variant, backend), so a figure copied
 * out of the report still says how it was produced.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { GapPoint, Row } from './rows.ts';

export interface Figure {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

export interface Provenance {
  readonly seeds: readonly number[];
  readonly omegas: readonly number[];
  readonly epsilon: number;
  readonly backends: readonly string[];
}

export function provenanceLine(p: Provenance): string {
  const list = (xs: readonly (number | string)[]) => [...new Set(xs)].join(', ');
  return `seeds ${list(p.seeds) || '–'}; ω ∈ {${list(p.omegas)}}; ε_lin = ${p.epsilon}; APL: normalised (random backward walk, ½/½ at residual junctions); backend ${list(p.backends) || '–'}`;
}

const WIDTH = 320;
const HEIGHT = 220;
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: { font: 'sans-serif', view: { stroke: '#ccc' } } } as const;
/** One panel per value of `field` when there is more than one, else the single chart itself. */
function panels(field: string, values: readonly unknown[], inner: Record<string, unknown>): Record<string, unknown> {
  return new Set(values).size > 1 ? { facet: { column: { field, type: 'nominal', title: null } }, spec: inner } : inner;
}

export function accuracyVsApl(rows: readonly Row[], provenance: string): Figure {
  const data = rows.map((r) => ({ group: r.group, start: r.start, omega: r.omega, apl: r.apl, accuracy: r.accuracyLinearized }));
  return {
    id: 'accuracy-vs-apl',
    title: 'Accuracy against average path length',
    caption: `Test accuracy of the linearised network against its APL, one point per ω, one line per start of the penalty. ${provenance}.`,
    spec: {
      ...base,
      data: { values: data },
      ...panels('group', rows.map((r) => r.group), {
        width: WIDTH,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'apl', type: 'quantitative', title: 'APL (normalised)' },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
          color: { field: 'start', type: 'nominal', title: 'start' },
          order: { field: 'apl', type: 'quantitative' },
          tooltip: [{ field: 'omega', type: 'quantitative', title: 'ω' }, { field: 'apl', type: 'quantitative', format: '.3f' }, { field: 'accuracy', type: 'quantitative', format: '.4f' }],
        },
      }),
    } as unknown as TopLevelSpec,
  };
}

export function gapFigure(points: readonly GapPoint[], provenance: string): Figure {
  return {
    id: 'gap',
    title: 'Nonlinear advantage: Δ(d) = acc_late(d) − acc_early(d)',
    caption: `The gap at matched APL d, interpolated piecewise-linearly over each ω sweep, where the early and late sweeps overlap. ${points.length ? '' : 'No overlap in this run: the figure is empty. '}${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p })) },
      width: WIDTH,
      height: HEIGHT,
      layer: [
        { mark: { type: 'rule', color: '#888' }, encoding: { y: { datum: 0 } } },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'd', type: 'quantitative', title: 'APL d (normalised)' },
            y: { field: 'gap', type: 'quantitative', title: 'Δ(d), accuracy points' },
            color: { field: 'group', type: 'nominal', title: 'sweep' },
          },
        },
      ],
    } as unknown as TopLevelSpec,
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
          color: { field: 'nonlinear', type: 'nominal', scale: { domain: [0, 1], range: ['#e8eef6', '#1f4e8c'] }, legend: { title: 'nonlinear', labelExpr: "datum.label == '1' ? 'yes' : 'no'" } },
          tooltip: [{ field: 'site', type: 'nominal' }, { field: 'channel', type: 'quantitative' }],
        },
      },
    } as unknown as TopLevelSpec,
  };
}

export function layerFractionsFigure(points: readonly { start: string; omega: number; layer: number; site: string; fraction: number }[], provenance: string): Figure {
  return {
    id: 'layer-fractions',
    title: 'Nonlinear fraction k_l / n_l per layer',
    caption: `The fraction of each activation layer's channels that stay nonlinear, one line per ω, one panel per start. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p, omega: String(p.omega) })) },
      ...panels('start', points.map((p) => p.start), {
        width: 240,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'layer', type: 'ordinal', title: 'activation layer' },
          y: { field: 'fraction', type: 'quantitative', title: 'k_l / n_l', scale: { domain: [0, 1] } },
          color: { field: 'omega', type: 'nominal', title: 'ω', sort: null },
          tooltip: [{ field: 'site', type: 'nominal' }, { field: 'fraction', type: 'quantitative', format: '.3f' }],
        },
      }),
    } as unknown as TopLevelSpec,
  };
}

export function trainingCurvesFigure(points: readonly { run: string; kind: string; epoch: number; accuracy: number }[], provenance: string): Figure {
  return {
    id: 'training-curves',
    title: 'Training curves',
    caption: `Test accuracy after each epoch on one time axis: the dense run, each sparsified run from its start epoch, the baselines from scratch. ${provenance}.`,
    spec: {
      ...base,
      data: { values: points.map((p) => ({ ...p })) },
      ...panels('kind', points.map((p) => p.kind), {
        width: 260,
        height: HEIGHT,
        mark: { type: 'line', point: { size: 12 } },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch (total budget)' },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
          color: { field: 'run', type: 'nominal', title: 'run', legend: { columns: 2, symbolLimit: 40 } },
        },
      }),
    } as unknown as TopLevelSpec,
  };
}

export function baselineFigure(rows: readonly Row[], provenance: string): Figure {
  const data = rows.flatMap((r) =>
    r.baselineAccuracy === undefined
      ? []
      : [
          { group: r.group, network: 'linearised', start: r.start, omega: r.omega, apl: r.apl, depth: r.baselineDepth, accuracy: r.accuracyLinearized },
          { group: r.group, network: 'width-matched baseline', start: r.start, omega: r.omega, apl: r.baselineDepth, depth: r.baselineDepth, accuracy: r.baselineAccuracy },
        ],
  );
  return {
    id: 'baseline',
    title: 'Linearised network against its width-matched plain baseline',
    caption: `Each linearised network at its APL, and the plain all-ReLU network with D = max(1, round(APL)) layers and the same parameter count (±2 %) trained from scratch with the same budget, at D. ${provenance}.`,
    spec: {
      ...base,
      data: { values: data },
      ...panels('group', rows.map((r) => r.group), {
        width: WIDTH,
        height: HEIGHT,
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'apl', type: 'quantitative', title: 'APL (linearised) or D (baseline)' },
          y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { zero: false } },
          color: { field: 'network', type: 'nominal', title: null },
          shape: { field: 'start', type: 'nominal' },
          tooltip: [{ field: 'omega', type: 'quantitative', title: 'ω' }, { field: 'depth', type: 'quantitative', title: 'D' }, { field: 'accuracy', type: 'quantitative', format: '.4f' }],
        },
      }),
    } as unknown as TopLevelSpec,
  };
}
