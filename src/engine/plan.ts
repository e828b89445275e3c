/**
 * The plan: before anything runs, each stage instance gets a state and, when it is not cached,
 * the typed reasons why. Reasons come from diffing the fingerprint it would have now against
 * the record of its last run, field by field.
 */
import { cacheKey, describeReason, diffFingerprints, type Reason } from './fingerprint.ts';
import { fingerprintOf, lookup } from './lookup.ts';
import type { Project } from './project.ts';
import type { Instance } from './instances.ts';
import type { ArtifactDigest, CacheKey } from './json.ts';

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
}

export async function planInstances(project: Project, instances: readonly Instance[]): Promise<PlannedInstance[]> {
  const planned = new Map<string, PlannedInstance>();
  for (const instance of instances) planned.set(instance.id, await planOne(project, instance, planned));
  return [...planned.values()];
}

async function planOne(
  project: Project,
  instance: Instance,
  planned: ReadonlyMap<string, PlannedInstance>,
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
    const reasons: Reason[] = previous
      ? diffFingerprints(previous.fingerprint, fingerprintOf(project, instance, inputs))
      : [{ kind: 'new', field: 'record' }];
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
  if (found.hit)
    return {
      ...base,
      key,
      state: 'cached',
      reasons: [],
      digest: found.record.digest,
      lastSeconds: found.record.seconds,
    };
  // Only a miss needs the last run of this instance, to say what changed.
  const previous = await project.index.latest(project.id, instance.id);
  const reasons: Reason[] = [];
  if (found.problem) reasons.push({ kind: 'artifact', field: 'artifact', problem: found.problem });
  const failure = await project.index.failure(key);
  if (failure) reasons.push({ kind: 'failed', field: 'lastRun', error: failure.error });
  if (previous && previous.key !== key) reasons.push(...diffFingerprints(previous.fingerprint, fingerprint));
  const known = found.record ?? previous;
  if (!known && !failure) return { ...base, key, state: 'missing', reasons: [{ kind: 'new', field: 'record' }] };
  return {
    ...base,
    key,
    state: known ? 'stale' : 'missing',
    reasons,
    ...(known ? { lastSeconds: known.seconds } : {}),
  };
}

export function describePlan(planned: readonly PlannedInstance[]): string {
  const width = Math.max(...planned.map((p) => p.id.length), 5);
  const lines: string[] = [];
  for (const p of planned) {
    lines.push(`${p.state.padEnd(8)} ${p.id.padEnd(width)}${p.key ? `  ${p.key.slice(0, 12)}` : ''}`);
    for (const reason of p.reasons)
      if (reason.kind !== 'new') lines.push(`${' '.repeat(9)}  · ${describeReason(reason)}`);
  }
  const counts = (['cached', 'stale', 'missing', 'blocked'] as const).map(
    (s) => `${planned.filter((p) => p.state === s).length} ${s}`,
  );
  lines.push('', counts.join(', '));
  return lines.join('\n');
}
