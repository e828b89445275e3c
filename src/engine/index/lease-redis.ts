/**
 * Leases in Redis, for drivers on several hosts sharing a Redis run index. keyv cannot hold a
 * lease (it has no set-if-absent), so this speaks to Redis directly: `SET key holder NX PX ttl`
 * takes a lease, and renewing, recording a job and releasing are small Lua scripts that first
 * check the lease still names this holder (its nonce), so nobody renews or deletes a lease
 * someone else has taken over. A holder that stops renewing (dead, hung, cut off) loses the lease
 * when its TTL runs out; one dead on this host is taken over at once.
 */
import type { RedisClientType } from '@redis/client';
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

const OWNED = `local v = redis.call('GET', KEYS[1]); if not v then return 0 end; if cjson.decode(v).nonce ~= ARGV[1] then return 0 end;`;
const RENEW = `${OWNED} return redis.call('PEXPIRE', KEYS[1], ARGV[2])`;
const RECORD = `${OWNED} redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL'); return 1`;
const RELEASE = `${OWNED} return redis.call('DEL', KEYS[1])`;
/** Delete a lease only if it is still the (dead) one that was read. */
const BREAK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end; return 0`;

export class RedisLeases implements LeaseStore {
  private readonly held = new Set<HeldLease>();

  constructor(
    private readonly client: RedisClientType,
    /** A holder that has not renewed for this long has lost its lease. */
    readonly ttlMs: number,
    private readonly prefix = 'linea:lease:',
  ) {}

  async tryAcquire(key: CacheKey): Promise<Acquired> {
    const name = this.prefix + key;
    let inherited: LeaseHolder | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const holder: LeaseHolder = { ...thisHolder(), nonce: newNonce(), acquiredAt: new Date().toISOString() };
      const text = JSON.stringify(holder);
      if (
        (await this.client.set(name, text, { condition: 'NX', expiration: { type: 'PX', value: this.ttlMs } })) === 'OK'
      ) {
        const lease = new RedisLease(this.held, this.client, key, name, holder, this.ttlMs);
        return { ok: true, lease, ...(inherited ? { inherited } : {}) };
      }
      const current = await this.client.get(name);
      if (current === null) continue;
      const other = parseHolder(current);
      if (other && !deadOnThisHost(other)) return { ok: false, holder: other };
      // Dead on this host, or not a lease at all: remove exactly what was read, then try again.
      if (other) inherited = other;
      await this.client.eval(BREAK, { keys: [name], arguments: [current] });
    }
    return { ok: false, holder: { host: 'unknown', pid: 0, nonce: 'busy', acquiredAt: '' } };
  }

  async heldByLiveProcess(key: CacheKey): Promise<boolean> {
    return (await this.holder(key)) !== undefined;
  }

  async holder(key: CacheKey): Promise<LeaseHolder | undefined> {
    const current = await this.client.get(this.prefix + key);
    const holder = current === null ? undefined : parseHolder(current);
    return holder && !deadOnThisHost(holder) ? holder : undefined;
  }

  releaseAll(): Promise<void> {
    return releaseEach(this.held);
  }

  async close(): Promise<void> {
    await this.releaseAll().catch(() => undefined);
    await this.client.quit().catch(() => undefined);
  }
}

class RedisLease extends ServerLease {
  constructor(
    held: Set<HeldLease>,
    private readonly client: RedisClientType,
    key: CacheKey,
    private readonly name: string,
    holding: LeaseHolder,
    ttlMs: number,
  ) {
    super(held, key, holding, ttlMs);
  }

  protected async renew(ttlMs: number): Promise<void> {
    await this.client.eval(RENEW, { keys: [this.name], arguments: [this.holding.nonce, String(ttlMs)] });
  }

  protected async remove(): Promise<void> {
    await this.client.eval(RELEASE, { keys: [this.name], arguments: [this.holding.nonce] });
  }

  async stillHeld(): Promise<boolean> {
    const current = await this.client.get(this.name);
    return current !== null && parseHolder(current)?.nonce === this.holding.nonce;
  }

  async recordJob(job: NonNullable<LeaseHolder['job']>): Promise<void> {
    const next = { ...this.holding, job };
    if (await this.client.eval(RECORD, { keys: [this.name], arguments: [this.holding.nonce, JSON.stringify(next)] })) {
      this.holding = next;
    }
  }
}

function parseHolder(text: string): LeaseHolder | undefined {
  try {
    const holder = JSON.parse(text) as LeaseHolder;
    return typeof holder?.nonce === 'string' && typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined;
  }
}
