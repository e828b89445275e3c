/**
 * Leases in Postgres, for drivers on several hosts sharing a Postgres run index: a table of
 * (key, holder, nonce, expiry). A lease is taken by inserting its row, or by replacing a row
 * that has expired or whose holder is dead on this host, in one transaction that locks the row;
 * renewing, recording a job and releasing update only the row that still carries this holder's
 * nonce. Unlike advisory locks this survives pooled connections, and a hung holder loses its
 * lease when its expiry passes (advisory locks stay held until the server drops the connection).
 * Every query outlasts a server restart of a few seconds (postgres.ts, withReconnect); a
 * transaction that lost its connection is retried whole, since it did not commit.
 */
import type pg from 'pg';
import type { CacheKey } from '../core/json.ts';
import {
  type Acquired,
  deadOnThisHost,
  type HeldLease,
  type LeaseHolder,
  type LeaseStore,
  newNonce,
  releaseEach,
  ServerLease,
  thisHolder,
} from '../coordinate/lease.ts';
import { withReconnect } from './postgres.ts';

const TABLE = 'linea_leases';

export class PostgresLeases implements LeaseStore {
  private readonly held = new Set<HeldLease>();
  private ready: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    readonly ttlMs: number,
  ) {}

  private init(): Promise<void> {
    this.ready ??= withReconnect(() =>
      this.pool.query(
        `CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, holder JSONB NOT NULL, nonce TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)`,
      ),
    )
      .then(() => undefined)
      .catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    return this.ready ?? Promise.resolve();
  }

  async tryAcquire(key: CacheKey): Promise<Acquired> {
    await this.init();
    return withReconnect(async () => {
      for (;;) {
        const acquired = await this.acquireOnce(key);
        if (acquired) return acquired;
      }
    });
  }

  /** One try; undefined when the key's row went between this transaction's insert and its select. */
  private async acquireOnce(key: CacheKey): Promise<Acquired | undefined> {
    const holder: LeaseHolder = { ...thisHolder(), nonce: newNonce(), acquiredAt: new Date().toISOString() };
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two drivers inserting the same new key at once: one waits on the other's row, then sees it.
      await client.query(`INSERT INTO ${TABLE} VALUES ($1, $2, '', '-infinity') ON CONFLICT (key) DO NOTHING`, [
        key,
        JSON.stringify({ host: '', pid: 0, nonce: '', acquiredAt: '' }),
      ]);
      const { rows } = await client.query<{ holder: LeaseHolder; expired: boolean }>(
        `SELECT holder, expires_at < now() AS expired FROM ${TABLE} WHERE key = $1 FOR UPDATE`,
        [key],
      );
      const current = rows[0];
      if (!current) {
        // The row this transaction found on insert was released (deleted) before the select
        // locked it: READ COMMITTED sees that. Try again; the next insert makes the row.
        await client.query('COMMIT');
        return undefined;
      }
      const free = current.expired || deadOnThisHost(current.holder);
      if (!free) {
        await client.query('COMMIT');
        return { ok: false, holder: current.holder };
      }
      await client.query(
        `UPDATE ${TABLE} SET holder = $2, nonce = $3, expires_at = now() + ($4 || ' milliseconds')::interval WHERE key = $1`,
        [key, JSON.stringify(holder), holder.nonce, String(this.ttlMs)],
      );
      await client.query('COMMIT');
      const lease = new PostgresLease(this.held, this.pool, key, holder, this.ttlMs);
      const inherited = current.holder.nonce ? current.holder : undefined;
      return { ok: true, lease, ...(inherited ? { inherited } : {}) };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async heldByLiveProcess(key: CacheKey): Promise<boolean> {
    return (await this.holder(key)) !== undefined;
  }

  async holder(key: CacheKey): Promise<LeaseHolder | undefined> {
    await this.init();
    const { rows } = await withReconnect(() =>
      this.pool.query<{ holder: LeaseHolder }>(`SELECT holder FROM ${TABLE} WHERE key = $1 AND expires_at > now()`, [
        key,
      ]),
    );
    const holder = rows[0]?.holder;
    return holder && !deadOnThisHost(holder) ? holder : undefined;
  }

  releaseAll(): Promise<void> {
    return releaseEach(this.held);
  }

  /**
   * Rows that expired (their holders are gone) are deleted as gc runs, except those `keep` spares
   * (a dead driver's lease naming a cluster job that may still compute its key). Without this the
   * table grows by a row per key ever computed.
   */
  async sweep(keep: (key: CacheKey, holder: LeaseHolder) => Promise<boolean>): Promise<number> {
    await this.init();
    const { rows } = await withReconnect(() =>
      this.pool.query<{ key: CacheKey; holder: LeaseHolder; nonce: string }>(
        `SELECT key, holder, nonce FROM ${TABLE} WHERE expires_at < now()`,
      ),
    );
    let removed = 0;
    for (const row of rows) {
      if (row.holder.nonce && (await keep(row.key, row.holder))) continue;
      const deleted = await withReconnect(() =>
        this.pool.query(`DELETE FROM ${TABLE} WHERE key = $1 AND nonce = $2 AND expires_at < now()`, [
          row.key,
          row.nonce,
        ]),
      );
      removed += deleted.rowCount ?? 0;
    }
    return removed;
  }

  /** Release every lease, then end the pool (this store owns it). */
  async close(): Promise<void> {
    await this.releaseAll().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

class PostgresLease extends ServerLease {
  constructor(
    held: Set<HeldLease>,
    private readonly pool: pg.Pool,
    key: CacheKey,
    holding: LeaseHolder,
    ttlMs: number,
  ) {
    super(held, key, holding, ttlMs);
  }

  /** One statement, retried while the server comes back. */
  private query(sql: string, values: unknown[]) {
    return withReconnect(() => this.pool.query(sql, values));
  }

  protected async renew(ttlMs: number): Promise<void> {
    await this.query(
      `UPDATE ${TABLE} SET expires_at = now() + ($3 || ' milliseconds')::interval WHERE key = $1 AND nonce = $2`,
      [this.key, this.holding.nonce, String(ttlMs)],
    );
  }

  protected async remove(): Promise<void> {
    await this.query(`DELETE FROM ${TABLE} WHERE key = $1 AND nonce = $2`, [this.key, this.holding.nonce]);
  }

  async stillHeld(): Promise<boolean> {
    const { rows } = await this.query(`SELECT 1 FROM ${TABLE} WHERE key = $1 AND nonce = $2`, [
      this.key,
      this.holding.nonce,
    ]);
    return rows.length === 1;
  }

  async recordJob(job: NonNullable<LeaseHolder['job']>): Promise<void> {
    const next = { ...this.holding, job };
    await this.query(`UPDATE ${TABLE} SET holder = $3 WHERE key = $1 AND nonce = $2`, [
      this.key,
      this.holding.nonce,
      JSON.stringify(next),
    ]);
    this.holding = next;
  }
}
