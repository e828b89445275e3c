/**
 * What `linea view` serves about a pipeline, as plain JSON: the plan of a selection (every
 * instance with its state and reasons, as `linea status --json` gives them), one instance in
 * full (params against the defaults, key, inputs, outputs with their files, runs, log and
 * metrics), and a results table for one stage. Read-only: it opens nothing for writing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Json, jsonEqual } from '../core/json.ts';
import type { Instance } from '../define/instances.ts';
import type { Pipeline } from '../define/pipeline.ts';
import type { RunRecord } from '../index/run-index.ts';
import { describeReason } from '../key/fingerprint.ts';
import type { PlannedInstance } from '../plan/plan.ts';
import type { Project } from '../project/project.ts';
import type { Manifest } from '../store/store.ts';
import type { InstanceJson, InstanceSummary, PlanJson, ResultsJson } from './wire.ts';

export function planJson(
  pipeline: Pipeline,
  instances: readonly Instance[],
  planned: readonly PlannedInstance[],
): PlanJson {
  const byId = new Map(planned.map((p) => [p.id, p]));
  const stageOfNode = new Map(pipeline.nodes.map((n) => [n.id, n.stage.name]));
  const stages = new Map<string, Set<string>>();
  for (const node of pipeline.nodes) {
    const inputs = stages.get(node.stage.name) ?? new Set<string>();
    for (const from of Object.values(node.inputs)) inputs.add(stageOfNode.get(from)!);
    stages.set(node.stage.name, inputs);
  }
  return {
    pipeline: pipeline.name,
    presets: Object.keys(pipeline.presets),
    axes: pipeline.axes.map((a) => ({
      name: a.name,
      values: a.values.map((v) => v.label),
      default: [...(a.default ?? [])],
      ...(a.description ? { description: a.description } : {}),
    })),
    stages: [...stages].map(([name, inputs]) => ({ name, inputs: [...inputs] })),
    instances: instances.map((inst) => {
      const p = byId.get(inst.id);
      return {
        id: inst.id,
        stage: inst.stage.name,
        labels: inst.labels,
        inputs: Object.values(inst.inputs).map((i) => i.id),
        key: p?.key ?? null,
        state: p?.state ?? 'missing',
        reasons: (p?.reasons ?? []).map(describeReason),
        ...(p?.running ? { running: p.running } : {}),
        ...(p?.lastSeconds !== undefined ? { lastSeconds: p.lastSeconds } : {}),
      };
    }),
  };
}

export async function instanceJson(
  project: Project,
  instance: Instance,
  summary: InstanceSummary,
  planned: readonly PlannedInstance[],
): Promise<InstanceJson> {
  const defaults = defaultParams(instance);
  const params = leaves(instance.params).map(([path, value]) => {
    const fallback = defaults === undefined ? undefined : leafAt(defaults, path);
    return {
      path,
      value,
      ...(fallback !== undefined ? { default: fallback } : {}),
      overridden: fallback === undefined || !jsonEqual(fallback, value),
    };
  });
  const keyOf = new Map(planned.map((p) => [p.id, p.key]));
  const runs = (await project.index.runs())
    .filter((r) => r.instance === instance.id && (r.project === undefined || r.project === project.id))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const current = summary.key === null ? undefined : runs.find((r) => r.key === summary.key);
  const shown = current ?? runs[0];
  return {
    ...summary,
    params,
    inputsDetail: Object.entries(instance.inputs).map(([name, from]) => ({
      name,
      instance: from.id,
      key: keyOf.get(from.id) ?? null,
    })),
    ...(current ? { output: outputOf(project, current) } : {}),
    runs: runs.map((r) => ({
      key: r.key,
      startedAt: r.startedAt,
      seconds: r.seconds,
      host: r.host,
      current: r.key === summary.key,
    })),
    log: [...(shown?.log ?? [])],
    metrics: shown?.metrics ?? {},
  };
}

/** A results table: one row per instance of `stage`, its labels, params and the scalars of its output. */
export async function resultsJson(
  project: Project,
  instances: readonly Instance[],
  planned: readonly PlannedInstance[],
  stage: string,
): Promise<ResultsJson> {
  const byId = new Map(planned.map((p) => [p.id, p]));
  const rows: Record<string, Json>[] = [];
  const kinds = new Map<string, 'label' | 'param' | 'output' | 'meta'>();
  for (const inst of instances.filter((i) => i.stage.name === stage)) {
    const p = byId.get(inst.id);
    const row: Record<string, Json> = { instance: inst.id, state: p?.state ?? 'missing' };
    for (const [axis, label] of Object.entries(inst.labels)) {
      row[axis] = label;
      kinds.set(axis, 'label');
    }
    for (const [path, value] of leaves(inst.params)) {
      if (typeof value === 'object' && value !== null) continue;
      row[`params.${path}`] = value;
      kinds.set(`params.${path}`, 'param');
    }
    const record = p?.key ? await project.index.get(p.key) : undefined;
    if (record) {
      row.seconds = record.seconds;
      const output = outputOf(project, record);
      for (const [path, value] of leaves(output?.value ?? null)) {
        if (typeof value === 'object' && value !== null) continue;
        row[path === '' ? 'value' : path] = value;
        kinds.set(path === '' ? 'value' : path, 'output');
      }
    }
    rows.push(row);
  }
  // Params every row shares say nothing in a comparison: only those that vary are columns.
  const varies = (name: string) => new Set(rows.map((r) => JSON.stringify(r[name] ?? null))).size > 1;
  const columns = [
    { name: 'instance', kind: 'meta' as const },
    ...[...kinds].filter(([name, kind]) => kind !== 'param' || varies(name)).map(([name, kind]) => ({ name, kind })),
    { name: 'state', kind: 'meta' as const },
    { name: 'seconds', kind: 'meta' as const },
  ];
  return { columns, rows };
}

function outputOf(project: Project, record: RunRecord): InstanceJson['output'] {
  let manifest: Manifest | undefined = record.manifest?.manifest;
  if (!manifest) {
    try {
      manifest = JSON.parse(readFileSync(join(project.store.objectDir(record.digest), 'manifest.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }
  if (!manifest) return undefined;
  const files = Object.entries(manifest.files).map(([path, f]) => ({
    path,
    size: f.size,
    url: `/cache/objects/${record.digest.slice(0, 2)}/${record.digest.slice(2)}/files/${path}`,
  }));
  return { value: manifest.value, files };
}

/** The stage's params with its schema's defaults, if the schema can fill them all. */
function defaultParams(instance: Instance): Json | undefined {
  const parsed = instance.stage.params.safeParse({ ...(instance.node.params as object) });
  return parsed.success ? (parsed.data as Json) : undefined;
}

/** `[path, value]` for every leaf of a JSON value (arrays are leaves), `a.b.c` paths. */
export function leaves(value: Json, prefix = ''): [string, Json][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [[prefix, value]];
  const entries = Object.entries(value);
  if (entries.length === 0) return prefix ? [[prefix, value]] : [];
  return entries.flatMap(([k, v]) => leaves(v as Json, prefix ? `${prefix}.${k}` : k));
}

function leafAt(value: Json, path: string): Json | undefined {
  let cursor: Json | undefined = value;
  for (const part of path.split('.')) {
    if (typeof cursor !== 'object' || cursor === null || Array.isArray(cursor)) return undefined;
    cursor = (cursor as Record<string, Json>)[part];
  }
  return cursor;
}
