// A server index that fails for want of a connection is asked again within the reconnect window,
// whatever words the driver used; any other error is the caller's at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConnectionError, withReconnect } from '../src/engine/index/postgres.ts';

describe('reconnecting to a server index', () => {
  it("retries pg-pool's connect timeout, as a refused or dropped connection", async () => {
    // pg-pool's message when connectionTimeoutMillis passes with no connection (no code).
    const timeout = new Error('timeout exceeded when trying to connect');
    assert.equal(isConnectionError(timeout), true);
    assert.equal(isConnectionError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })), true);
    let attempts = 0;
    const value = await withReconnect(async () => {
      if (++attempts < 2) throw timeout;
      return 'answered';
    }, 10_000);
    assert.deepEqual([value, attempts], ['answered', 2]);
  });

  it('tries three times even when the window passed while the event loop was held', async () => {
    // A local stage held the driver's event loop past the whole window: the clock alone would
    // fail a query tried once.
    let attempts = 0;
    const value = await withReconnect(async () => {
      attempts++;
      if (attempts === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      if (attempts < 3) throw new Error('timeout exceeded when trying to connect');
      return 'answered';
    }, 100);
    assert.deepEqual([value, attempts], ['answered', 3]);
  });

  it('does not retry an error that is not about the connection', async () => {
    const bad = new Error('relation "linea_index" does not exist');
    assert.equal(isConnectionError(bad), false);
    let attempts = 0;
    await assert.rejects(
      withReconnect(async () => {
        attempts++;
        throw bad;
      }, 10_000),
      /does not exist/,
    );
    assert.equal(attempts, 1);
  });
});
