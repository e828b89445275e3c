/**
 * From a pipeline and the user's choices (preset, --set, --ablate) to stage instances: one per
 * node and combination of the ablation values that reach it. Instances that no chosen axis
 * reaches are shared by every variant, so they run once.
 */
import { LineaError } from '../core/errors.ts';
import { canonicalJson, jsonEqual, parseCliValue, show, type Json } from '../core/json.ts';
import { Dag } from './dag.ts';
import type { Axis, NodeSpec, Pipeline } from './pipeline.ts';
import type { AnyStage, Resources } from './stage.ts';

/**
 * What a command asks of a pipeline: a preset, overrides, axis values, a subset of nodes and
 * resources. The command line reads its flags into one (cli/selection.ts), the interactive
 * ablation picker builds one; expansion only consumes it.
 */
export interface Selection {
  readonly preset?: string;
  /** `node.param.path` → value, from --set; wins over everything else. */
  readonly set?: Readonly<Record<string, Json>>;
  /** axis name → value labels (or literal values), from --ablate. */
  readonly ablate?: Readonly<Record<string, readonly string[]>>;
  /** Keep only these nodes (by id or stage name) and what they need. */
  readonly only?: readonly string[];
  /** node id or stage name → resource overrides, from --resources (over the preset's, over the stage's). */
  readonly resources?: Readonly<Record<string, Resources>>;
}

export interface Instance {
  /** `node` or `node[axis=value,…]` for the axes that reach it. */
  readonly id: string;
  readonly node: NodeSpec;
  readonly stage: AnyStage;
  /** Validated params with the schema's defaults applied. */
  readonly params: Json;
  /** input name → upstream instance */
  readonly inputs: Readonly<Record<string, Instance>>;
  /** The axis values that reach this instance. */
  readonly labels: Readonly<Record<string, string>>;
  /** What it asks of the machine (the stage's, then the preset's and --resources overrides); not in the key. */
  readonly resources?: Resources;
}

/** The axis values a selection picks: command line over preset over the axis's default. */
export function chosenAxisValues(pipeline: Pipeline, selection: Selection): Map<Axis, Axis['values'][number][]> {
  const preset = resolvePreset(pipeline, selection.preset);
  const picks = new Map<string, readonly string[]>();
  for (const a of pipeline.axes) if (a.default) picks.set(a.name, a.default);
  for (const [name, labels] of Object.entries(preset?.ablate ?? {})) picks.set(name, labels);
  // A param fixed with --set wins over an axis that would sweep it (unless --ablate names the axis):
  // `--set sparsify.omega=0.02` means one ω, not every default ω set to 0.02. An axis sweeps the
  // params every one of its values sets (a named value may set more, e.g. a budget rule beside
  // the start); it is dropped when all of those are fixed.
  const fixed = new Set(Object.keys(selection.set ?? {}));
  for (const a of pipeline.axes) {
    const swept = a.values.length ? Object.keys(a.values[0]!.set).filter((p) => a.values.every((v) => p in v.set)) : [];
    if (swept.length > 0 && swept.every((p) => fixed.has(p))) picks.delete(a.name);
  }
  for (const [name, labels] of Object.entries(selection.ablate ?? {})) picks.set(name, labels);
  const chosen = new Map<Axis, Axis['values'][number][]>();
  for (const [name, labels] of picks) {
    const a = pipeline.axes.find((x) => x.name === name);
    if (!a) {
      throw new LineaError(
        `unknown ablation axis '${name}'; this pipeline declares ${pipeline.axes.map((x) => x.name).join(', ') || 'no axes'}`,
        'usage',
      );
    }
    if (labels.length === 0) continue;
    chosen.set(
      a,
      labels.map((label) => axisValue(a, label)),
    );
  }
  return chosen;
}

function axisValue(a: Axis, label: string): Axis['values'][number] {
  const exact = a.values.find((v) => v.label === label);
  if (exact) return exact;
  const parsed = parseCliValue(label);
  const equal = a.values.find((v) => a.params && jsonEqual(v.set[a.params[0]!], parsed));
  if (equal) return equal;
  if (a.params) return { label, set: Object.fromEntries(a.params.map((p) => [p, parsed])) };
  throw new LineaError(
    `axis '${a.name}' has no value '${label}'; its values are ${a.values.map((v) => v.label).join(', ')}`,
    'usage',
  );
}

function resolvePreset(pipeline: Pipeline, name: string | undefined) {
  if (name === undefined) return undefined;
  const preset = pipeline.presets[name];
  if (!preset) {
    throw new LineaError(
      `unknown preset '${name}'; this pipeline declares ${Object.keys(pipeline.presets).join(', ') || 'no presets'}`,
      'usage',
    );
  }
  return preset;
}

export function expandInstances(pipeline: Pipeline, selection: Selection = {}): Instance[] {
  const preset = resolvePreset(pipeline, selection.preset);
  const chosen = [...chosenAxisValues(pipeline, selection)];
  const nodeIds = new Set(pipeline.nodes.map((n) => n.id));

  // Which nodes each override path names: a node id, or every node of that stage.
  const targets = (path: string, source: string): { nodes: NodeSpec[]; paramPath: string[] } => {
    const [head, ...rest] = path.split('.');
    const nodes = nodeIds.has(head!)
      ? pipeline.nodes.filter((n) => n.id === head)
      : pipeline.nodes.filter((n) => n.stage.name === head);
    if (!nodes.length || !rest.length) {
      throw new LineaError(
        `${source} '${path}': expected <stage>.<param> with <stage> one of ${[...nodeIds].join(', ')}`,
        'usage',
      );
    }
    return { nodes, paramPath: rest };
  };
  const layer = (overrides: Readonly<Record<string, Json>> | undefined, source: string) =>
    Object.entries(overrides ?? {}).map(([path, value]) => ({ ...targets(path, source), value, path, source }));
  const presetLayer = layer(preset?.params, `preset '${selection.preset}'`);
  const setLayer = layer(selection.set, '--set');
  const axisLayers = chosen.map(([a, values]) => ({
    axis: a,
    values: values.map((v) => ({ label: v.label, overrides: layer(v.set, `axis '${a.name}'`) })),
  }));
  type AxisLayer = (typeof axisLayers)[number];

  // The axes that reach a node: those setting its params, and those reaching its plain inputs.
  // A gather input stops them: the node takes every variant of that producer at once.
  const isGather = (node: NodeSpec, name: string) => node.stage.inputs[name]?.kind === 'gather';
  const reach = new Map<string, Set<string>>();
  for (const node of pipeline.nodes) {
    const axes = new Set<string>();
    for (const { axis: a, values } of axisLayers) {
      if (values.some((v) => v.overrides.some((o) => o.nodes.includes(node)))) axes.add(a.name);
    }
    for (const [name, from] of Object.entries(node.inputs))
      if (!isGather(node, name)) for (const a of reach.get(from) ?? []) axes.add(a);
    reach.set(node.id, axes);
  }

  let wanted = new Set(nodeIds);
  if (selection.only?.length) wanted = ancestorsOf(pipeline, selection.only);

  // Each node's instances are the combinations of the axes that reach it, and only those: the
  // full cross product of every chosen axis would be visited once per node otherwise (1,680
  // combinations × 15 nodes for the default pipeline's axes). A consumer finds its producer's
  // instance by its own labels restricted to the axes that reach the producer, which are among
  // its own (reach flows down plain inputs).
  const reachedAxes = (nodeId: string) => axisLayers.filter((l) => reach.get(nodeId)!.has(l.axis.name));
  const labelKey = (labels: Readonly<Record<string, string>>, axes: readonly AxisLayer[]) =>
    axes.map((l) => labels[l.axis.name]).join('\u0000');
  const byNode = new Map<string, Map<string, Instance>>();
  const instances: Instance[] = [];
  for (const node of pipeline.nodes) {
    if (!wanted.has(node.id)) continue;
    const reached = reach.get(node.id)!;
    const axes = reachedAxes(node.id);
    const mine = new Map<string, Instance>();
    byNode.set(node.id, mine);
    for (const combo of cartesian(axes.map((l) => l.values.map((v) => ({ axis: l.axis.name, ...v }))))) {
      const labels: Record<string, string> = Object.fromEntries(combo.map((c) => [c.axis, c.label]));
      const id = instanceId(node.id, labels);
      const layers = [...presetLayer, ...combo.flatMap((c) => c.overrides), ...setLayer].filter((o) =>
        o.nodes.includes(node),
      );
      const inputs: Record<string, Instance> = {};
      for (const [name, from] of Object.entries(node.inputs)) {
        const producers = byNode.get(from)!;
        const theirs = reachedAxes(from);
        if (!isGather(node, name)) {
          inputs[name] = producers.get(labelKey(labels, theirs))!;
          continue;
        }
        // Every variant of the producer that agrees with this instance on the axes that reach
        // both; each becomes its own keyed input, `name@producer-instance`.
        const shared = theirs.map((l) => l.axis.name).filter((a) => reached.has(a));
        const variants = [...producers.values()].filter((v) => shared.every((a) => v.labels[a] === labels[a]));
        for (const v of variants.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)))
          inputs[gatheredInputName(name, v.id)] = v;
      }
      const resources = resourcesOf(node, [preset?.resources, selection.resources]);
      const inst: Instance = {
        id,
        node,
        stage: node.stage,
        params: resolveParams(node, id, layers),
        inputs,
        labels,
        ...(resources ? { resources } : {}),
      };
      mine.set(labelKey(labels, axes), inst);
      instances.push(inst);
    }
  }
  return instances;
}

/** The instances as a graph: an edge from each producer instance to each consumer. */
export function instanceDag(instances: readonly Instance[]): Dag {
  return new Dag(
    instances.map((inst) => ({
      id: inst.id,
      inputs: Object.fromEntries(Object.entries(inst.inputs).map(([name, from]) => [name, from.id])),
    })),
  );
}

/** The key of one gathered variant among an instance's inputs (and in its fingerprint). */
export function gatheredInputName(input: string, producer: string): string {
  return `${input}@${producer}`;
}

/** The nodes `--only` keeps: those it names (by id or stage name) and everything they need. */
function ancestorsOf(pipeline: Pipeline, only: readonly string[]): Set<string> {
  const named = only.flatMap((name) => {
    const matches = pipeline.nodes.filter((n) => n.id === name || n.stage.name === name);
    if (!matches.length) {
      throw new LineaError(
        `--only ${name}: no such stage; stages are ${pipeline.nodes.map((n) => n.id).join(', ')}`,
        'usage',
      );
    }
    return matches.map((n) => n.id);
  });
  return new Dag(pipeline.nodes).ancestors(named);
}

export function instanceId(nodeId: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([a, l]) => `${a}=${l}`);
  return parts.length ? `${nodeId}[${parts.join(',')}]` : nodeId;
}

function* cartesian<T>(lists: T[][]): Generator<T[]> {
  if (lists.length === 0) {
    yield [];
    return;
  }
  const [first, ...rest] = lists;
  for (const head of first!) for (const tail of cartesian(rest)) yield [head, ...tail];
}

interface Override {
  paramPath: string[];
  value: Json;
  path: string;
  source: string;
}

/** Merge the node's params with the override layers, then validate with the stage's schema. */
function resolveParams(node: NodeSpec, id: string, layers: readonly Override[]): Json {
  // Overrides are written into a copy; without any, zod reads the pipeline's own params (parsing
  // builds a new value and never changes its input), and a clone per instance would be wasted.
  const raw = layers.length ? structuredClone(node.params as Record<string, unknown>) : node.params;
  for (const o of layers) setPath(raw as Record<string, unknown>, o.paramPath, o.value);
  const result = node.stage.params.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.') || '(params)';
      const from = layers.find((o) => o.paramPath.join('.') === path);
      return `param '${path}'${from ? ` (set by ${from.source} to ${show(from.value)})` : ''}: ${issue.message}`;
    });
    throw new LineaError(
      `stage '${node.stage.name}' (${id}): invalid params:\n  ${issues.join('\n  ')}\n` +
        `fix the value in pipeline.ts or override it with --set ${node.id}.<param>=<value>`,
      'params',
    );
  }
  const params = result.data;
  for (const o of layers) {
    if (getPath(params, o.paramPath) === undefined) {
      const known = params && typeof params === 'object' ? Object.keys(params).join(', ') : '(none)';
      throw new LineaError(
        `${o.source} '${o.path}': stage '${node.stage.name}' has no param '${o.paramPath.join('.')}'; its params are ${known}`,
        'params',
      );
    }
  }
  try {
    return JSON.parse(canonicalJson(params, `stage '${node.stage.name}' params`)) as Json;
  } catch (error) {
    throw new LineaError(`${(error as Error).message}: params must be plain JSON so they can be hashed`, 'params');
  }
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: Json): void {
  let cursor = target;
  for (const key of path.slice(0, -1)) {
    const next = cursor[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  cursor[path[path.length - 1]!] = value;
}

function getPath(value: unknown, path: readonly string[]): unknown {
  let cursor = value;
  for (const key of path) {
    if (typeof cursor !== 'object' || cursor === null) return undefined;
    cursor = (cursor as Record<string, unknown>)[key];
  }
  return cursor;
}

/** The stage's resources with the overrides for its node (by id, or by stage name) laid over them. */
function resourcesOf(
  node: NodeSpec,
  overrides: readonly (Readonly<Record<string, Resources>> | undefined)[],
): Resources | undefined {
  let merged: Resources | undefined = node.stage.resources;
  for (const layer of overrides) {
    const own = layer?.[node.id] ?? layer?.[node.stage.name];
    if (own) merged = { ...merged, ...own };
  }
  return merged;
}
