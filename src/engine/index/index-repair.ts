/**
 * Rebuilding the run index from the store. The index (any backend) is only a pointer; the
 * store keeps a copy of every run record (records/) beside the objects. A damaged or lost index is
 * moved aside and a new one is filled from the records whose objects are intact, so no intact
 * result is lost because an index was damaged.
 */
import { backendFor, isDamagedIndex } from './index-backends.ts';
import type { CacheKey } from '../core/json.ts';
import { existsSync } from 'node:fs';
import { RunIndex, type RunRecord, type UnreadableEntry } from './run-index.ts';
import type { Store } from '../store/store.ts';

export interface RebuildReport {
  /** Where the old index files went (none if there was no index). */
  readonly movedAside: readonly string[];
  readonly restored: number;
  /** Records whose object is missing or damaged: those runs will be recomputed. */
  readonly skipped: number;
  /** Pins restored from the store. */
  readonly pins: number;
}

export async function rebuildIndex(store: Store, uri: URL): Promise<RebuildReport> {
  const movedAside = await backendFor(uri).moveAside(uri);
  const index = await RunIndex.open(uri);
  try {
    const intact: RunRecord[] = [];
    let skipped = 0;
    for await (const record of store.records<RunRecord>()) {
      if ((await store.verify(record.digest, record.stamp)).ok) intact.push(record);
      else skipped++;
    }
    // Oldest first, so each instance's "latest" ends up pointing at its most recent run.
    intact.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
    const seen = new Set<CacheKey>();
    for (const record of intact) {
      await index.put(record);
      seen.add(record.key);
    }
    const pins = await store.pins();
    for (const pin of pins) await index.pin(pin);
    return { movedAside, restored: seen.size, skipped, pins: pins.length };
  } finally {
    await index.close();
  }
}

/** What makes an index need a rebuild, found by reading it against the store's records. */
export interface IndexHealth {
  /** Entries of the wrong shape (run-index.ts validates every read). */
  readonly unreadable: readonly UnreadableEntry[];
  /** Runs whose records and objects the store holds but the index does not name (a lost or partial index). */
  readonly missing: number;
  /** The index's readable runs, as read for the check. */
  readonly runs: readonly RunRecord[];
}

/** Read the whole index and compare it with the store's records; throws what the backend throws for a damaged index. */
export async function checkIndex(store: Store, index: RunIndex): Promise<IndexHealth> {
  const runs = await index.runs();
  await index.pins();
  const indexed = new Set(runs.map((r) => r.key));
  let missing = 0;
  for await (const record of store.records<RunRecord>()) {
    if (record?.key && !indexed.has(record.key) && existsSync(store.objectDir(record.digest))) missing++;
  }
  return { unreadable: index.unreadableEntries(), missing, runs };
}

/**
 * Rebuild the index if it is damaged (cannot be opened or read: a sqlite file), holds entries of
 * the wrong shape, or lacks runs the store's records hold (a deleted index directory). `verify
 * --repair` calls this before anything else. Undefined when it was intact.
 */
export async function repairIndexIfDamaged(store: Store, uri: URL): Promise<RebuildReport | undefined> {
  let health: IndexHealth;
  try {
    const index = await RunIndex.open(uri);
    try {
      health = await checkIndex(store, index);
    } finally {
      await index.close();
    }
  } catch (error) {
    if (!isDamagedIndex(error)) throw error;
    return rebuildIndex(store, uri);
  }
  return health.unreadable.length || health.missing ? rebuildIndex(store, uri) : undefined;
}
