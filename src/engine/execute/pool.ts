/**
 * A pool of worker processes (execa, IPC) for `--jobs N`: independent stage instances and
 * ablation variants run in parallel, each in its own process. Workers start on demand and are
 * reused; a worker that dies takes only its current task down with it.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Executor, StageTask, TaskEvent, TaskOutcome } from './executor.ts';
import { asFromWorker, type ToWorker } from './worker-protocol.ts';

interface Worker {
  process: ResultPromise<{ ipc: true }>;
  busy: boolean;
  current?: { id: number; onEvent: (e: TaskEvent) => void; resolve: (o: TaskOutcome) => void };
}

// worker.ts here, worker.js in the compiled package: the worker runs as whatever this module is.
const WORKER = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url));
/** Run as TypeScript (this repository), a worker needs tsx for the engine itself; compiled, nothing. */
const LOADER = import.meta.url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];

/**
 * Each worker's share of the machine's CPUs, as OMP_NUM_THREADS: the variable OpenMP, BLAS and
 * the stages' native kernels read (Ray sets it for its workers the same way). N workers that
 * each run a thread per core oversubscribe the cores N times: on the 2-core dev machine two
 * workers of two threads took 196 s over the default pipeline's linearity instances, against
 * 73 s in process and 61 s for two workers of one thread. A share the user set is kept.
 */
export function cpuShare(workers: number, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.OMP_NUM_THREADS !== undefined) return {};
  return { OMP_NUM_THREADS: String(Math.max(1, Math.floor(availableParallelism() / workers))) };
}

export class ProcessPoolExecutor implements Executor {
  private readonly workers: Worker[] = [];
  private nextId = 0;

  constructor(readonly slots: number) {}

  private spawn(): Worker {
    // Workers run with the parent's V8 tuning (e.g. --single-threaded-gc from bin/linea.js).
    const v8Flags = process.execArgv.filter(
      (a) => a === '--single-threaded-gc' || a.startsWith('--max-old-space-size'),
    );
    const child = execa(process.execPath, [...v8Flags, ...LOADER, WORKER], {
      ipc: true,
      serialization: 'advanced',
      stdin: 'ignore',
      // A stage's console output must not mix with `--json` on stdout.
      stdout: ['pipe'],
      stderr: 'inherit',
      buffer: false,
      reject: false,
      cleanup: true,
      env: cpuShare(this.slots),
    }) as ResultPromise<{ ipc: true }>;
    child.stdout?.pipe(process.stderr);
    const worker: Worker = { process: child, busy: false };
    void (async () => {
      for await (const message of child.getEachMessage()) {
        const msg = asFromWorker(message);
        if (!msg || !worker.current || worker.current.id !== msg.id) continue;
        if (msg.type === 'event') worker.current.onEvent(msg.event);
        else {
          const { resolve } = worker.current;
          worker.current = undefined;
          worker.busy = false;
          resolve(msg.outcome);
        }
      }
    })().catch(() => undefined);
    void child.then((result) => {
      this.workers.splice(this.workers.indexOf(worker), 1);
      if (worker.current) {
        const how = result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`;
        worker.current.resolve({ ok: false, error: `worker process died (${how}) while running the stage` });
      }
    });
    this.workers.push(worker);
    return worker;
  }

  run(task: StageTask, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<TaskOutcome> {
    // The first task starts every worker: by the time the next stages are ready, they are warm.
    if (this.workers.length === 0) for (let i = 1; i < this.slots; i++) this.spawn();
    const worker = this.workers.find((w) => !w.busy) ?? this.spawn();
    worker.busy = true;
    const id = this.nextId++;
    return new Promise<TaskOutcome>((settle) => {
      const abort = () =>
        void worker.process.sendMessage({ type: 'abort', id } satisfies ToWorker).catch(() => undefined);
      // One listener per task on the run's signal, gone when the task is: not one per task run.
      const resolve = (outcome: TaskOutcome) => {
        signal.removeEventListener('abort', abort);
        settle(outcome);
      };
      worker.current = { id, onEvent, resolve };
      signal.addEventListener('abort', abort, { once: true });
      worker.process.sendMessage({ type: 'run', id, task } satisfies ToWorker).catch((error: unknown) => {
        worker.current = undefined;
        resolve({ ok: false, error: `could not send the task to a worker: ${String(error)}` });
      });
    });
  }

  async close(): Promise<void> {
    for (const worker of this.workers) worker.process.disconnect();
    await Promise.all(this.workers.map((w) => w.process.catch(() => undefined)));
  }
}
