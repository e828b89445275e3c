/**
 * The plan: before anything runs, each stage instance gets a state and, when it is not cached,
 * the typed reasons why. Reasons come from diffing the fingerprint it would have now against
 * the record of its last run, field by field.
 */
import { cacheKey, describeReason, diffFingerprints, type Fingerprint, type Reason } from '../key/fingerprint.ts';
import { fingerprintOf, lookup, lookupNow } from '../schedule/lookup.ts';
import type { Project } from '../project/project.ts';
import type { Instance } from '../define/instances.ts';
import type { ArtifactDigest, CacheKey } from '../core/json.ts';
import type { RunRecord } from '../index/run-index.ts';
import { jobLabel } from '../coordinate/lease.ts';

export type PlanState = 'cached' | 'stale' | 'missing' | 'blocked';

export interface PlannedInstance {
  readonly id: string;
  readonly stage: string;
  /** Null while an upstream instance has to run first: the key depends on its output. */
  readonly key: CacheKey | null;
  readonly state: PlanState;
  readonly reasons: readonly Reason[];
  /** Present when cached. */
  readonly digest?: ArtifactDigest;
  /** Duration of the last run of this instance, for estimates. */
  readonly lastSeconds?: number;
  /** Who is computing it right now, when someone is: `slurm job 123`, `pid 42 on node1`. */
  readonly running?: string;
}

export async function planInstances(project: Project, instances: readonly Instance[]): Promise<PlannedInstance[]> {
  const planned = new Map<string, PlannedInstance>();
  const history = new PastRuns(project);
  for (const instance of instances)
    planned.set(
      instance.id,
      cachedNow(project, instance, planned) ?? (await planOne(project, instance, planned, history)),
    );
  return [...planned.values()];
}

/**
 * The plan of an instance whose inputs are all cached and whose own result is, settled without
 * waiting (lookup.ts lookupNow): a plan of a thousand cached instances pays their lookups only.
 * Undefined when planOne has to decide.
 */
function cachedNow(
  project: Project,
  instance: Instance,
  planned: ReadonlyMap<string, PlannedInstance>,
): PlannedInstance | undefined {
  const inputs: Record<string, ArtifactDigest> = {};
  for (const [name, inst] of Object.entries(instance.inputs)) {
    const digest = planned.get(inst.id)?.digest;
    if (digest === undefined) return undefined;
    inputs[name] = digest;
  }
  const key = cacheKey(fingerprintOf(project, instance, inputs));
  const found = lookupNow(project, key);
  return found && cachedPlan(instance, key, found.record);
}

/** A cached instance's plan: nothing to do, its result's digest, how long it took to make. */
function cachedPlan(instance: Instance, key: CacheKey, record: RunRecord): PlannedInstance {
  return {
    id: instance.id,
    stage: instance.stage.name,
    key,
    state: 'cached',
    reasons: [],
    digest: record.digest,
    lastSeconds: record.seconds,
  };
}

/** This project's past runs by stage, read once per plan and only if an instance needs them. */
class PastRuns {
  private byStage: Promise<Map<string, RunRecord[]>> | undefined;
  constructor(private readonly project: Project) {}

  /** The run of `stage` whose fingerprint differs from `current` in the fewest fields, and those differences. */
  async nearest(stage: string, current: Fingerprint): Promise<{ run: RunRecord; reasons: Reason[] } | undefined> {
    this.byStage ??= this.project.index.runs().then((runs) => {
      const map = new Map<string, RunRecord[]>();
      for (const r of runs) {
        if (r.project !== undefined && r.project !== this.project.id) continue;
        map.set(r.stage, [...(map.get(r.stage) ?? []), r]);
      }
      return map;
    });
    let best: { run: RunRecord; reasons: Reason[] } | undefined;
    for (const run of (await this.byStage).get(stage) ?? []) {
      const reasons = diffFingerprints(run.fingerprint, current);
      const better =
        !best ||
        reasons.length < best.reasons.length ||
        (reasons.length === best.reasons.length && run.startedAt > best.run.startedAt);
      if (better) best = { run, reasons };
    }
    return best;
  }
}

/** Reasons for an instance that never ran under its id: the diff against the nearest run of its stage. */
async function neverRan(history: PastRuns, instance: Instance, current: Fingerprint): Promise<Reason[]> {
  const near = await history.nearest(instance.stage.name, current);
  if (!near) return [{ kind: 'new', field: 'record' }];
  // An input whose upstream has yet to run has no digest to compare ('' here): it is reported as pending.
  const known = near.reasons.filter((r) => !(r.kind === 'input' && r.to === ''));
  return [
    { kind: 'nearest', field: 'record', instance: near.run.instance, key: near.run.key, differences: known.length },
    ...known,
  ];
}

async function planOne(
  project: Project,
  instance: Instance,
  planned: ReadonlyMap<string, PlannedInstance>,
  history: PastRuns,
): Promise<PlannedInstance> {
  const base = { id: instance.id, stage: instance.stage.name };
  const upstream = Object.entries(instance.inputs).map(([name, inst]) => [name, planned.get(inst.id)!] as const);
  const blockedBy = upstream.filter(([, p]) => p.state === 'blocked' || p.reasons.some((r) => r.kind === 'failed'));
  if (blockedBy.length) {
    return {
      ...base,
      key: null,
      state: 'blocked',
      reasons: blockedBy.map(([name, p]) => ({
        kind: 'input',
        field: `inputs.${name}`,
        input: name,
        from: null,
        to: null,
        pending: `upstream ${p.id} failed or is blocked`,
      })),
    };
  }

  const pending = upstream.filter(([, p]) => p.state !== 'cached');
  if (pending.length) {
    const previous = await project.index.latest(project.id, instance.id);
    // The key is unknown until upstream runs. Diff what is known, using the previous input digests
    // for the pending inputs, so params and code changes are still reported.
    const inputs: Record<string, ArtifactDigest> = {};
    for (const [name, p] of upstream)
      inputs[name] = p.digest ?? previous?.fingerprint.inputs[name] ?? ('' as ArtifactDigest);
    const current = fingerprintOf(project, instance, inputs);
    const reasons: Reason[] = previous
      ? diffFingerprints(previous.fingerprint, current)
      : await neverRan(history, instance, current);
    for (const [name, p] of pending) {
      reasons.push({
        kind: 'input',
        field: `inputs.${name}`,
        input: name,
        from: previous?.fingerprint.inputs[name] ?? null,
        to: null,
        pending: `upstream ${p.id} will run first (this may still be a cache hit if its output is unchanged)`,
      });
    }
    return {
      ...base,
      key: null,
      state: previous ? 'stale' : 'missing',
      reasons,
      ...(previous ? { lastSeconds: previous.seconds } : {}),
    };
  }

  const inputs = Object.fromEntries(upstream.map(([name, p]) => [name, p.digest!]));
  const fingerprint = fingerprintOf(project, instance, inputs);
  const key = cacheKey(fingerprint);
  const found = await lookup(project, key);
  if (found.hit) return cachedPlan(instance, key, found.record);
  const holder = await project.leases.holder(key);
  const running = holder ? (holder.job ? jobLabel(holder.job) : `pid ${holder.pid} on ${holder.host}`) : undefined;
  // Only a miss needs the last run of this instance, to say what changed.
  const previous = await project.index.latest(project.id, instance.id);
  const reasons: Reason[] = [];
  if (found.problem) reasons.push({ kind: 'artifact', field: 'artifact', problem: found.problem });
  const failure = await project.index.failure(key);
  if (failure) reasons.push({ kind: 'failed', field: 'lastRun', error: failure.error });
  if (previous && previous.key !== key) reasons.push(...diffFingerprints(previous.fingerprint, fingerprint));
  const known = found.record ?? previous;
  const now = running ? { running } : {};
  if (!known && !failure) {
    return { ...base, key, state: 'missing', reasons: await neverRan(history, instance, fingerprint), ...now };
  }
  return {
    ...base,
    key,
    state: known ? 'stale' : 'missing',
    reasons,
    ...(known ? { lastSeconds: known.seconds } : {}),
    ...now,
  };
}

export function describePlan(planned: readonly PlannedInstance[]): string {
  const width = Math.max(...planned.map((p) => p.id.length), 5);
  const lines: string[] = [];
  // "upstream X will run first" is said once per upstream at the end, not once per waiting input.
  const waitingOn = new Map<string, number>();
  for (const p of planned) {
    const running = p.running ? `  running (${p.running})` : '';
    lines.push(`${p.state.padEnd(8)} ${p.id.padEnd(width)}${p.key ? `  ${p.key.slice(0, 12)}` : ''}${running}`);
    const upstream: string[] = [];
    for (const reason of p.reasons) {
      if (reason.kind === 'new') continue;
      const waits = reason.kind === 'input' && reason.pending?.match(/^upstream (\S+) will run first/);
      if (waits) {
        upstream.push(waits[1]!);
        continue;
      }
      const indent = reason.kind === 'nearest' || !p.reasons.some((r) => r.kind === 'nearest') ? '  · ' : '      ';
      lines.push(`${' '.repeat(9)}${indent}${describeReason(reason)}`);
    }
    if (upstream.length) {
      lines.push(`${' '.repeat(9)}  · after ${[...new Set(upstream)].join(', ')}`);
      for (const u of new Set(upstream)) waitingOn.set(u, (waitingOn.get(u) ?? 0) + 1);
    }
  }
  const counts = (['cached', 'stale', 'missing', 'blocked'] as const).map(
    (s) => `${planned.filter((p) => p.state === s).length} ${s}`,
  );
  if (waitingOn.size) {
    lines.push(
      '',
      'will run first (what waits on them is decided after; it may still be a cache hit if their output is unchanged):',
      ...[...waitingOn].map(([u, n]) => `  ${u}: ${n} instance${n === 1 ? '' : 's'} wait${n === 1 ? 's' : ''} on it`),
    );
  }
  lines.push('', counts.join(', '));
  return lines.join('\n');
}
