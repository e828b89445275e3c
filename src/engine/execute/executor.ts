/**
 * Executors run one stage task and report its outcome; the scheduler above them decides what
 * runs, and the store commits what they produce. The in-process executor and the worker-process
 * pool share `runTask`, so a stage behaves the same whichever runs it.
 */
import { join } from 'node:path';
import { errorMessage } from '../core/errors.ts';
import { canonicalJson, type ArtifactDigest, type CacheKey, type Json } from '../core/json.ts';
import {
  registeredStage,
  type Artifact,
  type InputSpecs,
  type Progress,
  type Resources,
  type StageContext,
  type Variant,
} from '../define/stage.ts';
import { gatheredInputName } from '../define/instances.ts';
import { Store, type Workspace } from '../store/store.ts';
import { importModule } from '../load/typescript.ts';

export interface TaskInput {
  readonly value: Json;
  readonly dir: string;
  readonly digest: ArtifactDigest;
  /** The producing instance and its axis labels (what a gather input tells its variants apart by). */
  readonly instance: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Everything a stage run needs, as plain data (it crosses a process boundary). */
export interface StageTask {
  readonly instance: string;
  readonly stage: string;
  readonly moduleUrl: string;
  readonly key: CacheKey;
  readonly params: Json;
  /** Plain inputs by name; a gather input's variants as `name@producer-instance`. */
  readonly inputs: Readonly<Record<string, TaskInput>>;
  readonly outDir: string;
  /** Cache directory, for checkpoints. */
  readonly cacheDir: string;
  /** What the stage asks of the machine that runs it (cluster executors map it to their flags). */
  readonly resources?: Resources;
}

/** A job a cluster executor submitted: enough for a later driver to follow it (adoption). */
export interface JobRef {
  readonly executor: string;
  /** The batch system's id; empty while the job is being submitted (the executor finds it by its directory). */
  readonly id: string;
  /** Its job directory (task-file.ts). */
  readonly dir: string;
  /** The job's stderr, when it is not `<dir>/stderr` (a job that runs a group of tasks has one for all). */
  readonly stderr?: string;
}

export type TaskEvent =
  | { type: 'progress'; progress: Progress }
  | { type: 'log'; message: string }
  /**
   * A cluster job is about to be submitted for the task (its id still empty). The executor waits
   * for the handler: the key's lease names the job's directory before the job can start, so a
   * driver killed between the submission and the record of its id leaves a job the next driver
   * can still find and adopt, rather than one that runs beside the task's second execution.
   */
  | { type: 'submitting'; job: JobRef }
  /** A cluster job was submitted for the task: the scheduler records it with the key's lease. */
  | { type: 'submitted'; job: JobRef };

/** Where a task's events go; the handler of `submitting` returns what the executor waits for. */
export type OnEvent = (event: TaskEvent) => void | Promise<void>;

export type TaskOutcome = { ok: true; value: Json } | { ok: false; error: string; stack?: string };

export interface Executor {
  /** How many tasks it runs at once. */
  readonly slots: number;
  run(task: StageTask, onEvent: OnEvent, signal: AbortSignal): Promise<TaskOutcome>;
  close(): Promise<void>;
  /**
   * Where a task's files go, when the executor needs them somewhere other than the store's tmp/
   * (a cluster job outlives the driver that submitted it; tmp/ is swept of dead drivers' files).
   */
  newWorkspace?(store: Store): Promise<Workspace>;
  /** Cluster executors: follow a job a previous driver submitted, instead of submitting it again. */
  adopt?(job: JobRef, onEvent: OnEvent, signal: AbortSignal): Promise<TaskOutcome>;
  /**
   * The job to adopt, when a dead driver's job may still produce an outcome: the one it names,
   * or, for a job whose id was not recorded, the one found by its directory. Undefined when
   * there is none (never submitted, or ended without an outcome): the task runs again.
   */
  locate?(job: JobRef): Promise<JobRef | undefined>;
  /** The workspace an adopted job writes into. */
  workspaceOf?(job: JobRef): Workspace;
  /**
   * Each stage's typical seconds from earlier runs (stage name → seconds), and each instance's own
   * last time where it has one (instance id → seconds), given before any task runs: a cluster
   * executor runs quick instances in the driver (--local-below). An instance's own time decides
   * where it has one: one stage's instances can differ a hundredfold (a sweep over widths).
   */
  setEstimates?(seconds: Readonly<Record<string, number>>, byInstance?: Readonly<Record<string, number>>): void;
}

export class InProcessExecutor implements Executor {
  readonly slots = 1;
  run(task: StageTask, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<TaskOutcome> {
    return runTask(task, onEvent, signal);
  }
  async close(): Promise<void> {}
}

let lastTurn = performance.now();
/** A turn of the event loop if the last one was over 50 ms ago (see StageContext.progress). */
function turn(): Promise<void> {
  const now = performance.now();
  if (now - lastTurn < 50) return Promise.resolve();
  lastTurn = now;
  return new Promise((resolve) => setImmediate(resolve));
}

/** Load the stage a task names and run it with a context built from the task. */
export async function runTask(
  task: StageTask,
  onEvent: (event: TaskEvent) => void,
  signal: AbortSignal,
): Promise<TaskOutcome> {
  try {
    let stage = registeredStage(task.stage);
    if (!stage) {
      await importModule(task.moduleUrl);
      stage = registeredStage(task.stage);
    }
    if (!stage) return { ok: false, error: `stage '${task.stage}' is not defined by ${task.moduleUrl}` };
    const store = new Store(task.cacheDir);
    const inputs = stageInputs(stage.inputs, task.inputs);
    const ctx: StageContext<unknown, InputSpecs> = {
      params: task.params,
      inputs: inputs as StageContext<unknown, InputSpecs>['inputs'],
      outDir: task.outDir,
      instance: task.instance,
      key: task.key,
      signal,
      progress: (progress) => {
        onEvent({ type: 'progress', progress });
        return turn();
      },
      log: (message) => onEvent({ type: 'log', message }),
      checkpoint: (state, write) => store.saveCheckpoint(task.key, state, write),
      resume: <S extends Json>() => store.loadCheckpoint<S>(task.key),
    };
    const value = await stage.run(ctx);
    let json: Json;
    try {
      json = JSON.parse(canonicalJson(value === undefined ? null : value, 'output')) as Json;
    } catch (error) {
      return {
        ok: false,
        error: `stage '${task.stage}' returned a value that is not plain JSON (${errorMessage(error)}); return JSON and write anything else into ctx.outDir`,
      };
    }
    return { ok: true, value: json };
  } catch (error) {
    return {
      ok: false,
      error: errorMessage(error),
      ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
    };
  }
}

/** ctx.inputs from the task: plain inputs as artifacts, each gather input as its list of variants. */
function stageInputs(
  specs: InputSpecs,
  given: StageTask['inputs'],
): Record<string, Artifact<unknown> | Variant<unknown>[]> {
  const artifact = (a: TaskInput): Variant<unknown> => ({
    value: a.value,
    dir: a.dir,
    digest: a.digest,
    instance: a.instance,
    labels: a.labels,
    file: (rel: string) => join(a.dir, rel),
  });
  const inputs: Record<string, Artifact<unknown> | Variant<unknown>[]> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.kind === 'gather') {
      inputs[name] = Object.entries(given)
        .filter(([key, a]) => key === gatheredInputName(name, a.instance))
        .map(([, a]) => artifact(a));
    } else if (given[name]) {
      const { instance: _instance, labels: _labels, ...plain } = artifact(given[name]!);
      inputs[name] = plain;
    }
  }
  return inputs;
}
