/**
 * The executors by name. The scheduler (run.ts) keeps keys, lookups, leases, commits and index
 * writes; an executor only runs the tasks it is given. Scaling out is a change of name
 * (`--executor`, $LINEA_EXECUTOR, or the pipeline's `executor`), not of the pipeline.
 *
 * Adding an executor: implement Executor (executor.ts) in its own module, add an entry here whose
 * `create` imports that module (so nobody who does not choose it loads it), and run the executor
 * conformance suite (test/executors.test.ts) against it. src/engine/README.md walks through it.
 */
import { LineaError } from '../core/errors.ts';
import type { Executor } from './executor.ts';

/** What the CLI knows when it makes an executor. */
export interface ExecutorOptions {
  /** --jobs: how many tasks at once (the pool's worker count, a cluster's queue width). */
  readonly jobs: number;
  /** The project's root and cache directory, for executors that hand tasks to other processes or machines. */
  readonly root: string;
  readonly cacheDir: string;
  /** --group: ready instances a cluster job may run (one after another). */
  readonly group?: number;
  /** --local-below: a cluster executor runs instances of stages quicker than this (seconds) in the driver. */
  readonly localBelow?: number;
  /** --pilot-idle: a cluster executor's pilot jobs leave after this many idle seconds (0: a job per instance). */
  readonly pilotIdle?: number | undefined;
  /** --pilot-ramp: seconds a task waits for a busy or starting pilot before another starts for it. */
  readonly pilotRamp?: number | undefined;
}

export interface ExecutorEntry {
  readonly description: string;
  create(options: ExecutorOptions): Promise<Executor>;
}

const EXECUTORS: Readonly<Record<string, ExecutorEntry>> = {
  local: {
    description: 'one task at a time in this process (the default without --jobs)',
    async create() {
      const { InProcessExecutor } = await import('./executor.ts');
      return new InProcessExecutor();
    },
  },
  slurm: {
    description: 'stage instances as Slurm batch jobs (--jobs N pilot jobs at once; see docs/cluster.md)',
    async create({ jobs, root, cacheDir, group, localBelow, pilotIdle, pilotRamp }) {
      const { SlurmExecutor } = await import('./slurm.ts');
      const extra = process.env.LINEA_SLURM_ARGS?.trim();
      return new SlurmExecutor({
        maxQueued: jobs,
        root,
        cacheDir,
        ...(group !== undefined ? { group } : {}),
        ...(localBelow !== undefined ? { localBelow } : {}),
        ...(pilotIdle !== undefined ? { pilotIdle } : {}),
        ...(pilotRamp !== undefined ? { pilotRamp } : {}),
        ...(process.env.LINEA_SLURM_PARTITION ? { partition: process.env.LINEA_SLURM_PARTITION } : {}),
        ...(process.env.LINEA_SLURM_ACCOUNT ? { account: process.env.LINEA_SLURM_ACCOUNT } : {}),
        ...(extra ? { extraArgs: extra.split(/\s+/) } : {}),
      });
    },
  },
  pool: {
    description: '--jobs N worker processes on this machine (the default with --jobs > 1)',
    async create({ jobs }) {
      const { ProcessPoolExecutor } = await import('./pool.ts');
      return new ProcessPoolExecutor(jobs);
    },
  },
};

export const executorNames = (): string[] => Object.keys(EXECUTORS);

/**
 * The executor a run uses: the one named by --executor, else $LINEA_EXECUTOR, else the pipeline's
 * choice, else `pool` when --jobs asks for more than one task at a time, else `local`.
 */
export function chooseExecutor(named: { flag?: string; pipeline?: string }, jobs: number): string {
  const name = named.flag ?? process.env.LINEA_EXECUTOR ?? named.pipeline ?? (jobs > 1 ? 'pool' : 'local');
  if (!Object.hasOwn(EXECUTORS, name)) {
    throw new LineaError(`--executor ${name}: no such executor; choose one of ${executorNames().join(', ')}`, 'usage');
  }
  return name;
}

export function createExecutor(name: string, options: ExecutorOptions): Promise<Executor> {
  const entry = Object.hasOwn(EXECUTORS, name) ? EXECUTORS[name] : undefined;
  if (!entry) throw new LineaError(`no executor '${name}'; choose one of ${executorNames().join(', ')}`, 'usage');
  return entry.create(options);
}
