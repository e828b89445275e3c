/**
 * What the run index needs from where it is kept: get, set and delete a JSON value by key, and
 * list the entries under a prefix. Two kinds: a directory of files in the cache (the default: no
 * native build, no server, safe for concurrent runs on one filesystem), and keyv over sqlite,
 * Postgres or Redis (index-backends.ts).
 */
import { createHash } from 'node:crypto';
import { entriesOf } from '../core/folder.ts';
import { uniqueSuffix } from '../core/unique.ts';
import { type AtomicFile, writeFilesAtomically } from '../store/durability.ts';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type Keyv from 'keyv';

export interface IndexStore {
  get<T>(key: string): Promise<T | undefined>;
  /**
   * The same read, synchronously, for a store that keeps its entries in local files; absent for
   * a server. A no-op run answers a thousand cached lookups in one pass with it (run.ts), where
   * an await per lookup cost more than the lookup.
   */
  getNow?<T>(key: string): T | undefined;
  set(key: string, value: unknown): Promise<void>;
  /**
   * For a store kept in local files (absent for a server): the files that setting these entries
   * writes, in order, for a caller that must write them in its own disk request, after something
   * they name is durable (run-index.ts put: an index entry after its object).
   */
  filesFor?(entries: readonly (readonly [string, unknown])[]): AtomicFile[];
  delete(key: string): Promise<boolean>;
  /** Every entry whose key starts with `prefix` (a prefix ends with '/': `run/`, `pin/`), as [key, value]. */
  entries(prefix: string): AsyncIterable<readonly [string, unknown]>;
  close(): Promise<void>;
  /** Remove what killed writers left (a store of files); absent where there is nothing to sweep. */
  sweepTmp?(): Promise<number>;
}

/** Where entries are written before they are renamed into place: no key prefix can be named so. */
const TMP = '.tmp';

/**
 * One file per key, `<dir>/<prefix>/<sha256 of the key>.json` holding `{ key, value }`, written
 * whole and renamed into place, so a reader sees the old value or the new one and never half of
 * one. A file that cannot be read or parsed (a crash of the disk, a hand edit) is no entry: the
 * index is a pointer, and a miss is refilled from the records the store keeps.
 */
export class DirectoryIndexStore implements IndexStore {
  constructor(readonly dir: string) {}

  private path(key: string): string {
    const slash = key.indexOf('/');
    const prefix = slash > 0 ? key.slice(0, slash) : '_';
    return join(this.dir, prefix, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  async get<T>(key: string): Promise<T | undefined> {
    return this.getNow<T>(key);
  }

  // Read synchronously: one small local file, on the path of every cached lookup (store.ts, verify).
  getNow<T>(key: string): T | undefined {
    const entry = readEntrySync(this.path(key));
    return entry && entry.key === key ? (entry.value as T) : undefined;
  }

  // Writes go to the disk thread (store/durability.ts): every stage that runs makes two or three
  // (run.ts commitRun), whose system calls would otherwise hold the main thread while the next
  // stage waits for it. Writes in flight together go in one batch.
  async set(key: string, value: unknown): Promise<void> {
    await writeFilesAtomically(this.filesFor([[key, value]]));
  }

  filesFor(entries: readonly (readonly [string, unknown])[]): AtomicFile[] {
    return entries.map(([key, value]) => {
      const path = this.path(key);
      // Written under .tmp/ and renamed into place: sweeping what killed writers left reads that
      // one small folder, not every entry the index has ever had.
      const tmp = join(this.dir, TMP, `${basename(path)}.${process.pid}-${uniqueSuffix()}.tmp`);
      return { path, content: JSON.stringify({ key, value }), tmp };
    });
  }

  // Deletes stay synchronous: one unlink, rarer than writes.
  async delete(key: string): Promise<boolean> {
    try {
      unlinkSync(this.path(key));
      return true;
    } catch {
      return false;
    }
  }

  async *entries(prefix: string): AsyncIterable<readonly [string, unknown]> {
    const sub = prefix.replace(/\/$/, '');
    const dir = join(this.dir, sub || '_');
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const entry = await readEntry(join(dir, name));
      if (entry?.key.startsWith(prefix)) yield [entry.key, entry.value];
    }
  }

  /**
   * Files a killed writer left (`.tmp/*.tmp`, never renamed into place); how many were removed. A
   * write takes milliseconds, so one older than `olderThanMs` has no writer left (the index
   * directory may be shared by hosts, so the pid in its name proves nothing).
   */
  async sweepTmp(olderThanMs = 10 * 60_000): Promise<number> {
    let removed = 0;
    const dir = join(this.dir, TMP);
    // Synchronous (folder.ts): ~40 ms through the thread pool after pipeline.ts changed.
    for (const name of entriesOf(dir)) {
      if (!name.endsWith('.tmp')) continue;
      const path = join(dir, name);
      const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (mtime === undefined || Date.now() - mtime < olderThanMs) continue;
      rmSync(path, { force: true });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {}

  /** Move the whole index aside (a rebuild starts from nothing). */
  async moveAside(): Promise<string[]> {
    const aside = `${this.dir}.old-${Date.now()}`;
    try {
      await rename(this.dir, aside);
    } catch {
      return [];
    }
    return [aside];
  }
}

async function readEntry(path: string): Promise<{ key: string; value: unknown } | undefined> {
  try {
    return parseEntry(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function readEntrySync(path: string): { key: string; value: unknown } | undefined {
  try {
    return parseEntry(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function parseEntry(text: string): { key: string; value: unknown } | undefined {
  const entry = JSON.parse(text) as { key?: unknown; value?: unknown };
  return typeof entry?.key === 'string' ? { key: entry.key, value: entry.value } : undefined;
}

/** A keyv instance (sqlite, Postgres, Redis) as an index store. */
export function keyvIndexStore(kv: Keyv, scratch?: string): IndexStore {
  return {
    get: async <T>(key: string) => (await kv.get<T>(key)) ?? undefined,
    set: async (key, value) => {
      await kv.set(key, value);
    },
    delete: (key) => kv.delete(key),
    async *entries(prefix) {
      if (!kv.iterator) throw new Error('this keyv store cannot list its entries');
      for await (const [key, value] of kv.iterator(undefined)) {
        if (typeof key === 'string' && key.startsWith(prefix)) yield [key, value] as const;
      }
    },
    close: async () => {
      await kv.disconnect();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    },
  };
}
