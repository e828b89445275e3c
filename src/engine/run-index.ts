/**
 * The run index: which artifact each cache key produced, with the fingerprint record and timing
 * of that run; the latest key of each stage instance (for "why is this stale?"); failures; pins.
 * It lives where its URI says (index-backends.ts): a directory in the cache by default. The
 * index is only a pointer: the object store is the truth, and an entry whose object is missing
 * or corrupt is a miss.
 */
import { errorMessage, LineaError } from './errors.ts';
import { backendFor, redact } from './index-backends.ts';
import type { IndexStore } from './index-store.ts';
import type { Fingerprint } from './fingerprint.ts';
import type { ArtifactDigest, CacheKey } from './json.ts';
import type { KnownManifest, Pin, StatStamp } from './store.ts';

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
}

export interface FailureRecord {
  readonly key: CacheKey;
  readonly instance: string;
  readonly stage: string;
  readonly error: string;
  readonly at: string;
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

  async get(key: CacheKey): Promise<RunRecord | undefined> {
    return this.kv.get<RunRecord>(RUN + key);
  }

  /**
   * The record, read synchronously where the index is local files (index-store.ts getNow).
   * Undefined when there is none, or when this index cannot answer without a round trip: the
   * caller then asks get().
   */
  getNow(key: CacheKey): RunRecord | undefined {
    return this.kv.getNow?.<RunRecord>(RUN + key);
  }

  async put(record: RunRecord): Promise<void> {
    await this.kv.set(RUN + record.key, record);
    // "Latest run of an instance" is per project: two projects may both have a `source` stage.
    await this.kv.set(latestKey(record.project, record.instance), record.key);
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
      key = await this.kv.get<CacheKey>(name).catch(() => undefined);
      if (key) break;
    }
    const record = key ? await this.get(key) : undefined;
    return record && (record.project === undefined || record.project === project) ? record : undefined;
  }

  async recordFailure(failure: FailureRecord): Promise<void> {
    await this.kv.set(FAILED + failure.key, failure);
  }

  async failure(key: CacheKey): Promise<FailureRecord | undefined> {
    return this.kv.get<FailureRecord>(FAILED + key);
  }

  async pin(pin: Pin): Promise<void> {
    await this.kv.set(PIN + pin.key, pin);
  }

  async unpin(key: CacheKey): Promise<boolean> {
    return this.kv.delete(PIN + key);
  }

  async pins(): Promise<Pin[]> {
    return (await this.entries(PIN)) as Pin[];
  }

  async runs(): Promise<RunRecord[]> {
    return (await this.entries(RUN)) as RunRecord[];
  }

  /** gc keeps what pins and runs name: a store that cannot list them fails here, never passes for empty. */
  private async entries(prefix: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const value of this.kv.values(prefix)) out.push(value);
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
    values: (prefix) => store.values(prefix),
    close: () => store.close(),
  };
}
