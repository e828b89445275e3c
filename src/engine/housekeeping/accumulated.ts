/**
 * What only accumulates in a cache directory and that nothing else removes: the old indexes that
 * rebuilds move aside (`index.old-*`, `index.sqlite.damaged-*`; the newest of each kind is kept
 * for inspection), Slurm job directories a driver left behind when it was killed (a job
 * directory is removed by its driver once the result is committed), and run journals
 * (`events/*.jsonl`, view/journal.ts) not written for a week: what a finished run did is in its
 * records, and `linea view` replays only the last day. Also settled answers not recorded again
 * for a week (`settled/`). gc sweeps them, and
 * `gc --dry-run` lists them. A store used for a month grows by its results and nothing else.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A job directory untouched this long has no driver left to commit it; a failed one keeps its logs as long. */
export const JOB_DIR_KEEP_MS = 7 * 24 * 3600_000;

export interface Accumulated {
  /** Paths removed (or, in a dry run, that would be). */
  readonly paths: readonly string[];
}

export async function sweepAccumulated(
  cacheDir: string,
  options: { dryRun: boolean; now?: number },
): Promise<Accumulated> {
  const now = options.now ?? Date.now();
  const paths = [
    ...(await oldIndexes(cacheDir)),
    ...(await abandonedJobs(join(cacheDir, 'jobs'), now)),
    ...(await unwritten(join(cacheDir, 'events'), '.jsonl', now)),
    // Settled answers (schedule/settled.ts), one per command line ever run to a no-op; one swept
    // is recorded again by the next all-cached run of its command.
    ...(await unwritten(join(cacheDir, 'settled'), '', now)),
  ];
  if (!options.dryRun) for (const path of paths) await rm(path, { recursive: true, force: true });
  return { paths };
}

/** Every moved-aside index but the newest of each kind (the suffix is a time). */
async function oldIndexes(cacheDir: string): Promise<string[]> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const kinds = [/^index\.old-(\d+)$/, /^index\.sqlite(?:-wal|-shm)?\.damaged-(.+)$/];
  return kinds.flatMap((pattern) => {
    const aside = names.flatMap((name) => {
      const stamp = pattern.exec(name)?.[1];
      return stamp === undefined ? [] : [{ name, stamp }];
    });
    const newest = aside
      .map((a) => a.stamp)
      .sort()
      .at(-1);
    return aside.filter((a) => a.stamp !== newest).map((a) => join(cacheDir, a.name));
  });
}

/** Job directories whose newest file is older than JOB_DIR_KEEP_MS. */
async function abandonedJobs(jobsDir: string, now: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(jobsDir).catch(() => [] as string[])) {
    const dir = join(jobsDir, name);
    const entries = await readdir(dir).catch(() => [] as string[]);
    const times = await Promise.all(
      [dir, ...entries.map((e) => join(dir, e))].map((p) =>
        stat(p).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ),
    );
    if (now - Math.max(...times) > JOB_DIR_KEEP_MS) out.push(dir);
  }
  return out;
}

/** Files of `dir` named `*suffix` not written for JOB_DIR_KEEP_MS. */
async function unwritten(dir: string, suffix: string, now: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const written = await stat(path).then(
      (s) => s.mtimeMs,
      () => now,
    );
    if (name.endsWith(suffix) && now - written > JOB_DIR_KEEP_MS) out.push(path);
  }
  return out;
}
