// Per-key leases: one holder at a time; a dead holder's lease is taken over at once on the same
// host; a remote holder's lease only once its heartbeat is older than the stale timeout.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CacheKey } from '../src/engine/core/json.ts';
import { Leases } from '../src/engine/coordinate/lease.ts';
import { freshProjects, type RunJson } from './helpers/project.ts';

const dir = mkdtempSync(join(tmpdir(), 'linea-leases-'));
mkdirSync(dir, { recursive: true });
const key = (name: string) => name.padEnd(64, '0') as CacheKey;

describe('leases', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a held key cannot be taken until it is released', async () => {
    const leases = new Leases(dir);
    const first = await leases.tryAcquire(key('a'));
    assert.ok(first.ok);
    const second = await new Leases(dir).tryAcquire(key('a'));
    assert.equal(second.ok, false);
    if (!second.ok) assert.equal(second.holder.pid, process.pid);
    await first.lease.release();
    const third = await new Leases(dir).tryAcquire(key('a'));
    assert.ok(third.ok);
    if (third.ok) await third.lease.release();
  });

  it('the lease of a dead process on this host is taken over at once', async () => {
    const { hostname } = await import('node:os');
    writeFileSync(
      join(dir, `${key('b')}.lease`),
      JSON.stringify({ host: hostname(), pid: 2 ** 22 + 12345, nonce: 'dead', acquiredAt: '' }),
    );
    const taken = await new Leases(dir).tryAcquire(key('b'));
    assert.ok(taken.ok, 'pid is not alive: lease broken');
    if (taken.ok) await taken.lease.release();
  });

  it('a live pid on this host whose heartbeat stopped is no holder once stale: the wait ends', async () => {
    // No start time to tell a reused pid from the holder, and an hour-old heartbeat: a live linea
    // holder's heartbeat thread would have touched it. Before, this was waited on forever.
    const path = join(dir, `${key('stuck')}.lease`);
    writeFileSync(path, JSON.stringify({ host: hostname(), pid: process.ppid, nonce: 'stuck', acquiredAt: '' }));
    const fresh = await new Leases(dir, { staleMs: 60_000 }).tryAcquire(key('stuck'));
    assert.equal(fresh.ok, false, 'a fresh heartbeat is respected');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path, hourAgo, hourAgo);
    const taken = await new Leases(dir, { staleMs: 60_000 }).tryAcquire(key('stuck'));
    assert.ok(taken.ok);
    if (taken.ok) await taken.lease.release();
  });

  it('a directory at a lease path: removed if empty, else an error naming it and how to clear it', async () => {
    const warnings: string[] = [];
    const leases = new Leases(dir, { warn: (line) => warnings.push(line) });
    mkdirSync(join(dir, `${key('empty-dir')}.lease`));
    const taken = await leases.tryAcquire(key('empty-dir'));
    assert.ok(taken.ok);
    if (taken.ok) await taken.lease.release();
    assert.equal(warnings.length, 1);
    const full = join(dir, `${key('full-dir')}.lease`);
    mkdirSync(full);
    writeFileSync(join(full, 'x'), '');
    await assert.rejects(leases.tryAcquire(key('full-dir')), (error: Error) => {
      assert.ok(error.message.includes(full) && /a directory.*rm -r/.test(error.message), error.message);
      return true;
    });
  });

  it('a remote lease is respected while its heartbeat is fresh and broken once stale', async () => {
    const path = join(dir, `${key('c')}.lease`);
    writeFileSync(path, JSON.stringify({ host: 'another-host', pid: 1, nonce: 'remote', acquiredAt: '' }));
    const fresh = await new Leases(dir, { staleMs: 60_000 }).tryAcquire(key('c'));
    assert.equal(fresh.ok, false);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    const stale = await new Leases(dir, { staleMs: 60_000 }).tryAcquire(key('c'));
    assert.ok(stale.ok);
    if (stale.ok) await stale.lease.release();
  });

  it('releasing a lease someone else broke does not delete theirs', async () => {
    const mine = await new Leases(dir).tryAcquire(key('d'));
    assert.ok(mine.ok);
    const path = join(dir, `${key('d')}.lease`);
    writeFileSync(path, JSON.stringify({ host: 'another-host', pid: 1, nonce: 'theirs', acquiredAt: '' }));
    if (mine.ok) {
      assert.equal(await mine.lease.stillHeld(), false);
      await mine.lease.release();
    }
    const again = await new Leases(dir).tryAcquire(key('d'));
    assert.equal(again.ok, false, 'their lease is still there');
  });

  it('a sweep removes dead holders’ leases and old debris, and keeps live, fresh and damaged ones', async () => {
    const sdir = mkdtempSync(join(tmpdir(), 'linea-sweep-'));
    try {
      const leases = new Leases(sdir, { staleMs: 60_000, warn: () => undefined });
      const mine = await leases.tryAcquire(key('live'));
      assert.ok(mine.ok);
      const plant = (name: string, text: string, ageMs = 0) => {
        const path = join(sdir, name);
        writeFileSync(path, text);
        const at = new Date(Date.now() - ageMs);
        utimesSync(path, at, at);
      };
      const holder = (host: string, pid: number) =>
        JSON.stringify({ host, pid, nonce: `${host}${pid}`, acquiredAt: '' });
      plant(`${key('dead')}.lease`, holder(hostname(), 2 ** 22 + 777));
      plant(`${key('remote-stale')}.lease`, holder('another-host', 1), 120_000);
      plant(`${key('remote-fresh')}.lease`, holder('another-host', 1));
      plant(`${key('damaged')}.lease`, '{"host":');
      plant(`${key('old')}.lease.4242-abcd.tmp`, holder(hostname(), 4242), 120_000);
      plant(`${key('new')}.lease.4243-abcd.tmp`, holder(hostname(), 4243));
      plant(`${key('old')}.lease.break`, holder(hostname(), 4244), 120_000);
      plant(`${key('spared')}.lease`, holder(hostname(), 2 ** 22 + 778));

      const asked: string[] = [];
      const keep = async (k: CacheKey) => {
        asked.push(k);
        return k === key('spared');
      };
      assert.equal(await leases.sweep(keep), 4);
      assert.deepEqual(asked.sort(), [key('dead'), key('remote-stale'), key('spared')], 'asked of dead holders only');
      assert.deepEqual(readdirSync(sdir).sort(), [
        `${key('damaged')}.lease`,
        `${key('live')}.lease`,
        `${key('new')}.lease.4243-abcd.tmp`,
        `${key('remote-fresh')}.lease`,
        `${key('spared')}.lease`,
      ]);
      if (mine.ok) assert.equal(await mine.lease.stillHeld(), true, 'the sweeper’s own lease is untouched');
      await leases.releaseAll();
    } finally {
      rmSync(sdir, { recursive: true, force: true });
    }
  });
});

describe('leases left by a killed run', () => {
  const fresh = freshProjects();

  it('are swept by the next run, even for keys it finds cached', async () => {
    const project = fresh();
    const first = await project.json<RunJson>(['run']);
    // A run killed between committing a key and releasing its lease leaves this behind; the key is
    // cached, so no later run would ever try to take that lease.
    const committed = first.stages.find((s) => s.id === 'source')!.key;
    const lease = join(project.cacheDir, 'leases', `${committed}.lease`);
    writeFileSync(lease, JSON.stringify({ host: hostname(), pid: 2 ** 22 + 4321, nonce: 'killed', acquiredAt: '' }));
    const second = await project.json<RunJson>(['run']);
    assert.ok(second.stages.every((s) => s.status === 'cached'));
    assert.equal(existsSync(lease), false, 'the dead lease is gone');
  });
});

// The heartbeat runs in its own thread: a stage busy in a long synchronous step keeps its lease
// alive for other hosts, and a process hung for longer than LINEA_HANG_MS lets it go stale.
describe('lease heartbeats', () => {
  const hdir = mkdtempSync(join(tmpdir(), 'linea-heartbeat-'));
  after(() => rmSync(hdir, { recursive: true, force: true }));
  const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

  it('keep beating while the main thread is blocked', async () => {
    const taken = await new Leases(hdir, { staleMs: 1000 }).tryAcquire(key('h'));
    assert.ok(taken.ok);
    const path = join(hdir, `${key('h')}.lease`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the heartbeat thread start
    const before = statSync(path).mtimeMs;
    block(1200); // no event loop turn at all: a timer on this thread could not fire
    const during = statSync(path).mtimeMs;
    await taken.lease.release();
    assert.ok(
      during - before >= 250,
      `the lease file was touched while the main thread was blocked (${during - before} ms)`,
    );
  });

  it('stop beating once the main thread has been hung for LINEA_HANG_MS', async () => {
    process.env.LINEA_HANG_MS = '200';
    try {
      const taken = await new Leases(hdir, { staleMs: 1000 }).tryAcquire(key('i'));
      assert.ok(taken.ok);
      const path = join(hdir, `${key('i')}.lease`);
      const start = Date.now();
      block(1500);
      const last = statSync(path).mtimeMs;
      await taken.lease.release();
      assert.ok(
        last < start + 900,
        `no heartbeat later than the hang bound (last ${last - start} ms after the block began)`,
      );
    } finally {
      delete process.env.LINEA_HANG_MS;
    }
  });
});
