// Per-key leases: one holder at a time; a dead holder's lease is taken over at once on the same
// host; a remote holder's lease only once its heartbeat is older than the stale timeout.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CacheKey } from '../src/engine/json.ts';
import { Leases } from '../src/engine/lease.ts';

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
});
