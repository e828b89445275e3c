/**
 * The engine's handles on one project: its root, store, run index, leases, and the digests of
 * the code of every stage in the pipeline (computed once per command).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ActiveRun } from './activity.ts';
import { digestCode, type CodeDigest } from './code.ts';
import { LineaError } from './errors.ts';
import { ENGINE_VERSION, type Fingerprint } from './fingerprint.ts';
import type { Instance } from './instances.ts';
import type { ArtifactDigest, CacheKey, Json } from './json.ts';
import { Leases } from './lease.ts';
import type { Pipeline } from './pipeline.ts';
import { RunIndex, writable, type RunRecord } from './run-index.ts';
import type { EnvSpec } from './stage.ts';
import { Store, type Manifest } from './store.ts';

export interface Engine {
  readonly root: string;
  /**
   * The project's identity in a store several projects may share (a $LINEA_CACHE_DIR in a shell
   * profile): its pipeline's name and its root. Runs are recorded under it; "why stale", log and
   * gc look only at this project's runs unless told otherwise.
   */
  readonly project: string;
  readonly store: Store;
  readonly index: RunIndex;
  readonly leases: Leases;
  /** The objects this process reads or commits, recorded so gc leaves them alone. */
  readonly activity: ActiveRun;
  readonly code: ReadonlyMap<string, CodeDigest>;
  close(): Promise<void>;
}

/** --cache-dir, else $LINEA_CACHE_DIR (both relative to the working directory), else <project>/cache. */
export function resolveCacheDir(root: string, flag?: string): string {
  const chosen = flag ?? process.env.LINEA_CACHE_DIR;
  return chosen ? resolve(chosen) : resolve(root, 'cache');
}

/**
 * `access: 'read'` (status, log, verify) works on a cache this user cannot write; anything that
 * writes (run, gc, pin) first checks that it can, and says so plainly if not.
 */
export async function openEngine(options: {
  root: string;
  cacheDir: string;
  pipeline: Pipeline;
  access?: 'read' | 'write';
}): Promise<Engine> {
  const store = new Store(options.cacheDir);
  const readOnly = options.access === 'read';
  if (!readOnly) {
    const existing = existsSync(options.cacheDir) ? options.cacheDir : dirname(options.cacheDir);
    if (!writable(existing)) {
      throw new LineaError(
        `the cache ${options.cacheDir} is not writable by this user; this command writes results there: use --cache-dir <a writable directory>, or fix its permissions`,
        'usage',
      );
    }
  }
  if (!readOnly || writable(options.cacheDir)) await store.init();
  const code = await digestCode(
    options.root,
    options.pipeline.nodes.map((n) => n.stage.moduleUrl),
  );
  const index = await RunIndex.open(store.indexPath, { readOnly });
  const leases = new Leases(store.leasesDir);
  const activity = new ActiveRun(store.activeDir);
  return {
    root: options.root,
    project: `${options.pipeline.name}@${options.root}`,
    store,
    index,
    leases,
    activity,
    code,
    async close() {
      await leases.releaseAll();
      await activity.close();
      await index.close();
    },
  };
}

export function fingerprintOf(
  engine: Engine,
  instance: Instance,
  inputs: Readonly<Record<string, ArtifactDigest>>,
): Fingerprint {
  const code = engine.code.get(instance.stage.moduleUrl)!;
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
 * Is this key's result in the store, whole? A damaged or missing object is a miss, never an error.
 * `use` runs before the object is read (a run records it, so gc keeps it from then on).
 */
export async function lookup(
  engine: Engine,
  key: CacheKey,
  use?: (digest: ArtifactDigest) => Promise<void>,
  options: { rehash?: boolean } = {},
): Promise<Lookup> {
  let record = await engine.index.get(key);
  if (!record) {
    // Not in the index (lost or rebuilt without it): the store keeps a copy of every record.
    record = await engine.store.loadRecord<RunRecord>(key);
    if (!record) return { hit: false };
    await engine.index.put(record).catch(() => undefined);
  }
  await use?.(record.digest);
  // Files whose size and mtime match the stamp taken at commit are trusted, as git does; `rehash`
  // (run --verify-inputs) hashes every file.
  const verified = await engine.store.verify(record.digest, options.rehash ? undefined : record.stamp);
  if (!verified.ok) return { hit: false, record, problem: verified.problem };
  if (verified.rehashed && !options.rehash) {
    // Touched but intact: refresh the stamp so the next lookup does not hash it again.
    const stamp = await engine.store.stamp(record.digest, verified.manifest).catch(() => undefined);
    if (stamp) {
      await engine.index.put({ ...record, stamp }).catch(() => undefined);
      await engine.store.saveRecord(key, { ...record, stamp }).catch(() => undefined);
    }
  }
  return { hit: true, record, manifest: verified.manifest };
}
