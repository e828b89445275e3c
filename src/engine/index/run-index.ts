/**
 * The run index: which artifact each cache key produced, with the fingerprint record and timing
 * of that run; the latest key of each stage instance (for "why is this stale?"); failures; pins.
 * It lives where its URI says (index-backends.ts): a directory in the cache by default. The
 * index is only a pointer: the object store is the truth, and an entry whose object is missing
 * or corrupt is a miss.
 */
import { z } from 'zod';
import { errorMessage, LineaError } from '../core/errors.ts';
import { backendFor, redact } from './index-backends.ts';
import type { IndexStore } from './index-store.ts';
import type { Fingerprint } from '../key/fingerprint.ts';
import type { ArtifactDigest, CacheKey } from '../core/json.ts';
import type { KnownManifest, Pin, StatStamp } from '../store/store.ts';
import { type AtomicFile, writeFilesAtomically } from '../store/durability.ts';

export interface RunRecord {
  readonly key: CacheKey;
  readonly fingerprint: Fingerprint;
  readonly digest: ArtifactDigest;
  readonly stamp: StatStamp;
  /** The object's manifest and its file's stamp at commit (absent in records of older versions). */
  readonly manifest?: KnownManifest;
  readonly stage: string;
  readonly node: string;
  readonly instance: string;
  /** Lineage: input name → the cache key that produced it. */
  readonly upstream: Readonly<Record<string, CacheKey>>;
  readonly startedAt: string;
  readonly seconds: number;
  readonly host: string;
  readonly pid: number;
  /** The project that made it (engine.ts: pipeline name @ root); absent in records of older versions. */
  readonly project?: string;
  /** Each metric the stage reported with its progress: [step, value] pairs in order (`Progress.metrics`). */
  readonly metrics?: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  /** The stage's log lines (`ctx.log`), the last RECORD_LOG_LINES of them. */
  readonly log?: readonly string[];
}

/** A record keeps at most this many log lines: records are read whole by gc, log and verify. */
export const RECORD_LOG_LINES = 200;

export interface FailureRecord {
  readonly key: CacheKey;
  readonly instance: string;
  readonly stage: string;
  readonly error: string;
  readonly at: string;
}

/**
 * What an entry must look like to be used. The index is a file a crash, a person or another
 * version can damage; an entry of the wrong shape is no entry (a miss, refilled from the store's
 * records), never a TypeError deep in a command. Loose objects: fields added later pass.
 */
const hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-digit hex digest');
const cacheKey = hex.transform((text) => text as CacheKey);
const artifact = hex.transform((text) => text as ArtifactDigest);
const isObject = (value: unknown) => typeof value === 'object' && value !== null;
const RUN_RECORD: z.ZodType<RunRecord> = z.looseObject({
  key: cacheKey,
  digest: artifact,
  fingerprint: z.custom<Fingerprint>(isObject, 'expected a fingerprint record'),
  stamp: z.record(z.string(), z.tuple([z.number(), z.number()])),
  manifest: z.custom<KnownManifest>(isObject).optional(),
  stage: z.string(),
  node: z.string(),
  instance: z.string(),
  upstream: z.record(z.string(), cacheKey),
  startedAt: z.string(),
  seconds: z.number(),
  host: z.string(),
  pid: z.number(),
  project: z.string().optional(),
  metrics: z.record(z.string(), z.array(z.tuple([z.number(), z.number()]))).optional(),
  log: z.array(z.string()).optional(),
});
const PIN_ENTRY: z.ZodType<Pin> = z.looseObject({ key: cacheKey, note: z.string(), at: z.string() });
const FAILURE: z.ZodType<FailureRecord> = z.looseObject({
  key: cacheKey,
  instance: z.string(),
  stage: z.string(),
  error: z.string(),
  at: z.string(),
});

/** A run record read from anywhere (the store's copy, say), if it has the shape of one. */
export function parseRunRecord(value: unknown): RunRecord | undefined {
  const parsed = RUN_RECORD.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** An index entry that could not be used, and why. */
export interface UnreadableEntry {
  readonly entry: string;
  readonly problem: string;
}

const RUN = 'run/';
const LATEST = 'latest/';
const FAILED = 'failed/';
const PIN = 'pin/';
// The project and the instance are separated by U+001F (unit separator): Postgres text cannot hold
// the NUL that older indexes used, which are still read (latestKeys).
const latestKey = (project: string | undefined, instance: string) =>
  project === undefined ? LATEST + instance : `${LATEST}${project}\u001f${instance}`;
const latestKeys = (project: string, instance: string) => [
  latestKey(project, instance),
  `${LATEST}${project}\u0000${instance}`,
  LATEST + instance,
];

export class RunIndex {
  /** Entries found unreadable by this process, each reported once (`onUnreadable`). */
  private readonly unreadable = new Map<string, string>();
  /** Told of each unreadable entry the first time it is met (the CLI prints one line). */
  onUnreadable: (entry: UnreadableEntry) => void = () => undefined;

  private constructor(private readonly kv: IndexStore) {}

  /**
   * Open the index at `uri` (index-backends.ts: a directory in the cache by default, sqlite, or a
   * shared server). `readOnly` (status, log, verify) also works on a cache this user cannot write.
   */
  static async open(uri: URL, options: { readOnly?: boolean } = {}): Promise<RunIndex> {
    const backend = backendFor(uri);
    const store = await backend.open(uri, { readOnly: Boolean(options.readOnly) });
    const local = uri.protocol === 'sqlite:' || uri.protocol === 'file:';
    return new RunIndex(local ? store : naming(store, uri, backend.isDamaged));
  }

  /** The value if it has the shape, else undefined, noting the entry as unreadable. */
  private valid<T>(entry: string, value: unknown, schema: z.ZodType<T, unknown>): T | undefined {
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    if (!this.unreadable.has(entry)) {
      const issue = parsed.error.issues[0];
      const problem = issue ? `${issue.path.join('.') || 'the value'}: ${issue.message}` : 'not a valid entry';
      this.unreadable.set(entry, problem);
      this.onUnreadable({ entry, problem });
    }
    return undefined;
  }

  /** Entries met so far that could not be used (all of them, after runs() and pins()). */
  unreadableEntries(): UnreadableEntry[] {
    return [...this.unreadable].map(([entry, problem]) => ({ entry, problem }));
  }

  async get(key: CacheKey): Promise<RunRecord | undefined> {
    return this.valid(RUN + key, await this.kv.get(RUN + key), RUN_RECORD);
  }

  /**
   * The record, read synchronously where the index is local files (index-store.ts getNow).
   * Undefined when there is none, or when this index cannot answer without a round trip: the
   * caller then asks get().
   */
  getNow(key: CacheKey): RunRecord | undefined {
    return this.valid(RUN + key, this.kv.getNow?.(RUN + key), RUN_RECORD);
  }

  /**
   * Index a run: its record, and the instance's latest key. `after`, when given, is what must be
   * durable before the index names the record (the store's sync of its object, run.ts
   * commitRun), handed the index's own files to write after it: for an index of local files the
   * whole commit is one request to the disk thread, one answer to wait for. A server's entries
   * are written once `after` has completed.
   */
  async put(record: RunRecord, after?: (files: readonly AtomicFile[]) => Promise<void>): Promise<void> {
    const entries = [
      [RUN + record.key, record],
      // "Latest run of an instance" is per project: two projects may both have a `source` stage.
      [latestKey(record.project, record.instance), record.key],
    ] as const;
    const files = this.kv.filesFor?.(entries);
    if (files) await (after ?? writeFilesAtomically)(files);
    else {
      await after?.([]);
      for (const [key, value] of entries) await this.kv.set(key, value);
    }
    await this.kv.delete(FAILED + record.key);
  }

  async delete(key: CacheKey): Promise<void> {
    await this.kv.delete(RUN + key);
  }

  /** The last successful run of a stage instance in a project, whatever its key. */
  async latest(project: string, instance: string): Promise<RunRecord | undefined> {
    let key: CacheKey | undefined;
    for (const name of latestKeys(project, instance)) {
      // An older NUL key may be unreadable to a server backend: skip it there.
      key = this.valid(name, await this.kv.get(name).catch(() => undefined), cacheKey);
      if (key) break;
    }
    const record = key ? await this.get(key) : undefined;
    return record && (record.project === undefined || record.project === project) ? record : undefined;
  }

  async recordFailure(failure: FailureRecord): Promise<void> {
    await this.kv.set(FAILED + failure.key, failure);
  }

  async failure(key: CacheKey): Promise<FailureRecord | undefined> {
    return this.valid(FAILED + key, await this.kv.get(FAILED + key), FAILURE);
  }

  async pin(pin: Pin): Promise<void> {
    await this.kv.set(PIN + pin.key, pin);
  }

  async unpin(key: CacheKey): Promise<boolean> {
    return this.kv.delete(PIN + key);
  }

  async pins(): Promise<Pin[]> {
    return this.entries(PIN, PIN_ENTRY);
  }

  async runs(): Promise<RunRecord[]> {
    return this.entries(RUN, RUN_RECORD);
  }

  /** Files killed writers left in the index (a directory index); how many went. */
  async sweepTmp(): Promise<number> {
    return (await this.kv.sweepTmp?.()) ?? 0;
  }

  /**
   * gc keeps what pins and runs name: a store that cannot list them fails here, never passes for
   * empty. Entries of the wrong shape are left out and noted as unreadable.
   */
  private async entries<T>(prefix: string, schema: z.ZodType<T, unknown>): Promise<T[]> {
    const out: T[] = [];
    for await (const [entry, value] of this.kv.entries(prefix)) {
      const valid = this.valid(entry, value ?? null, schema);
      if (valid !== undefined) out.push(valid);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.kv.close();
  }
}

/**
 * The index with its server's errors rewritten to name it ("the run index at redis://… failed:
 * the client is offline"), so a run that fails because its index died says which one. A sqlite
 * index keeps its errors as they are: their codes tell a damaged file (index-repair.ts).
 */
function naming(store: IndexStore, uri: URL, isDamaged: (error: unknown) => boolean): IndexStore {
  const where = redact(uri);
  const rethrow = (error: unknown): never => {
    if (isDamaged(error)) throw error;
    throw new LineaError(`the run index at ${where} failed: ${errorMessage(error)}`, 'store');
  };
  return {
    get: <T>(key: string) => store.get<T>(key).catch(rethrow),
    set: (key, value) => store.set(key, value).catch(rethrow),
    delete: (key) => store.delete(key).catch(rethrow),
    entries: (prefix) => store.entries(prefix),
    close: () => store.close(),
  };
}
