/**
 * Postgres for the run index and the leases: a connection pool linea owns, and queries that
 * outlast a server restart. A pool the driver keeps to itself (as `@keyv/postgres` did) emits
 * 'error' when the server drops an idle connection (`pg_ctl stop`, a failover), and an 'error'
 * event nobody listens to kills the process with a stack dump; here every pool has a listener, a
 * query that meets a dropped or refused connection is retried while the server comes back (for
 * RECONNECT_WINDOW_MS), and only then fails, as an error the caller names the index in.
 */
import { EventEmitter } from 'node:events';
import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type pg from 'pg';

/** How long a query keeps retrying a server that went away: a restart takes about a second. */
export const RECONNECT_WINDOW_MS = Number(process.env.LINEA_RECONNECT_WINDOW_MS ?? 10_000);
const RETRY_EVERY_MS = 250;

/** SQLSTATE classes and socket errors that mean "the server is (re)starting or gone", not "the query is wrong". */
const CONNECTION_CODES = new Set([
  '57P01', // admin_shutdown: pg_ctl stop -m fast
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '08000',
  '08001',
  '08003',
  '08006',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
]);

export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  // pg-pool's own wording when no connection came within connectionTimeoutMillis (a driver whose
  // event loop a local stage held, on a loaded machine): a reason to try again, as a refused one is.
  return (
    typeof message === 'string' &&
    /Connection terminated|connection timeout|not queryable|timeout exceeded when trying to connect/i.test(message)
  );
}

/**
 * Tries a failing query gets whatever the clock says. A driver whose event loop a local stage held
 * for longer than the window (or than the connect timeout, whose timer then fires at once) would
 * otherwise fail a query it never really retried: the Slurm bench lost a run's first leases so.
 */
const MIN_ATTEMPTS = 3;

/**
 * Run `attempt`, again while it fails for want of a connection, until `windowMs` has passed and
 * it has been tried MIN_ATTEMPTS times.
 */
export async function withReconnect<T>(attempt: () => Promise<T>, windowMs = RECONNECT_WINDOW_MS): Promise<T> {
  const deadline = Date.now() + windowMs;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const timeLeft = Date.now() + RETRY_EVERY_MS <= deadline;
      if (!isConnectionError(error) || (!timeLeft && tries >= MIN_ATTEMPTS)) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
    }
  }
}

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

/** A pool whose dropped idle connections are forgotten (the next query opens a new one) instead of crashing the process. */
export function openPool(driver: typeof pg, uri: URL, options: PoolOptions): pg.Pool {
  const pool = new driver.Pool({
    connectionString: uri.href,
    max: 4,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.queryTimeoutMs,
  });
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A keyv store adapter over that pool: keyv keeps doing what it did for the index (namespacing
 * keys, serialising values), so the table's rows are those `@keyv/postgres` wrote and an index
 * written before reads the same. Keys are up to 2,048 characters (a project's identity is its
 * name and root path, longer than keyv's default 255).
 */
export class PostgresKeyvStore extends EventEmitter implements KeyvStoreAdapter {
  /** keyv lists the entries of adapters whose dialect it knows to be iterable. */
  readonly opts: { dialect: 'postgres'; url: string };
  namespace?: string;
  private ready?: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    uri: URL,
    private readonly table = 'linea_index',
  ) {
    super();
    this.opts = { dialect: 'postgres', url: uri.href };
  }

  private async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    this.ready ??= withReconnect(() =>
      this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.table} (key VARCHAR(2048) PRIMARY KEY, value TEXT)`),
    )
      .then(() => undefined)
      .catch((error: unknown) => {
        // A concurrent first run created it between the check and the insert: the table is there.
        if ((error as { code?: string }).code === '23505') return;
        this.ready = undefined;
        throw error;
      });
    await this.ready;
    return withReconnect(async () => (await this.pool.query<R>(sql, values)).rows);
  }

  /** The serialised entry as keyv wrote it (keyv parses it). */
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const rows = await this.query<{ value: string }>(`SELECT value FROM ${this.table} WHERE key = $1`, [key]);
    // keyv's adapter type says Value, but an adapter hands keyv the serialised text, which keyv parses
    return rows[0]?.value as StoredData<Value> | undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, value],
    );
  }

  async delete(key: string): Promise<boolean> {
    return (await this.query(`DELETE FROM ${this.table} WHERE key = $1 RETURNING key`, [key])).length > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.query(`SELECT 1 FROM ${this.table} WHERE key = $1`, [key])).length > 0;
  }

  async clear(): Promise<void> {
    await this.query(`DELETE FROM ${this.table} WHERE key LIKE $1`, [
      this.namespace ? `${likePrefix(this.namespace)}:%` : '%',
    ]);
  }

  /** Every entry of a namespace, 500 rows a page in key order. */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    const pattern = namespace ? `${likePrefix(namespace)}:%` : '%';
    let after = '';
    for (;;) {
      const rows = await this.query<{ key: string; value: string }>(
        `SELECT key, value FROM ${this.table} WHERE key LIKE $1 AND key > $2 ORDER BY key LIMIT 500`,
        [pattern, after],
      );
      for (const row of rows) yield [row.key, row.value];
      if (rows.length < 500) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  async disconnect(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

const likePrefix = (text: string) => text.replace(/[%_\\]/g, '\\$&');
