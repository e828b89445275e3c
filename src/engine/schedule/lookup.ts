/**
 * Cache lookup: the fingerprint of an instance given its inputs, and whether the store holds its
 * key's result whole. The index is a pointer; the store is the truth (a missing or damaged object
 * is a miss, never an error, and an index that lost an entry is refilled from the store's records).
 */
import { ENGINE_VERSION, type Fingerprint } from '../key/fingerprint.ts';
import type { Instance } from '../define/instances.ts';
import type { ArtifactDigest, CacheKey, Json } from '../core/json.ts';
import type { Project } from '../project/project.ts';
import { parseRunRecord, type RunRecord } from '../index/run-index.ts';
import type { EnvSpec } from '../define/stage.ts';
import type { Manifest } from '../store/store.ts';

export function fingerprintOf(
  project: Project,
  instance: Instance,
  inputs: Readonly<Record<string, ArtifactDigest>>,
): Fingerprint {
  const code = project.code.get(instance.stage.moduleUrl)!;
  return {
    engineVersion: ENGINE_VERSION,
    stage: instance.stage.name,
    code: code.files,
    packages: code.packages,
    params: instance.params,
    inputs,
    env: declaredEnv(instance.stage.env as EnvSpec<Json> | undefined, instance.params),
  };
}

function declaredEnv(spec: EnvSpec<Json> | undefined, params: Json): Record<string, Json> {
  if (!spec) return {};
  if (typeof spec === 'function') return spec(params);
  return Object.fromEntries(spec.map((name) => [name, process.env[name] ?? null]));
}

export type Lookup =
  | { hit: true; record: RunRecord; manifest: Manifest }
  | { hit: false; record?: RunRecord; problem?: string };

/**
 * lookup() in one synchronous pass, for the common case of a no-op: the index answers from a
 * local file, the record carries the object's manifest, and every file's stamp still holds.
 * Returns the hit, or undefined for anything else (a miss, damage, a server index, a file to
 * rehash, a failed write of the in-use record), which lookup() then decides and explains.
 * A no-op over a long chain of cached stages pays the lookups' system calls and nothing more:
 * with an await per step, a thousand lookups cost 25 ms more on a 230 ms run (bench/engine-overhead.ts).
 */
export function lookupNow(
  project: Project,
  key: CacheKey,
  use?: (digest: ArtifactDigest) => void,
): Extract<Lookup, { hit: true }> | undefined {
  const record = project.index.getNow(key);
  if (!record?.manifest) return undefined;
  try {
    use?.(record.digest);
  } catch {
    return undefined;
  }
  const verified = project.store.verifyNow(record.digest, record.stamp, record.manifest);
  // A manifest read from its file (the copy's stamp moved) is refreshed by lookup().
  if (!verified?.ok || verified.manifest !== record.manifest.manifest) return undefined;
  return { hit: true, record, manifest: verified.manifest };
}

/**
 * Is this key's result in the store, whole? A damaged or missing object is a miss, never an error.
 * `use` runs before the object is read (a run records it, so gc keeps it from then on).
 */
export async function lookup(
  project: Project,
  key: CacheKey,
  use?: (digest: ArtifactDigest) => Promise<void>,
  options: { rehash?: boolean } = {},
): Promise<Lookup> {
  let record = await project.index.get(key);
  const saved = async () => parseRunRecord(await project.store.loadRecord<unknown>(key));
  if (!record) {
    // Not in the index (lost, rebuilt without it, or unreadable): the store keeps a copy of every record.
    record = await saved();
    if (!record) return { hit: false };
    await project.index.put(record).catch(() => undefined);
  }
  await use?.(record.digest);
  // Files whose size and mtime match the stamp taken at commit are trusted, as git does; `rehash`
  // (run --verify-inputs) hashes every file.
  // The record's copy of the manifest spares reading the file while the file's stamp matches it.
  const check = (r: RunRecord) =>
    options.rehash ? project.store.verify(r.digest) : project.store.verify(r.digest, r.stamp, r.manifest);
  let verified = await check(record);
  if (!verified.ok) {
    // An index entry that names the wrong object (damaged by hand or by a crash) must not cost an
    // intact result: the store's own record of this key wins if its object verifies.
    const copy = await saved();
    if (copy && copy.digest !== record.digest) await use?.(copy.digest);
    const fixed = copy && copy.digest !== record.digest ? await check(copy) : undefined;
    if (!copy || !fixed?.ok) return { hit: false, record, problem: verified.problem };
    await project.index.put(copy).catch(() => undefined);
    record = copy;
    verified = fixed;
  }
  const known = record.manifest?.manifest === verified.manifest;
  if (!options.rehash && (verified.rehashed || !known)) {
    // Touched but intact (or a record older than manifest copies): refresh the stamps so the
    // next lookup neither hashes nor reads it again.
    const stamp = await project.store.stamp(record.digest, verified.manifest).catch(() => undefined);
    const manifest = project.store.knownManifest(record.digest, verified.manifest);
    if (stamp) {
      const refreshed: RunRecord = { ...record, stamp, ...(manifest ? { manifest } : {}) };
      await project.index.put(refreshed).catch(() => undefined);
      await project.store.saveRecord(key, refreshed).catch(() => undefined);
    }
  }
  return { hit: true, record, manifest: verified.manifest };
}
