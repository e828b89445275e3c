/**
 * The cache key of a stage instance, as a typed record. Each field is there because leaving it
 * out would give a false cache hit; nothing else is there, because every extra field (a path, a
 * time, a host) would give spurious misses across machines. The key is sha256 of the canonical
 * record, and the record is stored with each run so that "why will this rerun?" is a diff.
 */
import {
  canonicalJson,
  digestOf,
  sha256,
  show,
  type ArtifactDigest,
  type CacheKey,
  type FileDigest,
  type Json,
} from '../core/json.ts';

/**
 * Bumped when the engine changes what a key means, what a stage computes or how its result is
 * stored (record layout, code normalisation, artifact layout, the context a stage runs with):
 * every result computed under another version is stale. Stage closures stop at the engine
 * (code.ts), so this is the engine's only part in a key; test/engine-version.test.ts fails when
 * the files that decide these things change and asks whether to bump it.
 * 2: closures stop at the engine's sources.
 */
export const ENGINE_VERSION = '2';

export interface Fingerprint {
  /** How keys and artifacts are made; see ENGINE_VERSION. */
  readonly engineVersion: string;
  /** The stage, by name: two stages with equal params and inputs still compute different things. */
  readonly stage: string;
  /** Normalised digest of every local file the stage module transitively imports (relative paths). */
  readonly code: Readonly<Record<string, FileDigest>>;
  /** Resolved versions of the npm packages that code imports: a new tfjs can change results. */
  readonly packages: Readonly<Record<string, string>>;
  /** Params after the schema's defaults: a default changed in code changes the key too. */
  readonly params: Json;
  /** input name → digest of the upstream artifact: identical upstream output ⇒ same key (early cutoff). */
  readonly inputs: Readonly<Record<string, ArtifactDigest>>;
  /** Only what the stage declares it depends on (e.g. the tensor backend). */
  readonly env: Readonly<Record<string, Json>>;
}

/** The fields of a Fingerprint in canonical (sorted) order. */
const FIELDS = ['code', 'engineVersion', 'env', 'inputs', 'packages', 'params', 'stage'] as const;
/** Canonical JSON of frozen parts shared by many records (a stage's code and packages). */
const shared = new WeakMap<object, string>();

/**
 * sha256 of the record's canonical JSON. The bytes are exactly `canonicalJson(record)`'s; the
 * code and package digests, one object per stage shared by all its instances (frozen by code.ts),
 * are serialised once per process rather than once per instance: ~50 files of a stage's closure
 * times every instance was most of a no-op's key time.
 */
export function cacheKey(record: Fingerprint): CacheKey {
  const keys = Object.keys(record);
  if (keys.length !== FIELDS.length || !FIELDS.every((f) => record[f] !== undefined))
    return digestOf<'cache-key'>(record);
  const part = (field: (typeof FIELDS)[number]): string => {
    const value = record[field];
    if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return canonicalJson(value, field);
    let text = shared.get(value);
    if (text === undefined) {
      text = canonicalJson(value, field);
      shared.set(value, text);
    }
    return text;
  };
  return sha256(`{${FIELDS.map((f) => `${JSON.stringify(f)}:${part(f)}`).join(',')}}`) as CacheKey;
}

/** Why an instance is not a cache hit: one entry per changed field. */
export type Reason =
  | { kind: 'engine'; field: 'engineVersion'; from: string; to: string }
  | { kind: 'code'; field: `code.${string}`; file: string; change: 'changed' | 'added' | 'removed' }
  | { kind: 'package'; field: `packages.${string}`; from: string | null; to: string | null }
  | { kind: 'param'; field: `params${string}`; from: Json | null; to: Json | null }
  | {
      kind: 'input';
      field: `inputs.${string}`;
      input: string;
      from: string | null;
      to: string | null;
      pending?: string;
    }
  | { kind: 'env'; field: `env.${string}`; from: Json | null; to: Json | null }
  | { kind: 'stage'; field: 'stage'; from: string; to: string }
  | { kind: 'artifact'; field: 'artifact'; problem: string }
  | { kind: 'failed'; field: 'lastRun'; error: string }
  | { kind: 'new'; field: 'record' }
  /**
   * The instance never ran under this id (a new axis value, or a `--set` that fixed a swept param
   * and so renamed it): the reasons after this one compare with the nearest previous run of the
   * same stage in this project, the one with the fewest differing fields.
   */
  | { kind: 'nearest'; field: 'record'; instance: string; key: string; differences: number };

/** Field-by-field differences between the record of the last run and the current one. */
export function diffFingerprints(previous: Fingerprint, current: Fingerprint): Reason[] {
  const reasons: Reason[] = [];
  if (previous.engineVersion !== current.engineVersion) {
    reasons.push({ kind: 'engine', field: 'engineVersion', from: previous.engineVersion, to: current.engineVersion });
  }
  if (previous.stage !== current.stage)
    reasons.push({ kind: 'stage', field: 'stage', from: previous.stage, to: current.stage });
  for (const file of union(previous.code, current.code)) {
    const [a, b] = [previous.code[file], current.code[file]];
    if (a === b) continue;
    reasons.push({
      kind: 'code',
      field: `code.${file}`,
      file,
      change: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed',
    });
  }
  for (const name of union(previous.packages, current.packages)) {
    const [a, b] = [previous.packages[name], current.packages[name]];
    if (a !== b) reasons.push({ kind: 'package', field: `packages.${name}`, from: a ?? null, to: b ?? null });
  }
  for (const { path, from, to } of diffJson(previous.params, current.params, '')) {
    reasons.push({ kind: 'param', field: `params${path}`, from, to });
  }
  for (const name of union(previous.inputs, current.inputs)) {
    const [a, b] = [previous.inputs[name], current.inputs[name]];
    if (a !== b) reasons.push({ kind: 'input', field: `inputs.${name}`, input: name, from: a ?? null, to: b ?? null });
  }
  for (const name of union(previous.env, current.env)) {
    const [a, b] = [previous.env[name], current.env[name]];
    if (canonicalJson(a ?? null) !== canonicalJson(b ?? null))
      reasons.push({ kind: 'env', field: `env.${name}`, from: a ?? null, to: b ?? null });
  }
  return reasons;
}

/** Leaf-level differences between two JSON values, as `.a.b` paths. */
function diffJson(
  a: Json | undefined,
  b: Json | undefined,
  path: string,
): { path: string; from: Json | null; to: Json | null }[] {
  const isObject = (v: Json | undefined): v is Record<string, Json> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    return [...union(a, b)].flatMap((key) => diffJson(a[key], b[key], `${path}.${key}`));
  }
  if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) return [];
  return [{ path, from: a ?? null, to: b ?? null }];
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** One line of prose per reason, as `linea status` prints it. */
export function describeReason(reason: Reason): string {
  switch (reason.kind) {
    case 'engine':
      return `engine version ${reason.from} → ${reason.to}`;
    case 'stage':
      return `stage ${reason.from} → ${reason.to}`;
    case 'code':
      return `code: ${reason.file} ${reason.change}`;
    case 'package':
      return `package ${reason.field.slice('packages.'.length)} ${reason.from ?? '(none)'} → ${reason.to ?? '(none)'}`;
    case 'param':
      return `${reason.field} ${show(reason.from ?? undefined)} → ${show(reason.to ?? undefined)}`;
    case 'input':
      return reason.pending ? `input ${reason.input}: ${reason.pending}` : `input ${reason.input}: new digest`;
    case 'env':
      return `${reason.field} ${show(reason.from ?? undefined)} → ${show(reason.to ?? undefined)}`;
    case 'artifact':
      return `cached artifact ${reason.problem}; it will be recomputed`;
    case 'failed':
      return `last run failed: ${reason.error}`;
    case 'new':
      return 'never run';
    case 'nearest':
      return reason.differences === 0
        ? `never ran as this instance; the nearest previous run, ${reason.instance}, differs only in inputs still to be computed`
        : `never ran as this instance; compared with the nearest previous run, ${reason.instance} (${reason.differences} field${reason.differences === 1 ? '' : 's'} differ${reason.differences === 1 ? 's' : ''}):`;
  }
}
