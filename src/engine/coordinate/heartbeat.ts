/**
 * Heartbeats: files whose mtime says "the process that owns me is alive" (a lease, the in-use
 * record gc reads). Another host can only judge a holder by that mtime, so it must keep moving
 * even while this process's main thread is busy in a long synchronous computation (a training
 * step, a native kernel). The touching therefore happens in a worker thread with its own event
 * loop: stages need not yield for their leases to stay alive.
 *
 * A main thread that is not busy but hung (a deadlock, a stage waiting forever) must still lose
 * its leases, so that another process takes the work over after the stale time. The main thread
 * therefore ticks the heartbeat thread whenever its event loop runs, and the thread stops
 * touching once no tick has come for `hangMs` (default 5 minutes, $LINEA_HANG_MS): longer than
 * any synchronous stretch of a stage, far shorter than "forever".
 */
import { Worker } from 'node:worker_threads';

/** Messages to the heartbeat thread. */
type ToHeartbeat =
  | { type: 'add'; path: string; everyMs: number }
  | { type: 'remove'; path: string }
  | { type: 'alive'; hangMs: number };

// Plain JavaScript, evaluated in the worker: it needs no loader, so it starts in milliseconds and
// runs the same under tsx and from compiled code.
const THREAD = `
const { parentPort } = require('node:worker_threads');
const { utimes } = require('node:fs');
const timers = new Map();
let aliveUntil = Infinity;
parentPort.on('message', (msg) => {
  if (msg.type === 'alive') {
    aliveUntil = Date.now() + msg.hangMs;
    return;
  }
  clearInterval(timers.get(msg.path));
  timers.delete(msg.path);
  if (msg.type !== 'add') return;
  timers.set(msg.path, setInterval(() => {
    if (Date.now() > aliveUntil) return;
    const now = new Date();
    utimes(msg.path, now, now, () => undefined);
  }, msg.everyMs));
});
`;

let thread: Worker | undefined;
let ticker: NodeJS.Timeout | undefined;
let beating = 0;

const hangMs = () => Number(process.env.LINEA_HANG_MS ?? 300_000);

function send(message: ToHeartbeat): void {
  if (!thread) {
    thread = new Worker(THREAD, { eval: true });
    // Neither the thread nor the ticker keeps the process alive: a command exits when its work is done.
    thread.unref();
    thread.on('error', () => {
      thread = undefined;
    });
    thread.postMessage({ type: 'alive', hangMs: hangMs() } satisfies ToHeartbeat);
    ticker = setInterval(() => thread?.postMessage({ type: 'alive', hangMs: hangMs() } satisfies ToHeartbeat), 1000);
    ticker.unref();
  }
  thread.postMessage(message);
}

/**
 * Touch `path` every `everyMs` from the heartbeat thread until the returned function is called.
 * A missing file is skipped quietly (its owner removes it when done).
 */
export function startHeartbeat(path: string, everyMs: number): () => void {
  send({ type: 'add', path, everyMs });
  beating++;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    beating--;
    send({ type: 'remove', path });
    if (beating === 0 && thread) {
      // Nothing left to touch: let the thread go, so that no worker outlives the work.
      const done = thread;
      thread = undefined;
      clearInterval(ticker);
      void done.terminate();
    }
  };
}
