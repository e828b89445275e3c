// A wait that an abort cuts short (core/wait.ts), as the Slurm driver polls its jobs: it leaves no
// listener on the run's signal once it is over, however many times it is used.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { sleepUnlessAborted } from '../src/engine/core/wait.ts';

describe('waiting unless aborted', () => {
  it('leaves no abort listener behind after a thousand waits', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 1000; i++) await sleepUnlessAborted(0, controller.signal);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('ends at once when the signal aborts', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const waiting = sleepUnlessAborted(60_000, controller.signal);
    controller.abort();
    await waiting;
    assert.ok(Date.now() - t0 < 30_000, 'the wait did not run its course');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});
