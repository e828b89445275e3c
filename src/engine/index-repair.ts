/**
 * Rebuilding the run index from the store. The index (sqlite by default) is only a pointer; the
 * store keeps a copy of every run record (records/) beside the objects. A damaged or lost index is
 * moved aside and a new one is filled from the records whose objects are intact, so no intact
 * result is lost because an index was damaged.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { CacheKey } from './json.ts';
import { RunIndex, type RunRecord } from './run-index.ts';
import type { Store } from './store.ts';

export interface RebuildReport {
  /** Where the old index files went (none if there was no index). */
  readonly movedAside: readonly string[];
  readonly restored: number;
  /** Records whose object is missing or damaged: those runs will be recomputed. */
  readonly skipped: number;
}

/** Is this error sqlite saying the index file is not a (whole) database? */
export function isDamagedIndex(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

export async function rebuildIndex(store: Store): Promise<RebuildReport> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const movedAside: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) {
    const path = `${store.indexPath}${suffix}`;
    if (!existsSync(path)) continue;
    const aside = `${path}.damaged-${stamp}`;
    await rename(path, aside);
    movedAside.push(aside);
  }
  const index = await RunIndex.open(store.indexPath);
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
    return { movedAside, restored: seen.size, skipped };
  } finally {
    await index.close();
  }
}
