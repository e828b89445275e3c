/**
 * A pilot: a cluster job that outlives its first task and runs the next one the driver hands it,
 * so that a run pays Slurm's submission, allocation tick and a worker's start once per job slot
 * rather than once per stage instance (the pilot-job pattern of Parsl and Dask-jobqueue). Tasks
 * stay job directories (task-file.ts), each with its own outcome; the pilot only adds an inbox:
 *
 *   <cache>/jobs/<id>-pilot/pilot.json     how long it waits for work ({ idleSeconds, keepMs })
 *   <cache>/jobs/<id>-pilot/inbox/<name>   an assignment: the path of a task's job directory,
 *                                          renamed into place by the driver (never half written)
 *   <cache>/jobs/<id>-pilot/closed/        the inbox, renamed by the pilot as it leaves
 *   <cache>/jobs/<id>-pilot/keep           touched by the driver while it lives
 *   <cache>/jobs/<id>-pilot/stop           written by a driver that needs the pilot no more
 *   <cache>/jobs/<id>-pilot/stdout, stderr the job's own output
 *
 * Leaving is a rename of inbox/ to closed/: a driver's assignment after it fails (the inbox is
 * gone), and one just before it is in closed/, which the pilot runs before it exits. Then the
 * directory goes: each task's outcome is in the task's own. A pilot
 * leaves when told to stop, when its driver's keep file has not moved for KEEP_MS (the driver
 * died: nobody will hand it more work), or after idleSeconds with nothing to do.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { hostName } from '../core/process.ts';
import { wakeOnChange } from '../core/wait.ts';

/** A pilot whose driver's keep file has not moved for this long leaves once idle. */
export const KEEP_MS = 10_000;
/** How often a driver touches its pilots' keep files: well inside KEEP_MS. */
export const KEEP_EVERY_MS = 2_000;
/** The longest a pilot with nothing to do waits between looks at its inbox, when no watch wakes it. */
const LOOK_MAX_MS = 100;

export interface PilotFile {
  readonly idleSeconds: number;
  /** KEEP_MS, unless a test wants a driver's death noticed sooner. */
  readonly keepMs: number;
}

export const isPilotDir = (dir: string): boolean => dir.endsWith('-pilot');

/** A new pilot's directory, with its inbox, for a job not yet submitted. */
export async function newPilotDir(cacheDir: string, idleSeconds: number, keepMs = KEEP_MS): Promise<string> {
  const dir = join(
    cacheDir,
    'jobs',
    `${hostName()}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}-pilot`,
  );
  await mkdir(join(dir, 'inbox'), { recursive: true });
  await writeFile(join(dir, 'pilot.json'), JSON.stringify({ idleSeconds, keepMs } satisfies PilotFile));
  await writeFile(join(dir, 'keep'), '');
  return dir;
}

/**
 * Hand a task to a pilot. False when the pilot has left (its inbox is gone): the caller finds the
 * task another. An assignment is written beside the inbox and renamed in, whole.
 */
export async function assign(pilotDir: string, taskDir: string): Promise<boolean> {
  const tmp = join(pilotDir, `assign-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, taskDir);
    await rename(tmp, join(pilotDir, 'inbox', basename(taskDir)));
    return true;
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Whether a task was handed to this pilot and not yet taken up. Taking a task up marks it started
 * before its assignment goes (see `serve`), so "assigned or started" has no gap between the two.
 */
export async function isAssigned(pilotDir: string, taskDir: string): Promise<boolean> {
  const name = basename(taskDir);
  for (const box of ['inbox', 'closed']) {
    if (
      await stat(join(pilotDir, box, name)).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** The driver is alive: pilots that see this move stay for more work. */
export async function keep(pilotDir: string): Promise<void> {
  const now = new Date();
  await utimes(join(pilotDir, 'keep'), now, now).catch(() => undefined);
}

/** Ask a pilot to leave once its current task is done. */
export async function stop(pilotDir: string): Promise<void> {
  await writeFile(join(pilotDir, 'stop'), '').catch(() => undefined);
}

/**
 * The pilot's side: run each task handed to it, one at a time, until it is told to stop, its
 * driver is gone or it has waited idleSeconds; then close the inbox and run what reached it
 * before the close. `runTask` runs one job directory and leaves its outcome there.
 */
export async function serve(
  pilotDir: string,
  { idleSeconds, keepMs }: PilotFile,
  runTask: (taskDir: string) => Promise<void>,
): Promise<void> {
  const inbox = join(pilotDir, 'inbox');
  const wake = wakeOnChange(inbox);
  let idleSince = Date.now();
  let keepSeen = await mtime(join(pilotDir, 'keep'));
  let keepMovedAt = Date.now();
  let lookMs = 5;
  try {
    for (;;) {
      const names = await readdir(inbox).catch(() => undefined);
      // The directory went (the driver tidied it away at its end): nothing more will come.
      if (!names) return;
      if (names.length) {
        for (const name of names.sort()) await take(join(inbox, name), runTask);
        idleSince = Date.now();
        lookMs = 5;
        continue;
      }
      const kept = await mtime(join(pilotDir, 'keep'));
      if (kept !== keepSeen) {
        keepSeen = kept;
        keepMovedAt = Date.now();
      }
      const stopped = await stat(join(pilotDir, 'stop')).then(
        () => true,
        () => false,
      );
      if (stopped || Date.now() - keepMovedAt > keepMs || Date.now() - idleSince > idleSeconds * 1000) break;
      await wake.next(lookMs);
      lookMs = Math.min(LOOK_MAX_MS, lookMs * 2);
    }
  } finally {
    wake.close();
  }
  const closed = join(pilotDir, 'closed');
  try {
    await rename(inbox, closed);
  } catch {
    return;
  }
  for (const name of (await readdir(closed).catch(() => [] as string[])).sort())
    await take(join(closed, name), runTask);
  // Every task handed over has its outcome in its own directory: the pilot's holds only its logs,
  // which nobody reads once it ends well (a dead driver's pilot would leave them to gc for a week).
  await rm(pilotDir, { recursive: true, force: true }).catch(() => undefined);
}

/** The pilot's settings; an error that says what is wrong with them, for a directory that is no pilot's. */
export async function readPilotFile(pilotDir: string): Promise<PilotFile> {
  const file = JSON.parse(await readFile(join(pilotDir, 'pilot.json'), 'utf8')) as Partial<PilotFile>;
  if (typeof file.idleSeconds !== 'number' || typeof file.keepMs !== 'number')
    throw new Error(`${join(pilotDir, 'pilot.json')} has no idleSeconds and keepMs: not a pilot this linea made`);
  return file as PilotFile;
}

/** Run one assignment; it goes only after the task is done (its started mark was written first). */
async function take(assignment: string, runTask: (taskDir: string) => Promise<void>): Promise<void> {
  const taskDir = await readFile(assignment, 'utf8').catch(() => undefined);
  if (taskDir) await runTask(taskDir);
  await rm(assignment, { force: true });
}

const mtime = (path: string) =>
  stat(path).then(
    (s) => s.mtimeMs,
    () => 0,
  );
