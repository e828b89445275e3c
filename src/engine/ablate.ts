/**
 * `linea ablate`: choose ablation axes and values, see the grid of variants with what each will
 * cost, confirm, run. The grid and the estimate are pure functions of the plan and past runs; the
 * prompts (@clack/prompts) are a thin layer over them, and every choice has a flag form
 * (`--ablate axis=v1,v2`, `--yes`), so scripts never need a terminal.
 */
import { cancel, confirm, intro, isCancel, multiselect, note } from '@clack/prompts';
import { LineaError } from './errors.ts';
import type { Instance } from './instances.ts';
import type { Axis, Pipeline } from './pipeline.ts';
import type { PlannedInstance } from './plan.ts';
import type { RunRecord } from './run-index.ts';

export type CellState = 'cached' | 'stale' | 'new';

export interface GridCell {
  /** axis → value label: one combination of the chosen values. */
  readonly labels: Readonly<Record<string, string>>;
  readonly state: CellState;
  /** Instances of this cell that will run (shared instances count in every cell they serve). */
  readonly toRun: number;
  readonly instances: number;
}

export interface Estimate {
  /** Seconds for what will run, from past durations; instances never run before are counted apart. */
  readonly seconds: number;
  readonly unknown: number;
}

/**
 * The grid: one cell per combination of chosen values, over the instances that carry those labels
 * (or fewer: an upstream instance serves every cell whose labels include its own). A cell is
 * cached when all its instances are, new when one has never run, stale otherwise.
 */
export function ablationGrid(
  chosen: ReadonlyMap<string, readonly string[]>,
  instances: readonly Instance[],
  planned: readonly PlannedInstance[],
): GridCell[] {
  const state = new Map(planned.map((p) => [p.id, p.state]));
  const axes = [...chosen.keys()];
  const combos = axes.reduce<Record<string, string>[]>(
    (acc, a) => acc.flatMap((c) => chosen.get(a)!.map((v) => ({ ...c, [a]: v }))),
    [{}],
  );
  return combos.map((labels) => {
    const mine = instances.filter((i) => Object.entries(i.labels).every(([a, v]) => labels[a] === v));
    const states = mine.map((i) => state.get(i.id) ?? 'missing');
    const cell: CellState = states.every((s) => s === 'cached')
      ? 'cached'
      : states.some((s) => s === 'missing')
        ? 'new'
        : 'stale';
    return { labels, state: cell, toRun: states.filter((s) => s !== 'cached').length, instances: mine.length };
  });
}

/** Time for the instances that are not cached: their last duration, else the mean of their stage's past runs. */
export function estimate(
  planned: readonly PlannedInstance[],
  runs: readonly Pick<RunRecord, 'stage' | 'seconds'>[],
): Estimate {
  const byStage = new Map<string, number[]>();
  for (const r of runs) byStage.set(r.stage, [...(byStage.get(r.stage) ?? []), r.seconds]);
  let seconds = 0;
  let unknown = 0;
  for (const p of planned) {
    if (p.state === 'cached') continue;
    const past = byStage.get(p.stage);
    if (p.lastSeconds !== undefined) seconds += p.lastSeconds;
    else if (past?.length) seconds += past.reduce((a, b) => a + b, 0) / past.length;
    else unknown++;
  }
  return { seconds, unknown };
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function renderGrid(cells: readonly GridCell[], axes: readonly string[], total: Estimate): string {
  const header = [...axes, 'state', 'to run'];
  const rows = cells.map((c) => [...axes.map((a) => c.labels[a] ?? ''), c.state, `${c.toRun}/${c.instances}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  const counts = (['cached', 'stale', 'new'] as const)
    .map((s) => `${cells.filter((c) => c.state === s).length} ${s}`)
    .join(', ');
  const time = `estimated ${formatDuration(total.seconds)}${total.unknown ? ` + ${total.unknown} stage run(s) with no past duration` : ''}`;
  return [line(header), ...rows.map(line), '', `${cells.length} cells: ${counts}; ${time}`].join('\n');
}

/** Ask for axes and values, starting from what flags, the preset or the axes' defaults chose. */
export async function promptAblation(
  pipeline: Pipeline,
  initial: ReadonlyMap<string, readonly string[]>,
): Promise<Map<string, string[]> | undefined> {
  if (pipeline.axes.length === 0)
    throw new LineaError(
      'this pipeline declares no ablation axes; add `axes` to definePipeline in pipeline.ts',
      'usage',
    );
  intro(`linea ablate — ${pipeline.name}`);
  const axes = await multiselect({
    message: 'Which axes to vary? (space toggles, enter confirms)',
    options: pipeline.axes.map((a) => ({
      value: a.name,
      label: a.name,
      ...(a.description ? { hint: a.description } : {}),
    })),
    initialValues: pipeline.axes.filter((a) => initial.has(a.name)).map((a) => a.name),
    required: false,
  });
  if (isCancel(axes)) return cancelled();
  const chosen = new Map<string, string[]>();
  for (const name of axes) {
    const a = pipeline.axes.find((x) => x.name === name)!;
    const values = await multiselect({
      message: `Values of ${a.name}`,
      options: a.values.map((v) => ({ value: v.label, label: v.label })),
      initialValues: initial.get(a.name)?.filter((l) => a.values.some((v) => v.label === l)) ?? [],
      required: true,
    });
    if (isCancel(values)) return cancelled();
    chosen.set(a.name, values);
  }
  return chosen;
}

export async function confirmRun(grid: string): Promise<boolean> {
  note(grid, 'The grid');
  const go = await confirm({ message: 'Run what is not cached?' });
  if (isCancel(go) || !go) {
    cancel('Nothing was run.');
    return false;
  }
  return true;
}

function cancelled(): undefined {
  cancel('Nothing was run.');
  return undefined;
}

/** The chosen axes as the selection's `ablate`, naming every declared axis so defaults do not sneak in. */
export function ablateSelection(
  pipeline: Pipeline,
  chosen: ReadonlyMap<string, readonly string[]>,
): Record<string, string[]> {
  return Object.fromEntries(pipeline.axes.map((a: Axis) => [a.name, [...(chosen.get(a.name) ?? [])]]));
}
