/**
 * `linea ablate`: choose ablation axes and values, see the grid of variants with what each will
 * cost, confirm, run. The grid and the estimate are pure functions of the plan and past runs; the
 * prompts (@clack/prompts) are a thin layer over them, and every choice has a flag form
 * (`--ablate axis=v1,v2`, `--yes`), so scripts never need a terminal.
 */
import { cancel, confirm, intro, isCancel, multiselect, note } from '@clack/prompts';
import { LineaError } from '../core/errors.ts';
import type { Instance } from '../define/instances.ts';
import type { Axis, Pipeline } from '../define/pipeline.ts';
import type { PlannedInstance } from './plan.ts';
import type { RunRecord } from '../index/run-index.ts';

export type CellState = 'cached' | 'stale' | 'new';

export interface GridCell {
  /** axis → value label: one combination of the chosen values. */
  readonly labels: Readonly<Record<string, string>>;
  readonly state: CellState;
  /** Instances of this cell that will run (shared instances count in every cell they serve). */
  readonly toRun: number;
  readonly instances: number;
  /** Time for what this cell runs. */
  readonly estimate?: Estimate;
}

export interface Estimate {
  /** Seconds for what will run, from past durations; instances never run before are counted apart. */
  readonly seconds: number;
  readonly unknown: number;
}

/**
 * One grid per group of axes that meet: axes are in one group when some instance of a stage that
 * does not gather carries both (ω and start both reach sparsify); axes that only ever meet at a
 * gathering stage (a report over everything) get grids of their own, so nobody reads the product
 * of axes that never interact. What a gathering stage will rerun, and what every cell shares, are
 * one line each.
 */
export interface GridGroup {
  readonly axes: readonly string[];
  readonly cells: readonly GridCell[];
  /** The stages the group's axes reach. */
  readonly stages: readonly string[];
}

export interface Grids {
  readonly groups: readonly GridGroup[];
  /** Instances of gathering stages that no group's cells hold (e.g. the report), with their plan state. */
  readonly gathering: readonly { readonly id: string; readonly state: PlannedInstance['state'] }[];
  /** Instances no chosen axis reaches (prepared data, a shared pretraining): run once for every cell. */
  readonly shared: { readonly toRun: number; readonly instances: number };
  /** Over every instance, each counted once. */
  readonly total: Estimate & { readonly toRun: number; readonly instances: number };
}

const gathers = (instance: Instance) => Object.values(instance.stage.inputs).some((spec) => spec.kind === 'gather');

/** Groups of the chosen axes: connected by stages (not gathering ones) whose instances carry both. */
export function axisGroups(chosen: readonly string[], instances: readonly Instance[]): string[][] {
  const parent = new Map(chosen.map((a) => [a, a]));
  const find = (a: string): string => (parent.get(a) === a ? a : find(parent.get(a)!));
  for (const instance of instances) {
    if (gathers(instance)) continue;
    const mine = Object.keys(instance.labels).filter((a) => parent.has(a));
    for (const a of mine.slice(1)) parent.set(find(a), find(mine[0]!));
  }
  const groups = new Map<string, string[]>();
  for (const a of chosen) groups.set(find(a), [...(groups.get(find(a)) ?? []), a]);
  return [...groups.values()];
}

export function ablationGrids(
  chosen: ReadonlyMap<string, readonly string[]>,
  instances: readonly Instance[],
  planned: readonly PlannedInstance[],
  runs: readonly Pick<RunRecord, 'stage' | 'seconds'>[],
): Grids {
  const plan = new Map(planned.map((p) => [p.id, p]));
  const groups = axisGroups([...chosen.keys()], instances);
  const held = new Set<string>();
  const grids = groups.map((axes) => {
    const members = instances.filter((i) => axes.some((a) => a in i.labels));
    for (const m of members) held.add(m.id);
    const sub = new Map(axes.map((a) => [a, chosen.get(a)!]));
    return {
      axes,
      cells: ablationGrid(sub, members, planned, runs),
      stages: [...new Set(members.map((m) => m.stage.name))],
    };
  });
  const rest = instances.filter((i) => !held.has(i.id));
  const gathering = rest.filter(gathers).map((i) => ({ id: i.id, state: plan.get(i.id)?.state ?? 'missing' }));
  const shared = rest.filter((i) => !gathers(i));
  const notCached = (xs: readonly Instance[]) => xs.filter((i) => plan.get(i.id)?.state !== 'cached').length;
  return {
    groups: grids,
    gathering,
    shared: { toRun: notCached(shared), instances: shared.length },
    total: { ...estimate(planned, runs), toRun: notCached(instances), instances: instances.length },
  };
}

/**
 * The cells of one group: one per combination of its values, over the instances that carry those
 * labels. A cell is cached when all its instances are, new when one has never run, stale otherwise;
 * its estimate counts what it will run (an instance two cells share is in both).
 */
export function ablationGrid(
  chosen: ReadonlyMap<string, readonly string[]>,
  instances: readonly Instance[],
  planned: readonly PlannedInstance[],
  runs: readonly Pick<RunRecord, 'stage' | 'seconds'>[] = [],
): GridCell[] {
  const plan = new Map(planned.map((p) => [p.id, p]));
  const axes = [...chosen.keys()];
  const combos = axes.reduce<Record<string, string>[]>(
    (acc, a) => acc.flatMap((c) => chosen.get(a)!.map((v) => ({ ...c, [a]: v }))),
    [{}],
  );
  return combos.map((labels) => {
    const mine = instances.filter((i) =>
      Object.entries(i.labels).every(([a, v]) => !axes.includes(a) || labels[a] === v),
    );
    const states = mine.map((i) => plan.get(i.id)?.state ?? 'missing');
    const cell: CellState = states.every((s) => s === 'cached')
      ? 'cached'
      : states.some((s) => s === 'missing')
        ? 'new'
        : 'stale';
    const cost = estimate(
      mine.flatMap((i) => (plan.has(i.id) ? [plan.get(i.id)!] : [])),
      runs,
    );
    return {
      labels,
      state: cell,
      toRun: states.filter((s) => s !== 'cached').length,
      instances: mine.length,
      estimate: cost,
    };
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

function renderCells(cells: readonly GridCell[], axes: readonly string[]): string[] {
  const header = [...axes, 'state', 'to run', 'estimate'];
  const time = (e?: Estimate) =>
    !e ? '' : `${formatDuration(e.seconds)}${e.unknown ? ` + ${e.unknown} never run` : ''}`;
  const rows = cells.map((c) => [
    ...axes.map((a) => c.labels[a] ?? ''),
    c.state,
    `${c.toRun}/${c.instances}`,
    c.toRun ? time(c.estimate) : '–',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const counts = (['cached', 'stale', 'new'] as const)
    .map((s) => `${cells.filter((c) => c.state === s).length} ${s}`)
    .join(', ');
  return [line(header), ...rows.map(line), `${cells.length} cells: ${counts}`];
}

/** The grids, one per group of axes, then the shared and gathering instances, then the total. */
export function renderGrids(grids: Grids): string {
  const blocks = grids.groups.map((g) =>
    [`${g.axes.join(' × ')}  (reach ${g.stages.join(', ')})`, ...renderCells(g.cells, g.axes)].join('\n'),
  );
  const lines: string[] = [];
  if (grids.shared.instances) {
    lines.push(`shared by every cell: ${grids.shared.toRun} of ${grids.shared.instances} instances to run`);
  }
  for (const g of grids.gathering) {
    lines.push(`gathering: ${g.id} ${g.state === 'cached' ? 'is cached' : `will run (${g.state})`}`);
  }
  const t = grids.total;
  lines.push(
    `total: ${t.toRun} of ${t.instances} instances to run; estimated ${formatDuration(t.seconds)}${t.unknown ? ` + ${t.unknown} stage run(s) with no past duration` : ''}`,
  );
  return [...blocks, lines.join('\n')].join('\n\n');
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
