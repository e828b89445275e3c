/**
 * Group commit for the store: the fsyncs that make sealed objects durable, and the small files
 * that record them, batched and done on a thread of their own, off the path from one stage to
 * the next.
 *
 * Why: a committed stage used to fsync its files, its manifest and two directories before the
 * next stage could start, each a wait for the disk to flush its cache, on the main thread (about
 * half the time of a 500-stage rerun on the dev machine). The promise those fsyncs keep is about
 * run records, not objects: a record (and the index entry that is the commit point) is written
 * only once its object is on disk, so a kill or a power loss never leaves a key pointing at a
 * partial object. An object that is sealed (renamed into objects/, complete in the page cache)
 * but not yet durable is safe for the stages downstream to read in this run; a record for it
 * waits for `sync`. A crash before then leaves an object no record names: the next run misses
 * its key, computes it again, and re-hashes the object it finds in the way before keeping it
 * (store.ts place), so a partial one is replaced.
 *
 * Batching: requests are posted as they are made; the thread takes everything that arrived while
 * it was busy as one batch, runs its fsyncs side by side (several in flight share the disk's
 * cache flushes), a directory shared by several objects (objects/ab/) once, then answers each
 * request.
 */
import { Worker } from 'node:worker_threads';

/** One thing for the disk thread to do. */
export type DiskOp =
  /** fsync the file or directory. */
  | { readonly sync: string }
  /**
   * Write `content` whole to `tmp` and rename it to `write` (creating the directories if need be):
   * a reader sees the old file or the new one, never half of one.
   */
  | { readonly write: string; readonly content: string; readonly tmp: string };

/** A small file written whole under a temporary name, then renamed into place. */
export interface AtomicFile {
  readonly path: string;
  readonly content: string;
  /** Named `<name>.<pid>-<hex>.tmp`, as the sweeps of dead writers' leftovers expect. */
  readonly tmp: string;
}

/** A request to the disk thread: its fsyncs side by side, then its writes in order. */
interface Request {
  readonly id: number;
  readonly ops: readonly DiskOp[];
}

/** The disk thread's answer to one request: done, or the first operation that failed and why. */
interface Answer {
  readonly id: number;
  readonly error?: { readonly path: string; readonly message: string };
}

// Plain JavaScript, evaluated in the worker: no loader, so it starts in milliseconds and runs the
// same under tsx and from compiled code (as heartbeat.ts's thread).
const THREAD = `
const { parentPort } = require('node:worker_threads');
const { closeSync, fsync, mkdirSync, openSync, renameSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
// Directories are made when first missing (the first entry under a prefix, a fresh cache).
function retryMissingDir(dir, f) {
  try {
    f();
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    mkdirSync(dir, { recursive: true });
    f();
  }
}
// Only the fsync goes to the thread pool, where several wait for the disk at once. The rest are
// quick calls made here, synchronously: this thread exists to block. Each call through
// fs/promises was a round trip to the pool and back (about 27 per committed stage), and those
// wake-ups took the two cores from the stages.
function sync(path) {
  return new Promise((resolve, reject) => {
    let fd;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      reject(error);
      return;
    }
    fsync(fd, (error) => {
      try {
        closeSync(fd);
      } catch {}
      if (error) reject(error);
      else resolve();
    });
  });
}
function write(op) {
  retryMissingDir(dirname(op.tmp), () => writeFileSync(op.tmp, op.content));
  retryMissingDir(dirname(op.write), () => renameSync(op.tmp, op.write));
}
// Each fsync waits for the disk to flush its cache; several in flight share flushes (1,200
// fsyncs on the dev machine's ext4: 514 ms one at a time, 213 ms four, 150 ms sixteen; the
// thread pool runs four at once by default). Writes come after
// every fsync of the batch, one at a time in the order asked: two writes of one path land so.
const LANES = 8;
let pending = [];
let busy = false;
async function runBatch(requests) {
  const failed = new Map();
  const paths = [...new Set(requests.flatMap((r) => r.ops.filter((op) => op.sync !== undefined).map((op) => op.sync)))];
  let next = 0;
  const syncLane = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      await sync(path).catch((e) => failed.set(path, e.message));
    }
  };
  await Promise.all(Array.from({ length: LANES }, syncLane));
  // Then the writes, so that a request's record is written only once its object is on disk; a
  // request whose fsync failed writes nothing.
  for (const r of requests) {
    if (r.ops.some((op) => op.sync !== undefined && failed.has(op.sync))) continue;
    for (const op of r.ops) {
      if (op.sync !== undefined) continue;
      try {
        write(op);
      } catch (e) {
        failed.set(op.write, e.message);
      }
    }
  }
  for (const r of requests) {
    const op = r.ops.find((o) => failed.has(o.sync ?? o.write));
    const path = op && (op.sync ?? op.write);
    parentPort.postMessage(path ? { id: r.id, error: { path, message: failed.get(path) } } : { id: r.id });
  }
}
parentPort.on('message', async (request) => {
  pending.push(request);
  if (busy) return;
  busy = true;
  while (pending.length) {
    const batch = pending;
    pending = [];
    await runBatch(batch);
  }
  busy = false;
});
`;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The process's disk thread: requests go out as they are made and resolve as they are answered. */
class DiskThread {
  private thread: Worker | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;

  run(ops: readonly DiskOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      const thread = this.worker();
      // While an answer is due, it is what the process waits for.
      if (this.waiting.size === 1) thread.ref();
      // Posted now, not at the next turn of the event loop: the next stage may hold the main
      // thread for minutes, and this request must not wait for it.
      thread.postMessage({ id, ops } satisfies Request);
    });
  }

  private worker(): Worker {
    if (this.thread) return this.thread;
    const thread = new Worker(THREAD, { eval: true });
    thread.on('message', (answer: Answer) => this.settle(answer));
    thread.on('error', (error) => this.fail(thread, error));
    thread.on('exit', (code) => this.fail(thread, new Error(`the disk thread exited (code ${code})`)));
    this.thread = thread;
    return thread;
  }

  private settle({ id, error }: Answer): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.waiting.delete(id);
    // Idle: the thread must not keep the process alive.
    if (this.waiting.size === 0) this.thread?.unref();
    if (error) waiter.reject(new Error(`cannot write ${error.path}: ${error.message}`));
    else waiter.resolve();
  }

  /** The thread itself failed: everything waiting fails with it; a later request starts a new one. */
  private fail(thread: Worker, error: Error): void {
    if (this.thread !== thread) return;
    this.thread = undefined;
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(error);
  }
}

const disk = new DiskThread();

/**
 * fsync every path, then write each file (whole, renamed into place), in that order, on the disk
 * thread: a record written this way never names something that is not yet on disk. The request
 * is in the thread's hands when this returns; it completes whatever the main thread does next.
 */
export function syncThenWrite(paths: readonly string[], files: readonly AtomicFile[] = []): Promise<void> {
  return disk.run([
    ...paths.map((sync) => ({ sync })),
    ...files.map(({ path, content, tmp }) => ({ write: path, content, tmp })),
  ]);
}

/**
 * Write each file whole and rename it into place, on the disk thread; resolves once all are. For
 * small files written on the way of every stage that runs (run records, index entries), whose
 * system calls would otherwise hold the main thread while the next stage waits for it.
 */
export function writeFilesAtomically(files: readonly AtomicFile[]): Promise<void> {
  return syncThenWrite([], files);
}
