/**
 * A project opened for one command: its root and identity, its store, run index and leases, and
 * the digests of the code of every stage in the pipeline (computed once per command). Commands
 * open one, pass it to the scheduler, planner and gc, and close it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ActiveRun } from '../coordinate/activity.ts';
import { stampedCodeDigests, type CodeDigest } from '../key/code.ts';
import { saveDataStamps, useDataStamps } from '../key/data-files.ts';
import { LineaError } from '../core/errors.ts';
import type { LeaseStore } from '../coordinate/lease.ts';
import type { Pipeline } from '../define/pipeline.ts';
import { phase } from '../core/profile.ts';
import { RunIndex } from '../index/run-index.ts';
import { writable } from '../core/access.ts';
import { backendFor, indexUri } from '../index/index-backends.ts';
import { Store } from '../store/store.ts';

export interface Project {
  readonly root: string;
  /**
   * The project's identity in a store several projects may share (a $LINEA_CACHE_DIR in a shell
   * profile): its pipeline's name and its root. Runs are recorded under it; "why stale", log and
   * gc look only at this project's runs unless told otherwise.
   */
  readonly id: string;
  readonly store: Store;
  readonly index: RunIndex;
  readonly leases: LeaseStore;
  /** The objects this process reads or commits, recorded so gc leaves them alone. */
  readonly activity: ActiveRun;
  readonly code: ReadonlyMap<string, CodeDigest>;
  close(): Promise<void>;
}

/**
 * `access: 'read'` (status, log, verify) works on a cache this user cannot write; anything that
 * writes (run, gc, pin) first checks that it can, and says so plainly if not.
 */
export async function openProject(options: {
  root: string;
  cacheDir: string;
  pipeline: Pipeline;
  /** The run index (index-backends.ts); default the sqlite file in the cache. */
  indexUri?: URL;
  access?: 'read' | 'write';
}): Promise<Project> {
  const store = new Store(options.cacheDir);
  const readOnly = options.access === 'read';
  if (!readOnly) {
    // A cache not made yet is made with its missing parents (mkdir -p): the nearest folder that
    // exists is the one this user must be able to write.
    let existing = options.cacheDir;
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
    if (!writable(existing)) {
      const what = existing === options.cacheDir ? '' : ` cannot be made: ${existing}`;
      throw new LineaError(
        `the cache ${options.cacheDir}${what} is not writable by this user; this command writes results there: use --cache-dir <a writable directory>, or fix its permissions`,
        'usage',
      );
    }
  }
  if (!readOnly || writable(options.cacheDir)) await store.init();
  // Data files a stage's env digests are hashed once per file version, not once per command.
  useDataStamps(join(options.cacheDir, 'data-stamps.json'));
  const code = await phase('code digests', () =>
    stampedCodeDigests(
      options.root,
      options.pipeline.nodes.map((n) => n.stage.moduleUrl),
      join(options.cacheDir, 'code-stamps.json'),
    ),
  );
  // The layout of the cache directory is decided here, where the layers are put together: the
  // store owns objects/, records/, checkpoints/; the leases and the in-use records their own
  // directories; the index wherever its URI says.
  const uri = options.indexUri ?? indexUri(options.cacheDir);
  const index = await phase('open index', () => RunIndex.open(uri, { readOnly }));
  // Leases live with the index: files beside a sqlite index, rows or keys in a shared server.
  const staleMs = Number(process.env.LINEA_LEASE_STALE_MS ?? 60_000);
  const leases = await backendFor(uri)
    .leases(uri, options.cacheDir, staleMs)
    .catch(async (error: unknown) => {
      await index.close();
      throw error;
    });
  const activity = new ActiveRun(join(options.cacheDir, 'active'));
  return {
    root: options.root,
    id: `${options.pipeline.name}@${options.root}`,
    store,
    index,
    leases,
    activity,
    code,
    async close() {
      saveDataStamps();
      await leases.close();
      await activity.close();
      await index.close();
    },
  };
}

/**
 * Clear what killed processes left in the project's cache: their workspaces, half-written index
 * entries (`*.tmp` older than ten minutes), and leases of keys
 * they held when they died. A dead holder's lease that names a cluster job is kept while its key
 * is uncommitted: the job may still be computing it, and the next run that wants the key adopts
 * the job through that lease (run.ts execute). Run before a run's lookups and by gc.
 */
export async function sweepLeftovers(project: Project): Promise<void> {
  await project.store.sweepTmp();
  await project.index.sweepTmp();
  await project.leases.sweep?.(async (key, holder) => holder.job !== undefined && !(await project.index.get(key)));
}
