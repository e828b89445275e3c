/**
 * Line and point charts with Vega-Lite (as the report draws its figures), rendered to SVG in the
 * page. A chart is redrawn whole when its data changes, at most a few times a second.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Json } from './types.ts';

const views = new WeakMap<Element, View>();

export async function draw(container: HTMLElement, spec: TopLevelSpec): Promise<void> {
  views.get(container)?.finalize();
  const view = new View(parse(compile(spec).spec), { renderer: 'svg', container, hover: true });
  views.set(container, view);
  await view.runAsync();
}

/** One line per instance of `metric` against step. */
export function curveSpec(metric: string, points: { instance: string; step: number; value: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 260,
    height: 140,
    title: metric,
    data: { values: points },
    mark: { type: 'line', point: points.length < 200 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
      color: { field: 'instance', type: 'nominal', legend: { orient: 'bottom', columns: 1, labelLimit: 260 } },
      tooltip: [{ field: 'instance' }, { field: 'step' }, { field: 'value' }],
    },
  };
}

/** Any output field against any param or label, one point per row (the `dvc exp show` + plots view). */
export function scatterSpec(
  rows: readonly Record<string, Json>[],
  x: string,
  y: string,
  colour?: string,
): TopLevelSpec {
  const numeric = (field: string) => rows.every((r) => typeof r[field] === 'number' || r[field] === undefined);
  // Column names like `params.omega` are flat keys here: a dot would mean a nested field to Vega.
  const field = (name: string) => name.replace(/\./g, '\\.');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 420,
    height: 240,
    data: { values: rows.map((r) => ({ ...r })) },
    mark: { type: 'point', filled: true, size: 70 },
    encoding: {
      x: { field: field(x), type: numeric(x) ? 'quantitative' : 'nominal', scale: { zero: false } },
      y: { field: field(y), type: numeric(y) ? 'quantitative' : 'nominal', scale: { zero: false } },
      ...(colour ? { color: { field: field(colour), type: 'nominal' as const } } : {}),
      tooltip: [{ field: 'instance' }, { field: field(x) }, { field: field(y) }],
    },
  };
}
