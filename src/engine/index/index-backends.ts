/**
 * Where the run index lives, by URI: `file:///abs/cache/index` (the default, a directory of files
 * in the cache), `sqlite:///abs/cache/index.sqlite`, or a server shared by several machines. Each backend turns its URI into a
 * keyv store adapter and knows its own failure modes (what "damaged" means, how to move a damaged
 * index aside). RunIndex (run-index.ts) sees only keyv; nothing else in the engine sees a backend.
 *
 * Adding a backend: an object implementing IndexBackend, added to BACKENDS, with its driver
 * imported inside `open` (so a user who does not choose it never loads it). src/engine/README.md
 * walks through it.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type Keyv from 'keyv';
import type { KeyvStoreAdapter } from 'keyv';
import { DirectoryIndexStore, type IndexStore, keyvIndexStore } from './index-store.ts';
import { writable } from '../core/access.ts';
import { type HeldLease, Leases, type LeaseStore } from '../coordinate/lease.ts';
import { errorMessage, LineaError } from '../core/errors.ts';

export interface IndexBackend {
  /** URI schemes it serves, without the colon. */
  readonly schemes: readonly string[];
  open(uri: URL, options: { readOnly: boolean }): Promise<IndexStore>;
  /** Move a damaged index out of the way before a rebuild; where it went (nothing if there was none). */
  moveAside(uri: URL): Promise<string[]>;
  /** Whether an error from this backend means the index's data is damaged (rebuild it) rather than unreachable. */
  isDamaged(error: unknown): boolean;
  /** The leases that go with this index: in the same server for a shared one, else files in the cache. */
  leases(uri: URL, cacheDir: string, staleMs: number): Promise<LeaseStore>;
}

/** Leases as files in the cache directory: enough on one host, or hosts sharing one filesystem. */
const fileLeases = async (_uri: URL, cacheDir: string, staleMs: number): Promise<LeaseStore> =>
  new Leases(join(cacheDir, 'leases'), { staleMs });

const sqlite: IndexBackend = {
  schemes: ['sqlite'],
  /**
   * `readOnly` (status, log, verify) also works where this user cannot write the cache (a shared
   * or archived store): sqlite must create its WAL side files even to read, so a snapshot of the
   * index files is opened from a private temporary directory instead.
   */
  async open(uri, { readOnly }) {
    const path = fileURLToPath(uri.href.replace(/^sqlite:/, 'file:'));
    let scratch: string | undefined;
    let file = path;
    if (readOnly && !writable(dirname(path))) {
      scratch = await mkdtemp(join(tmpdir(), 'linea-index-'));
      file = join(scratch, 'index.sqlite');
      for (const suffix of ['', '-wal'])
        if (existsSync(`${path}${suffix}`)) await copyFile(`${path}${suffix}`, `${file}${suffix}`);
    }
    const { default: KeyvSqlite } = await importDriver<typeof import('@keyv/sqlite')>('@keyv/sqlite', 'sqlite');
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 30_000, iterationLimit: 500 });
    // WAL lets concurrent `linea run`s read while one writes; the setting persists in the file.
    await adapter.query('PRAGMA journal_mode=WAL');
    return keyvIndexStore(await keyvOver(adapter), scratch);
  },
  async moveAside(uri) {
    const path = fileURLToPath(uri.href.replace(/^sqlite:/, 'file:'));
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const moved: string[] = [];
    for (const suffix of ['', '-wal', '-shm']) {
      if (!existsSync(`${path}${suffix}`)) continue;
      const aside = `${path}${suffix}.damaged-${stamp}`;
      await rename(`${path}${suffix}`, aside);
      moved.push(aside);
    }
    return moved;
  },
  isDamaged(error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
  },
  leases: fileLeases,
};

/** Fail fast rather than wait: a server that is down must stop the run with a clear message, not hang it. */
const CONNECT_TIMEOUT_MS = 5000;
const QUERY_TIMEOUT_MS = 30_000;

const POOL = { connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: QUERY_TIMEOUT_MS };

const postgres: IndexBackend = {
  schemes: ['postgres', 'postgresql'],
  async open(uri) {
    const pg = await importDriver<typeof import('pg')>('pg', 'postgres');
    const { openPool, PostgresKeyvStore } = await import('./postgres.ts');
    const pool = openPool(pg.default, uri, POOL);
    // The first request is not retried: a server that is down when the command starts is named at once.
    await reachable(uri, () => pool.query('SELECT 1')).catch(async (error: unknown) => {
      await pool.end().catch(() => undefined);
      throw error;
    });
    return keyvIndexStore(await keyvOver(new PostgresKeyvStore(pool, uri)));
  },
  async moveAside(uri) {
    // A server's index is not a file to move: rename its table, keeping it for inspection.
    const pg = await importDriver<typeof import('pg')>('pg', 'postgres');
    const client = new pg.default.Client({ connectionString: uri.href, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    await reachable(uri, () => client.connect());
    try {
      const aside = `linea_index_damaged_${Date.now()}`;
      const { rowCount } = await client.query(`SELECT 1 FROM pg_tables WHERE tablename = 'linea_index'`);
      if (!rowCount) return [];
      await client.query(`ALTER TABLE linea_index RENAME TO ${aside}`);
      return [`table ${aside} in ${redact(uri)}`];
    } finally {
      await client.end();
    }
  },
  isDamaged: () => false,
  async leases(uri, _cacheDir, staleMs) {
    const pg = await importDriver<typeof import('pg')>('pg', 'postgres');
    const [{ openPool }, { PostgresLeases }] = await Promise.all([
      import('./postgres.ts'),
      import('./lease-postgres.ts'),
    ]);
    return namingLeases(new PostgresLeases(openPool(pg.default, uri, POOL), staleMs), uri);
  },
};

const redis: IndexBackend = {
  schemes: ['redis', 'rediss'],
  async open(uri) {
    const { default: KeyvRedis } = await importDriver<typeof import('@keyv/redis')>('@keyv/redis', 'redis');
    // No keyv connectionTimeout: keyv races it against the connect with a timer it never clears,
    // which kept every command alive 5 s after its output. node-redis's own connectTimeout
    // (redisClientOptions) bounds the connect instead.
    const adapter = new KeyvRedis(redisClientOptions(uri), {
      throwOnConnectError: true,
      // An index that cannot answer must fail the run, not pass for empty.
      throwOnErrors: true,
    });
    // keyv reports why the connect failed as an event and then throws a sentence about its own
    // option; the message names the cause instead.
    let cause: unknown;
    adapter.on('error', (error: unknown) => {
      cause ??= error;
    });
    await reachable(uri, async () => {
      await adapter.getClient().catch((error: unknown) => {
        throw cause ?? error;
      });
    });
    return keyvIndexStore(await keyvOver(adapter));
  },
  async moveAside(uri) {
    // Keys are the index; a rebuild overwrites every entry it restores and leaves the rest.
    void uri;
    return [];
  },
  isDamaged: () => false,
  async leases(uri, _cacheDir, staleMs) {
    const { createClient } = await importDriver<typeof import('@redis/client')>('@redis/client', 'redis');
    const { RedisLeases } = await import('./lease-redis.ts');
    const client = createClient(redisClientOptions(uri));
    client.on('error', () => undefined);
    await reachable(uri, () => client.connect());
    // biome-ignore lint/plugin: createClient's generic client type is wider than the plain one the leases use
    return namingLeases(new RedisLeases(client as unknown as import('@redis/client').RedisClientType, staleMs), uri);
  },
};

/** Lease errors that name the server, as the index's do (run-index.ts). */
function namingLeases(leases: LeaseStore, uri: URL): LeaseStore {
  const rethrow = (error: unknown): never => {
    throw new LineaError(`the leases at ${redact(uri)} failed: ${errorMessage(error)}`, 'store');
  };
  const held = (lease: HeldLease): HeldLease => ({
    key: lease.key,
    stillHeld: () => lease.stillHeld().catch(rethrow),
    recordJob: (job) => lease.recordJob(job).catch(rethrow),
    release: () => lease.release(),
  });
  return {
    tryAcquire: async (key) => {
      const acquired = await leases.tryAcquire(key).catch(rethrow);
      return acquired.ok ? { ...acquired, lease: held(acquired.lease) } : acquired;
    },
    heldByLiveProcess: (key) => leases.heldByLiveProcess(key).catch(rethrow),
    holder: (key) => leases.holder(key).catch(rethrow),
    ...(leases.sweep ? { sweep: (keep) => leases.sweep!(keep).catch(rethrow) } : {}),
    releaseAll: () => leases.releaseAll(),
    close: () => leases.close(),
  };
}

/** node-redis options that fail commands at once while disconnected instead of queueing them forever. */
function redisClientOptions(uri: URL) {
  return {
    url: uri.href,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: (retries: number) => (retries > 5 ? new Error(`lost the connection to ${redact(uri)}`) : 200),
    },
  };
}

/** Run a first request, turning a refused or timed-out connection into an error that names the index. */
async function reachable(uri: URL, probe: () => Promise<unknown>): Promise<void> {
  try {
    await probe();
  } catch (error) {
    throw new LineaError(
      `cannot reach the run index at ${redact(uri)} (${errorMessage(error)}); start the server or choose another --index (or $LINEA_INDEX)`,
      'store',
    );
  }
}

/**
 * The default: a directory of files in the cache (index-store.ts). Pure JavaScript (nothing to
 * build at install), as safe as the store under concurrent runs, and quick: a lookup reads one
 * small file.
 */
const files: IndexBackend = {
  schemes: ['file'],
  async open(uri) {
    return new DirectoryIndexStore(fileURLToPath(uri));
  },
  async moveAside(uri) {
    return new DirectoryIndexStore(fileURLToPath(uri)).moveAside();
  },
  // An unreadable entry is a miss, never an error: there is nothing to call damaged.
  isDamaged: () => false,
  leases: fileLeases,
};

/** keyv over a store adapter, its errors thrown to the caller (an index that cannot answer is not an empty one). */
async function keyvOver(adapter: KeyvStoreAdapter): Promise<Keyv> {
  const { default: KeyvClass } = await importDriver<typeof import('keyv')>('keyv', 'keyv-based');
  const kv = new KeyvClass({ store: adapter, namespace: 'linea', throwOnErrors: true });
  kv.on('error', () => undefined);
  return kv;
}

const BACKENDS: readonly IndexBackend[] = [files, sqlite, postgres, redis];

/**
 * The index URI for a cache directory: `--index` (or $LINEA_INDEX) when given, else a directory of
 * files in the cache (`files`); `sqlite` alone means the sqlite file in the cache.
 */
export function indexUri(cacheDir: string, chosen?: string): URL {
  const given = chosen ?? process.env.LINEA_INDEX;
  if (!given || given === 'files') return pathToFileURL(resolve(cacheDir, 'index'));
  if (given === 'sqlite') return new URL(`sqlite://${pathToFileURL(resolve(cacheDir, 'index.sqlite')).pathname}`);
  let uri: URL;
  try {
    uri = new URL(given);
  } catch {
    throw new LineaError(`--index ${given}: not a URI; use files, sqlite, ${exampleUris()}`, 'usage');
  }
  backendFor(uri);
  return uri;
}

export function backendFor(uri: URL): IndexBackend {
  const scheme = uri.protocol.replace(/:$/, '');
  const backend = BACKENDS.find((b) => b.schemes.includes(scheme));
  if (!backend)
    throw new LineaError(
      `--index ${redact(uri)}: no index backend for '${scheme}:'; use files, sqlite, ${exampleUris()}`,
      'usage',
    );
  return backend;
}

/** Is this error one of the backends saying the index's data is damaged? */
export function isDamagedIndex(error: unknown): boolean {
  return BACKENDS.some((b) => b.isDamaged(error));
}

/** The URI with any password masked, for messages and logs. */
export function redact(uri: URL): string {
  if (!uri.password) return uri.href;
  const copy = new URL(uri.href);
  copy.password = '***';
  return copy.href;
}

function exampleUris(): string {
  // files and sqlite are named by their short forms; the servers by their URI schemes.
  return BACKENDS.flatMap((b) => b.schemes.filter((s) => s !== 'sqlite' && s !== 'file').map((s) => `${s}://…`)).join(
    ', ',
  );
}

/** A backend's driver, loaded only when that backend is chosen, with a clear message when it is missing. */
async function importDriver<T>(name: string, backend: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new LineaError(
      `the ${backend} run index needs the package ${name}, which cannot be loaded (${errorMessage(error)}); install it (npm install ${name})${backend === 'sqlite' ? ', or build its native binding if it was installed with --ignore-scripts (npm rebuild sqlite3)' : ''}, or choose another --index`,
      'config',
    );
  }
}
