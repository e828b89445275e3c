/**
 * Executors run one stage task and report its outcome; the scheduler above them decides what
 * runs, and the store commits what they produce. The in-process executor and the worker-process
 * pool share `runTask`, so a stage behaves the same whichever runs it.
 */
import { join } from 'node:path';
import { errorMessage } from './errors.ts';
import { canonicalJson, type ArtifactDigest, type CacheKey, type Json } from './json.ts';
import { registeredStage, type Artifact, type Progress, type StageContext } from './stage.ts';
import { Store } from './store.ts';

/** Everything a stage run needs, as plain data (it crosses a process boundary). */
export interface StageTask {
  readonly instance: string;
  readonly stage: string;
  readonly moduleUrl: string;
  readonly key: CacheKey;
  readonly params: Json;
  readonly inputs: Readonly<Record<string, { value: Json; dir: string; digest: ArtifactDigest }>>;
  readonly outDir: string;
  /** Cache directory, for checkpoints. */
  readonly cacheDir: string;
}

export type TaskEvent = { type: 'progress'; progress: Progress } | { type: 'log'; message: string };

export type TaskOutcome = { ok: true; value: Json } | { ok: false; error: string; stack?: string };

export interface Executor {
  /** How many tasks it runs at once. */
  readonly slots: number;
  run(task: StageTask, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<TaskOutcome>;
  close(): Promise<void>;
}

export class InProcessExecutor implements Executor {
  readonly slots = 1;
  run(task: StageTask, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<TaskOutcome> {
    return runTask(task, onEvent, signal);
  }
  async close(): Promise<void> {}
}

/** Load the stage a task names and run it with a context built from the task. */
export async function runTask(task: StageTask, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<TaskOutcome> {
  try {
    let stage = registeredStage(task.stage);
    if (!stage) {
      await import(task.moduleUrl);
      stage = registeredStage(task.stage);
    }
    if (!stage) return { ok: false, error: `stage '${task.stage}' is not defined by ${task.moduleUrl}` };
    const store = new Store(task.cacheDir);
    const inputs = Object.fromEntries(
      Object.entries(task.inputs).map(([name, a]): [string, Artifact<unknown>] => [
        name,
        { value: a.value, dir: a.dir, digest: a.digest, file: (rel: string) => join(a.dir, rel) },
      ]),
    );
    const ctx: StageContext<unknown, Record<string, unknown>> = {
      params: task.params,
      inputs,
      outDir: task.outDir,
      instance: task.instance,
      key: task.key,
      signal,
      progress: (progress) => onEvent({ type: 'progress', progress }),
      log: (message) => onEvent({ type: 'log', message }),
      checkpoint: (state, write) => store.saveCheckpoint(task.key, state, write),
      resume: <S extends Json>() => store.loadCheckpoint<S>(task.key),
    };
    const value = await stage.run(ctx as never);
    let json: Json;
    try {
      json = JSON.parse(canonicalJson(value === undefined ? null : value, 'output')) as Json;
    } catch (error) {
      return { ok: false, error: `stage '${task.stage}' returned a value that is not plain JSON (${errorMessage(error)}); return JSON and write anything else into ctx.outDir` };
    }
    return { ok: true, value: json };
  } catch (error) {
    return { ok: false, error: errorMessage(error), ...(error instanceof Error && error.stack ? { stack: error.stack } : {}) };
  }
}
