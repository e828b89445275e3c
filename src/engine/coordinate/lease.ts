/**
 * Per-key leases: whoever holds the lease of a cache key computes it; everyone else waits for
 * its result or does other work. There is no global lock. A lease is a file created with O_EXCL
 * naming its holder (host, pid, process start time) and refreshed by a heartbeat. It is dead when
 * its holder is: on the same host that is checked directly (so `kill -9` frees it at once), and
 * on any host when the heartbeat is older than the stale timeout (a live linea holder's heartbeat
 * thread keeps it moving, so a stale one is a hung holder or a pid that now names another
 * process). Every wait on a lease therefore ends.
 */
import { randomBytes } from 'node:crypto';
import { entriesOf } from '../core/folder.ts';
import { uniqueSuffix } from '../core/unique.ts';
import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineaError } from '../core/errors.ts';
import { startHeartbeat } from './heartbeat.ts';
import type { CacheKey } from '../core/json.ts';
import { hostName, processAlive, processStartTime } from '../core/process.ts';

export interface LeaseHolder {
  readonly host: string;
  readonly pid: number;
  readonly startTime?: string;
  readonly nonce: string;
  readonly acquiredAt: string;
  /** A cluster job computing the key for this holder: a later driver may adopt it if the holder dies. */
  readonly job?: { readonly executor: string; readonly id: string; readonly dir: string };
}

/** How a lease's job is named to a person: `slurm job 123`, or by its directory while its id is unknown. */
export function jobLabel(job: NonNullable<LeaseHolder['job']>): string {
  return `${job.executor} job ${job.id || `in ${job.dir}`}`;
}

/**
 * `inherited`: the dead holder whose lease was broken to take this one (its job, if it recorded
 * one, may still be running and can be adopted).
 */
export type Acquired = { ok: true; lease: HeldLease; inherited?: LeaseHolder } | { ok: false; holder: LeaseHolder };

/**
 * Per-key leases, whatever holds them (files in the cache today; a shared server across hosts).
 * The scheduler only sees this.
 */
export interface LeaseStore {
  tryAcquire(key: CacheKey): Promise<Acquired>;
  /** Whether a live process holds this key's lease now. */
  heldByLiveProcess(key: CacheKey): Promise<boolean>;
  /** The live holder of a key's lease, if any (for status: "running (slurm job 123)"). */
  holder(key: CacheKey): Promise<LeaseHolder | undefined>;
  /** Release every lease this process holds (on exit or interrupt). */
  releaseAll(): Promise<void>;
  /**
   * Remove leases whose holders are dead, with what their kills left half-written; returns how
   * many. A process killed between committing a key and releasing its lease leaves one for a key
   * that no run will ask for again. `keep` spares a dead holder's lease the caller still needs:
   * one naming a cluster job that may still be computing its key, for the next run to adopt.
   * Stores whose leases expire by themselves need not have it.
   */
  sweep?(keep: (key: CacheKey, holder: LeaseHolder) => Promise<boolean>): Promise<number>;
  /** Release everything and close any connection. */
  close(): Promise<void>;
}

/** This process as a lease holder (without the per-lease nonce and time). */
export function thisHolder(): Omit<LeaseHolder, 'nonce' | 'acquiredAt'> {
  const startTime = processStartTime(process.pid);
  return { host: hostName(), pid: process.pid, ...(startTime ? { startTime } : {}) };
}

/**
 * A holder on this host whose process is gone (or whose pid was reused by another process): its
 * lease is free at once, without waiting for it to go stale. Holders on other hosts are judged by
 * their heartbeat or expiry only.
 */
export function deadOnThisHost(holder: LeaseHolder): boolean {
  if (holder.host !== hostName()) return false;
  if (!processAlive(holder.pid)) return true;
  const start = processStartTime(holder.pid);
  return Boolean(start && holder.startTime && start !== holder.startTime);
}

export const newNonce = () => randomBytes(8).toString('hex');

/** A lease this process holds. */
export interface HeldLease {
  readonly key: CacheKey;
  /** Whether the lease still names us (a lease thought dead may have been broken and retaken). */
  stillHeld(): Promise<boolean>;
  /** Record the job computing the key, so that a later driver can adopt it. */
  recordJob(job: NonNullable<LeaseHolder['job']>): Promise<void>;
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** A remote holder whose heartbeat is older than this is presumed dead. */
  staleMs?: number;
  /** Where warnings go (a damaged lease file); one line each. Default: stderr. */
  warn?: (message: string) => void;
}

/** What a lease file holds: nothing, a holder, or something that is not a lease (damage). */
type LeaseFile =
  | { readonly state: 'missing' }
  | { readonly state: 'held'; readonly holder: LeaseHolder; readonly heartbeatMs: number }
  | { readonly state: 'damaged'; readonly text: string }
  /** Something at the lease's path that is not a file (a directory, say), which no rename can replace. */
  | { readonly state: 'blocked'; readonly problem: string };

/** A holder standing for a lease that could not be read, so callers wait and retry rather than spin. */
const UNREADABLE: LeaseHolder = { host: 'unknown', pid: 0, nonce: 'unreadable', acquiredAt: '' };

export class Leases implements LeaseStore {
  readonly staleMs: number;
  private readonly warn: (message: string) => void;
  private readonly held = new Set<Lease>();
  private ready: Promise<void> | undefined;
  private readonly me: Omit<LeaseHolder, 'nonce' | 'acquiredAt'>;

  constructor(
    private readonly dir: string,
    options: LeaseOptions = {},
  ) {
    this.staleMs = options.staleMs ?? Number(process.env.LINEA_LEASE_STALE_MS ?? 60_000);
    this.warn = options.warn ?? ((message) => process.stderr.write(`linea: ${message}\n`));
    const startTime = processStartTime(process.pid);
    this.me = { host: hostName(), pid: process.pid, ...(startTime ? { startTime } : {}) };
  }

  private path(key: CacheKey): string {
    return join(this.dir, `${key}.lease`);
  }

  /**
   * Take the key's lease, or say who holds it. Bounded: a few attempts, then the caller is told
   * the key is held (by an unreadable holder if need be) and waits its poll interval, where it
   * also notices an interrupt. A lease file that is not a lease (empty or truncated JSON after a
   * power loss: valid ones are linked into place complete) is removed at once, with a warning.
   */
  async tryAcquire(key: CacheKey): Promise<Acquired> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.ready;
    const path = this.path(key);
    let last: LeaseHolder = UNREADABLE;
    let inherited: LeaseHolder | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const holder: LeaseHolder = {
        ...this.me,
        nonce: uniqueSuffix(),
        acquiredAt: new Date().toISOString(),
      };
      if (await createExclusive(path, JSON.stringify(holder))) {
        const lease = new Lease(this, key, path, holder, Math.max(250, this.staleMs / 4));
        this.held.add(lease);
        return { ok: true, lease, ...(inherited ? { inherited } : {}) };
      }
      const current = await readLease(path);
      if (current.state === 'missing') continue; // released between our attempt and the read: try again
      if (current.state === 'blocked') {
        // An empty directory is no one's lease: remove it. Anything else is not ours to delete.
        if (
          await rmdir(path).then(
            () => true,
            () => false,
          )
        ) {
          this.warn(`lease path ${path} was an empty directory, not a lease; removed it`);
          continue;
        }
        throw new LineaError(
          `the lease path ${path} is not a lease file (${current.problem}); remove it (rm -r '${path}') and run again`,
          'store',
        );
      }
      if (current.state === 'damaged') {
        this.warn(
          `lease file ${path} is damaged (${current.text.length ? 'not a lease' : 'empty'}); treating it as stale and removing it`,
        );
        await this.breakLease(path, (file) => file.state === 'damaged' && file.text === current.text);
        continue;
      }
      last = current.holder;
      if (!(await this.isDead(current.holder, current.heartbeatMs))) return { ok: false, holder: current.holder };
      inherited = current.holder;
      await this.breakLease(path, (file) => file.state === 'held' && file.holder.nonce === current.holder.nonce);
    }
    return { ok: false, holder: last };
  }

  /** Whether a live process holds this key's lease now (a dead holder's or a damaged lease is no one's). */
  async heldByLiveProcess(key: CacheKey): Promise<boolean> {
    return (await this.holder(key)) !== undefined;
  }

  async holder(key: CacheKey): Promise<LeaseHolder | undefined> {
    const current = await readLease(this.path(key));
    return current.state === 'held' && !(await this.isDead(current.holder, current.heartbeatMs))
      ? current.holder
      : undefined;
  }

  async isDead(holder: LeaseHolder, heartbeatMs: number): Promise<boolean> {
    if (holder.host === this.me.host && deadOnThisHost(holder)) return true;
    return Date.now() - heartbeatMs > this.staleMs;
  }

  /**
   * Remove a dead holder's (or a damaged) lease. Two processes may find the same dead lease at
   * once; a short break lock makes sure only one of them removes it, and `stillDead` (the nonce,
   * or the same damaged bytes) makes sure the one removed is not a fresh lease taken in between.
   */
  private async breakLease(path: string, stillDead: (file: LeaseFile) => boolean): Promise<void> {
    const breakPath = `${path}.break`;
    if (
      !(await createExclusive(
        breakPath,
        JSON.stringify({ ...this.me, nonce: 'break', acquiredAt: new Date().toISOString() }),
      ))
    ) {
      const other = await readLease(breakPath);
      // A breaker that died mid-break (or a remote one that is too old) leaves its lock behind;
      // a damaged break lock is removed too.
      if (other.state === 'damaged' || (other.state === 'held' && (await this.isDead(other.holder, other.heartbeatMs))))
        await unlink(breakPath).catch(() => undefined);
      return;
    }
    try {
      if (stillDead(await readLease(path))) await unlink(path).catch(() => undefined);
    } finally {
      await unlink(breakPath).catch(() => undefined);
    }
  }

  /** Release every lease this process holds (on exit or interrupt). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.held].map((lease) => lease.release()));
  }

  async sweep(keep: (key: CacheKey, holder: LeaseHolder) => Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const name of entriesOf(this.dir)) {
      const path = join(this.dir, name);
      if (name.endsWith('.lease')) {
        const current = await readLease(path);
        // A damaged lease is left to tryAcquire, which says so when the key is next wanted.
        if (current.state !== 'held' || !(await this.isDead(current.holder, current.heartbeatMs))) continue;
        if (await keep(name.slice(0, -'.lease'.length) as CacheKey, current.holder)) continue;
        await this.breakLease(path, (file) => file.state === 'held' && file.holder.nonce === current.holder.nonce);
        if ((await readLease(path)).state === 'missing') removed++;
      } else if (name.endsWith('.tmp') || name.endsWith('.break')) {
        // A half-made lease or a break lock lives for a moment; one older than the stale timeout
        // was left by a kill. Their names carry no host, so age is the only safe test on a shared store.
        const age = Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
        if (age > this.staleMs) {
          await unlink(path).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }

  close(): Promise<void> {
    return this.releaseAll();
  }

  /** @internal */
  forget(lease: Lease): void {
    this.held.delete(lease);
  }
}

export class Lease implements HeldLease {
  private readonly stopHeartbeat: () => void;
  private released = false;

  constructor(
    private readonly owner: Leases,
    readonly key: CacheKey,
    private readonly path: string,
    private holding: LeaseHolder,
    heartbeatMs: number,
  ) {
    // Beats from its own thread, so a stage busy in a long synchronous step keeps its lease.
    this.stopHeartbeat = startHeartbeat(this.path, heartbeatMs);
  }

  /** Whether the lease file still names us (a remote process may have broken a lease it thought dead). */
  async stillHeld(): Promise<boolean> {
    const current = await readLease(this.path);
    return current.state === 'held' && current.holder.nonce === this.holding.nonce;
  }

  async recordJob(job: NonNullable<LeaseHolder['job']>): Promise<void> {
    if (!(await this.stillHeld())) return;
    this.holding = { ...this.holding, job };
    // Written whole beside the lease and renamed over it: a reader sees the old or the new holder.
    const tmp = `${this.path}.${process.pid}-${uniqueSuffix()}.tmp`;
    await writeFile(tmp, JSON.stringify(this.holding));
    await rename(tmp, this.path);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopHeartbeat();
    this.owner.forget(this);
    if (await this.stillHeld()) {
      try {
        unlinkSync(this.path);
      } catch {
        // broken by another process meanwhile
      }
    }
  }
}

/**
 * Create `path` with `content` only if it does not exist, atomically: the content is written to
 * a private file first and hard-linked into place, so no reader ever sees an empty lease, even
 * if we are killed half-way.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  // Synchronous, as readLease: a few small local calls per stage, where thread-pool round trips
  // cost more than the calls themselves.
  const tmp = `${path}.${process.pid}-${uniqueSuffix()}.tmp`;
  writeFileSync(tmp, content);
  try {
    linkSync(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

async function readLease(path: string): Promise<LeaseFile> {
  let text: string;
  let heartbeatMs: number;
  try {
    text = readFileSync(path, 'utf8');
    heartbeatMs = statSync(path).mtimeMs;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing' };
    if (code === 'EISDIR') return { state: 'blocked', problem: 'a directory' };
    if (code === 'EACCES' || code === 'EPERM') return { state: 'blocked', problem: 'not readable by this user' };
    return { state: 'damaged', text: '' };
  }
  try {
    const holder = JSON.parse(text) as LeaseHolder;
    if (
      holder &&
      typeof holder === 'object' &&
      typeof holder.nonce === 'string' &&
      typeof holder.pid === 'number' &&
      typeof holder.host === 'string'
    )
      return { state: 'held', holder, heartbeatMs };
  } catch {
    // not JSON: damaged
  }
  return { state: 'damaged', text };
}

/**
 * A lease kept in a server (lease-redis.ts, lease-postgres.ts): renewed by a timer on this thread
 * (a driver that hands its stages to other processes keeps its event loop free; an in-process
 * stage gives it turns through ctx.progress), released once, and tracked in its store's set of
 * held leases so that closing the store releases it. Subclasses say how to renew and remove it.
 */
export abstract class ServerLease implements HeldLease {
  private readonly timer: NodeJS.Timeout;
  private released = false;

  constructor(
    private readonly held: Set<HeldLease>,
    readonly key: CacheKey,
    protected holding: LeaseHolder,
    ttlMs: number,
  ) {
    held.add(this);
    this.timer = setInterval(() => void this.renew(ttlMs).catch(() => undefined), Math.max(250, ttlMs / 4));
    this.timer.unref();
  }

  /** Push the expiry out by `ttlMs`, if the lease still carries this holder's nonce. */
  protected abstract renew(ttlMs: number): Promise<void>;
  /** Delete the lease, if it still carries this holder's nonce. */
  protected abstract remove(): Promise<void>;
  abstract stillHeld(): Promise<boolean>;
  abstract recordJob(job: NonNullable<LeaseHolder['job']>): Promise<void>;

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    this.held.delete(this);
    await this.remove().catch(() => undefined);
  }
}

/** Release every lease in a store's set (what releaseAll does for the server stores). */
export async function releaseEach(held: ReadonlySet<HeldLease>): Promise<void> {
  await Promise.all([...held].map((lease) => lease.release()));
}
