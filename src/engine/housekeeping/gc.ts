/**
 * Garbage collection. Keeps every object the current plan or a pinned run reaches; of the rest,
 * evicts least recently used first, down to `maxBytes` (or all of them when no budget is set).
 * Index entries whose object is gone are dropped, as are checkpoints of keys no plan reaches,
 * and what dead processes left: workspaces, and leases no later run needs (project.ts sweepLeftovers).
 *
 * gc runs beside `linea run`s on the same store, as Bazel's and git's collectors run beside
 * builds: it never removes an object that a run in progress has recorded (activity.ts) or that
 * was used or made within the grace period (its mtime, re-read just before removal), so a run
 * never has an input or a fresh result removed under it; and an index entry is dropped only if
 * its object is still missing when gc is about to drop it (a run may have committed since).
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { sweepAccumulated } from './accumulated.ts';
import { sweepCompiledCache } from '../load/compiled-cache.ts';
import { type Project, sweepLeftovers } from '../project/project.ts';
import type { ArtifactDigest, CacheKey } from '../core/json.ts';
import type { RunRecord } from '../index/run-index.ts';

export interface GcOptions {
  /** Digests to keep whatever the budget (the current plan's cached results). */
  readonly keep: ReadonlySet<ArtifactDigest>;
  /** Keys the current plan reaches: their checkpoints are kept. */
  readonly liveKeys: ReadonlySet<CacheKey>;
  readonly maxBytes?: number;
  readonly dryRun: boolean;
  /** Objects used or made more recently than this are never evicted (default 10 minutes). */
  readonly graceMs?: number;
  /**
   * Also evict other projects' results (a store shared by several projects). By default an object
   * any other project's run made is kept: this project cannot see their plans or pins.
   */
  readonly allProjects?: boolean;
  /** The user's compiled-TypeScript cache to sweep as well (compiled-cache.ts), if there is one. */
  readonly compiledCache?: string;
}

export interface GcReport {
  readonly kept: number;
  readonly keptBytes: number;
  readonly evicted: { digest: ArtifactDigest; bytes: number; lastUsed: string }[];
  readonly evictedBytes: number;
  readonly droppedIndexEntries: number;
  readonly droppedCheckpoints: number;
  /**
   * Old indexes, abandoned job directories (accumulated.ts) and unused compiled files
   * (compiled-cache.ts) removed, or that would be in a dry run.
   */
  readonly swept: readonly string[];
  /** Objects that would have been evicted but are in use by a run or inside the grace period. */
  readonly spared: number;
  readonly dryRun: boolean;
}

export async function collectGarbage(project: Project, options: GcOptions): Promise<GcReport> {
  const { store, index } = project;
  const keep = new Set(options.keep);
  const runs = await knownRuns(project);
  const byKey = new Map(runs.map((r) => [r.key, r]));
  for (const pin of [...(await store.pins()), ...(await index.pins())]) {
    const record = byKey.get(pin.key);
    if (record) keep.add(record.digest);
  }

  const objects = await Promise.all(
    (await store.listObjects()).map(async (digest) => ({
      digest,
      bytes: await store.objectSize(digest),
      lastUsed: (await stat(store.objectDir(digest))).mtimeMs,
    })),
  );
  let total = objects.reduce((sum, o) => sum + o.bytes, 0);
  const graceMs = options.graceMs ?? 10 * 60_000;
  // Read after listing: a run records an object before it reads it, so anything it reads from
  // here on is either in this set or touched after the listing (and so within the grace period).
  const inUse = await project.activity.inUseByAnyRun();
  const mine = (r: { project?: string }) => options.allProjects || r.project === undefined || r.project === project.id;
  const othersUse = new Set(runs.filter((r) => !mine(r)).map((r) => r.digest));
  const candidates = objects
    .filter((o) => !keep.has(o.digest) && !othersUse.has(o.digest))
    .sort((a, b) => a.lastUsed - b.lastUsed);
  const evicted: GcReport['evicted'] = [];
  let spared = 0;
  for (const o of candidates) {
    if (options.maxBytes !== undefined && total <= options.maxBytes) break;
    const lastUsed = await stat(store.objectDir(o.digest)).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (lastUsed === undefined) continue; // removed by someone else meanwhile
    if (inUse.has(o.digest) || Date.now() - lastUsed < graceMs) {
      spared++;
      continue;
    }
    const outcome = options.dryRun ? 'evicted' : await evict(project, o.digest);
    if (outcome !== 'evicted') {
      if (outcome === 'spared') spared++;
      continue;
    }
    evicted.push({ digest: o.digest, bytes: o.bytes, lastUsed: new Date(lastUsed).toISOString() });
    total -= o.bytes;
  }

  const gone = new Set(evicted.map((e) => e.digest));
  const present = new Set(objects.map((o) => o.digest));
  const stale = runs.filter(
    (r) => mine(r) && (gone.has(r.digest) || (!present.has(r.digest) && !existsSync(store.objectDir(r.digest)))),
  );
  if (!options.dryRun) {
    for (const r of stale) {
      // A run may have committed this key again since the listing: keep an entry whose object
      // exists and was not evicted here.
      const current = await index.get(r.key);
      if (current && !gone.has(current.digest) && existsSync(store.objectDir(current.digest))) continue;
      await index.delete(r.key);
      await store.deleteRecord(r.key);
    }
  }

  let droppedCheckpoints = 0;
  for (const key of await store.checkpointKeys()) {
    // A key another run is computing right now (a live process holds its lease) keeps its
    // checkpoints too; a lease left by a dead process protects nothing.
    if (options.liveKeys.has(key) || (await project.leases.heldByLiveProcess(key))) continue;
    droppedCheckpoints++;
    if (!options.dryRun) await store.dropCheckpoints(key);
  }
  if (!options.dryRun) await sweepLeftovers(project);
  const accumulated = await sweepAccumulated(store.root, { dryRun: options.dryRun });
  const compiled = options.compiledCache ? sweepCompiledCache(options.compiledCache, { dryRun: options.dryRun }) : [];

  const kept = objects.filter((o) => !gone.has(o.digest));
  return {
    kept: kept.length,
    keptBytes: kept.reduce((sum, o) => sum + o.bytes, 0),
    evicted,
    evictedBytes: evicted.reduce((sum, e) => sum + e.bytes, 0),
    droppedIndexEntries: stale.length,
    droppedCheckpoints,
    swept: [...accumulated.paths, ...compiled],
    spared,
    dryRun: options.dryRun,
  };
}

/** `10G`, `500M`, `64k`, or plain bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match) throw new Error(`cannot read size '${text}'; use e.g. 500M, 10G or a number of bytes`);
  const power = ' kmgt'.indexOf((match[2] || ' ').toLowerCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}

/** `0`, `90s`, `10m`, `2h`, or plain milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new Error(`cannot read duration '${text}'; use e.g. 0, 90s, 10m or 2h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms').toLowerCase() as 'ms'];
  return Math.round(Number(match[1]) * unit);
}

/**
 * The runs gc decides from: the records the store keeps beside its objects, and the index's. The
 * index alone is not enough: a lost, rebuilt or garbled index would leave out other projects'
 * runs (whose objects gc must keep) and pins made before it, and gc would evict them.
 */
async function knownRuns(project: Project): Promise<RunRecord[]> {
  const byKey = new Map<CacheKey, RunRecord>();
  for await (const record of project.store.records<RunRecord>()) if (record?.key) byKey.set(record.key, record);
  for (const record of await project.index.runs()) byKey.set(record.key, record);
  return [...byKey.values()];
}

/**
 * Take an object out of the store unless a run has started using it since gc read the in-use
 * records: out first (one rename), then the records once more, then removed or put back. A run
 * records an object before it looks it up (or, for one it made, before publishing it), so either
 * the check sees the run and the object goes back, or the run's lookup finds it gone and
 * recomputes it. What is left is a read in the instant between the rename and the put-back.
 */
async function evict(project: Project, digest: ArtifactDigest): Promise<'evicted' | 'spared' | 'gone'> {
  const dir = project.store.objectDir(digest);
  const taken = await project.store.takeOut(dir);
  if (!taken) return 'gone';
  if ((await project.activity.inUseByAnyRun()).has(digest)) {
    await project.store.putBack(taken, dir);
    return 'spared';
  }
  await project.store.removeTaken(taken);
  return 'evicted';
}
