/**
 * A stage task as a directory on a shared filesystem, so that any batch system can run it with
 * `linea worker --task <dir>`: the scratch-directory pattern. The driver writes task.json; the
 * worker appends its events to events.jsonl and writes outcome.json last, atomically. The outcome
 * file is the truth about a job: a scheduler's job state only explains a job that left none.
 *
 *   <cache>/jobs/<id>/task.json      the task, with paths relative to the project and the cache
 *   <cache>/jobs/<id>/started        written by the worker as it starts the task
 *   <cache>/jobs/<id>/events.jsonl   progress and log events, one JSON object per line
 *   <cache>/jobs/<id>/outcome.json   { ok, value } or { ok: false, error }
 *   <cache>/jobs/<id>/work/files/    the stage's workspace (committed by the driver)
 *   <cache>/jobs/<id>/stdout, stderr the job's own output (the batch system writes these)
 *
 * Paths are stored relative to the project root and the cache directory, and resolved by the
 * worker against its own: the project and the cache must be at the same place on every node, or
 * the cache at a path every node sees.
 */
import { randomBytes } from 'node:crypto';
import { access, appendFile, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StageTask, TaskEvent, TaskOutcome } from './executor.ts';
import { Store, type Workspace } from '../store/store.ts';
import { hostName } from '../core/process.ts';

const VERSION = 1;

interface TaskFile {
  readonly version: number;
  /** The stage module, relative to the project root. */
  readonly module: string;
  /** The cache directory, relative to the project root when inside it. */
  readonly cacheDir: string;
  readonly task: Omit<StageTask, 'moduleUrl' | 'cacheDir' | 'outDir' | 'inputs'> & {
    readonly inputs: Readonly<Record<string, Omit<StageTask['inputs'][string], 'dir'>>>;
  };
}

/** A job directory with its workspace: the driver creates it, the job fills it, the driver commits it. */
export async function newJobDir(cacheDir: string): Promise<{ dir: string; workspace: Workspace }> {
  const dir = join(cacheDir, 'jobs', `${hostName()}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
  const workspace = { dir: join(dir, 'work'), outDir: join(dir, 'work', 'files') };
  await mkdir(workspace.outDir, { recursive: true });
  return { dir, workspace };
}

export function jobWorkspace(dir: string): Workspace {
  return { dir: join(dir, 'work'), outDir: join(dir, 'work', 'files') };
}

const within = (base: string, path: string) => {
  const rel = relative(base, path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
};

export async function writeTaskFile(dir: string, task: StageTask, root: string): Promise<void> {
  const { moduleUrl, cacheDir, outDir: _outDir, inputs, ...rest } = task;
  const file: TaskFile = {
    version: VERSION,
    module: within(root, fileURLToPath(moduleUrl)),
    cacheDir: within(root, cacheDir),
    task: {
      ...rest,
      inputs: Object.fromEntries(Object.entries(inputs).map(([name, { dir: _dir, ...input }]) => [name, input])),
    },
  };
  await writeAtomically(join(dir, 'task.json'), JSON.stringify(file));
}

/** The task in a job directory, its paths resolved against `root` (the worker's working directory). */
export async function readTaskFile(dir: string, root: string): Promise<StageTask> {
  const file = JSON.parse(await readFile(join(dir, 'task.json'), 'utf8')) as TaskFile;
  if (file.version !== VERSION) {
    throw new Error(`${join(dir, 'task.json')} is a version ${file.version} task; this linea reads version ${VERSION}`);
  }
  const cacheDir = resolve(root, file.cacheDir);
  const store = new Store(cacheDir);
  return {
    ...file.task,
    moduleUrl: pathToFileURL(resolve(root, file.module)).href,
    cacheDir,
    outDir: jobWorkspace(resolve(dir)).outDir,
    // Inputs are found through the store by digest, wherever this node mounts it.
    inputs: Object.fromEntries(
      Object.entries(file.task.inputs).map(([name, input]) => [name, { ...input, dir: store.filesDir(input.digest) }]),
    ),
  };
}

export async function markStarted(dir: string): Promise<void> {
  await writeFile(join(dir, 'started'), `${hostName()} ${process.pid}\n`);
}

/** Whether a worker has started the task (a grouped job may die before it reaches every task). */
export async function wasStarted(dir: string): Promise<boolean> {
  return access(join(dir, 'started')).then(
    () => true,
    () => false,
  );
}

export async function appendEvent(dir: string, event: TaskEvent): Promise<void> {
  await appendFile(join(dir, 'events.jsonl'), `${JSON.stringify(event)}\n`);
}

/** Events written since byte `offset`, and the offset after them (a partly written last line waits). */
export async function readEvents(dir: string, offset: number): Promise<{ events: TaskEvent[]; offset: number }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(join(dir, 'events.jsonl'), 'r');
  } catch {
    return { events: [], offset };
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { events: [], offset };
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    const text = buffer.toString('utf8');
    const complete = text.lastIndexOf('\n') + 1;
    const events: TaskEvent[] = [];
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line) as TaskEvent);
      } catch {
        // A damaged line is skipped: events are for display only.
      }
    }
    return { events, offset: offset + Buffer.byteLength(text.slice(0, complete)) };
  } finally {
    await handle.close();
  }
}

export async function writeOutcome(dir: string, outcome: TaskOutcome): Promise<void> {
  await writeAtomically(join(dir, 'outcome.json'), JSON.stringify(outcome));
}

/** The job's outcome, if it has written one whole. */
export async function readOutcome(dir: string): Promise<TaskOutcome | undefined> {
  try {
    const outcome = JSON.parse(await readFile(join(dir, 'outcome.json'), 'utf8')) as TaskOutcome;
    return typeof outcome === 'object' && outcome !== null && typeof outcome.ok === 'boolean' ? outcome : undefined;
  } catch {
    return undefined;
  }
}

async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}
