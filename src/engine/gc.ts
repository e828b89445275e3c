/**
 * Garbage collection. Keeps every object the current plan or a pinned run reaches; of the rest,
 * evicts least recently used first, down to `maxBytes` (or all of them when no budget is set).
 * Index entries whose object is gone are dropped, as are checkpoints of keys no plan reaches,
 * and workspaces of dead processes.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from './engine.ts';
import type { ArtifactDigest, CacheKey } from './json.ts';
import { rmTree } from './store.ts';

export interface GcOptions {
  /** Digests to keep whatever the budget (the current plan's cached results). */
  readonly keep: ReadonlySet<ArtifactDigest>;
  /** Keys the current plan reaches: their checkpoints are kept. */
  readonly liveKeys: ReadonlySet<CacheKey>;
  readonly maxBytes?: number;
  readonly dryRun: boolean;
}

export interface GcReport {
  readonly kept: number;
  readonly keptBytes: number;
  readonly evicted: { digest: ArtifactDigest; bytes: number; lastUsed: string }[];
  readonly evictedBytes: number;
  readonly droppedIndexEntries: number;
  readonly droppedCheckpoints: number;
  readonly dryRun: boolean;
}

export async function collectGarbage(engine: Engine, options: GcOptions): Promise<GcReport> {
  const { store, index } = engine;
  const keep = new Set(options.keep);
  const runs = await index.runs();
  const byKey = new Map(runs.map((r) => [r.key, r]));
  for (const pin of await index.pins()) {
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
  const candidates = objects.filter((o) => !keep.has(o.digest)).sort((a, b) => a.lastUsed - b.lastUsed);
  const evicted: GcReport['evicted'] = [];
  for (const o of candidates) {
    if (options.maxBytes !== undefined && total <= options.maxBytes) break;
    evicted.push({ digest: o.digest, bytes: o.bytes, lastUsed: new Date(o.lastUsed).toISOString() });
    total -= o.bytes;
    if (!options.dryRun) await store.discard(store.objectDir(o.digest));
  }

  const gone = new Set(evicted.map((e) => e.digest));
  const present = new Set(objects.map((o) => o.digest));
  const stale = runs.filter((r) => gone.has(r.digest) || !present.has(r.digest));
  if (!options.dryRun) for (const r of stale) await index.delete(r.key);

  let droppedCheckpoints = 0;
  for (const key of await readdir(store.checkpointsDir).catch(() => [] as string[])) {
    // A key another run is computing right now (it holds the lease) keeps its checkpoints too.
    if (options.liveKeys.has(key as CacheKey) || existsSync(join(store.leasesDir, `${key}.lease`))) continue;
    droppedCheckpoints++;
    if (!options.dryRun) await rmTree(join(store.checkpointsDir, key));
  }
  if (!options.dryRun) await store.sweepTmp();

  const kept = objects.filter((o) => !gone.has(o.digest));
  return {
    kept: kept.length,
    keptBytes: kept.reduce((sum, o) => sum + o.bytes, 0),
    evicted,
    evictedBytes: evicted.reduce((sum, e) => sum + e.bytes, 0),
    droppedIndexEntries: stale.length,
    droppedCheckpoints,
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
