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
