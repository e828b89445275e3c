import { watch } from 'node:fs';

/**
 * Wait `ms`, or less if `signal` aborts. The abort listener goes when the wait ends either way: a
 * driver polling a job every few milliseconds would otherwise leave one listener per poll on the
 * run's signal for the whole run (node warns past ten).
 */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Wait up to `ms`, or until something changes in `dir`. A local filesystem wakes the waiter at
 * once; a network one (no events across nodes) leaves it to the timer.
 */
export function wakeOnChange(dir: string): { next(ms: number, signal?: AbortSignal): Promise<void>; close(): void } {
  let wake: (() => void) | undefined;
  let changed = false;
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(dir, () => {
      changed = true;
      wake?.();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  return {
    next(ms, signal) {
      if (changed || signal?.aborted) {
        changed = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = undefined;
          changed = false;
          resolve();
        }
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    close() {
      watcher?.close();
    },
  };
}
