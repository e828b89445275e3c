/**
 * A stage: a typed params schema, named typed inputs, and a run() that turns them into a JSON
 * value plus files. The stage knows nothing about where it sits in a pipeline; `pipeline.ts`
 * wires stages together and the type of each input is checked against its producer there.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { LineaError } from '../core/errors.ts';
import type { ArtifactDigest, CacheKey, Json } from '../core/json.ts';
import { sourceUrlOf } from '../load/typescript.ts';

/**
 * Declares that a stage consumes an upstream output of type T. It carries only a type: a stage
 * never imports the stage that feeds it, so an edit to the producer's code does not change the
 * consumer's code digest (the consumer reruns only if the producer's *output* changes).
 */
export interface InputSpec<T> {
  readonly kind: 'input';
  readonly description?: string;
  /** Phantom: never set at run time, only carries T. */
  readonly __type?: T;
}

export function input<T>(description?: string): InputSpec<T> {
  return description === undefined ? { kind: 'input' } : { kind: 'input', description };
}

/**
 * Declares that a stage consumes *every* variant of an upstream output: the upstream instances of
 * all ablation values chosen in this run (e.g. a report over the ω sweep). The ablation axes that
 * reach the producer stop at a gather input instead of multiplying the consumer, and the consumer
 * sees each variant with the axis labels that made it.
 */
export interface GatherSpec<T> {
  readonly kind: 'gather';
  readonly description?: string;
  /** Phantom: never set at run time, only carries T. */
  readonly __type?: T;
}

export function gather<T>(description?: string): GatherSpec<T> {
  return description === undefined ? { kind: 'gather' } : { kind: 'gather', description };
}

export type InputSpecs = { readonly [name: string]: InputSpec<unknown> | GatherSpec<unknown> };
/** The output type each input is wired to. */
export type InputValues<I extends InputSpecs> = {
  [K in keyof I]: I[K] extends InputSpec<infer T> ? T : I[K] extends GatherSpec<infer T> ? T : never;
};

/** An upstream artifact as a stage sees it. */
export interface Artifact<T> {
  readonly value: T;
  /** Directory holding the artifact's files (read-only). */
  readonly dir: string;
  readonly digest: ArtifactDigest;
  /** Absolute path of one of the artifact's files. */
  file(relativePath: string): string;
}

/** One variant of a gathered input: the artifact and the ablation labels of the instance that made it. */
export interface Variant<T> extends Artifact<T> {
  /** Instance id of the producer, e.g. `linearize[omega=0.001,start=late]`. */
  readonly instance: string;
  /** axis → value label, for the axes that reach the producer. */
  readonly labels: Readonly<Record<string, string>>;
}

/** What `ctx.inputs` holds: one artifact per plain input, every variant for a gather input. */
export type StageInputs<I extends InputSpecs> = {
  readonly [K in keyof I]: I[K] extends GatherSpec<infer T>
    ? readonly Variant<T>[]
    : I[K] extends InputSpec<infer T>
      ? Artifact<T>
      : never;
};

export interface Progress {
  done: number;
  total: number;
  /** Short status, e.g. `epoch 3/10 loss 0.41`. */
  message?: string;
  /**
   * Numbers measured at step `done` (`{ loss: 0.41, accuracy: 0.87 }`): `linea view` draws each as
   * a curve per instance while it runs, and the run record keeps them.
   */
  metrics?: Readonly<Record<string, number>>;
}

export interface StageContext<P, I extends InputSpecs> {
  readonly params: P;
  readonly inputs: StageInputs<I>;
  /** Empty directory for the stage's files; it becomes the artifact's file tree on success. */
  readonly outDir: string;
  /** Instance id, e.g. `sparsify[omega=0.001]`. */
  readonly instance: string;
  readonly key: CacheKey;
  /**
   * Report progress within a long stage; shown live by the CLI. The promise resolves once the
   * engine's event loop has had a turn (at most every 50 ms, else at once): a stage whose loop is
   * otherwise synchronous can await it so that Ctrl-C and the progress display stay responsive.
   * Leases do not depend on it (their heartbeat runs in its own thread).
   */
  progress(progress: Progress): Promise<void>;
  log(message: string): void;
  /**
   * Save resumable state for this exact cache key. `write` may put files into `dir`. The latest
   * checkpoint replaces earlier ones atomically; all are dropped once the stage's result commits.
   */
  checkpoint(state: Json, write?: (dir: string) => void | Promise<void>): Promise<void>;
  /** The last checkpoint saved under this cache key by a run that did not finish, if any. */
  resume<S extends Json = Json>(): Promise<{ state: S; dir: string } | undefined>;
  /** Aborted when the run is interrupted (Ctrl-C); long loops should stop early. */
  readonly signal: AbortSignal;
}

/**
 * What a stage declares about its environment: names of environment variables, or a function of
 * the stage's params computing values (e.g. digests of the data files the params point at, which
 * the stage reads at run time). Only declared facts enter the key.
 */
export type EnvSpec<P = never> = readonly string[] | ((params: P) => Record<string, Json>);

/**
 * What a stage asks of the machine that runs it. Not part of the cache key (it does not change
 * the result); cluster executors map it to their flags (slurm: --cpus-per-task, --mem,
 * --gres=gpu:N, --time). Presets and `--resources <stage>.<field>=<value>` override it.
 */
export interface Resources {
  readonly cpus?: number;
  /** As Slurm writes it: `4G`, `500M`. */
  readonly memory?: string;
  readonly gpus?: number;
  /** As Slurm writes it: `30` (minutes), `2:00:00`, `1-00:00:00`. */
  readonly time?: string;
  /** Resubmit a job that ended in one of these states (e.g. NODE_FAIL, PREEMPTED), at most `times` times. */
  readonly retry?: { readonly on: readonly string[]; readonly times: number };
  /**
   * Run in the driver process even under a cluster executor (Snakemake's `localrules`): for a
   * stage that takes a second or less, a job's submission, queue and poll cost more than the
   * stage. A cluster executor also runs in the driver any instance whose earlier runs took less
   * than `--local-below` seconds; `local: false` keeps a stage a job whatever its history.
   */
  readonly local?: boolean;
}

export interface StageConfig<P extends z.ZodType, I extends InputSpecs, O> {
  /** Unique across the pipeline; names the stage in keys, logs and the CLI. */
  readonly name: string;
  readonly description?: string;
  readonly params: P;
  readonly inputs?: I;
  readonly env?: EnvSpec<z.output<P>>;
  /** Copy this stage's files to the run's output directory (`results/`, or `--out`) after each run. */
  readonly publish?: boolean;
  readonly resources?: Resources;
  run(ctx: StageContext<z.output<P>, I>): O | Promise<O>;
}

export interface Stage<P extends z.ZodType = z.ZodType, I extends InputSpecs = InputSpecs, O = unknown>
  extends StageConfig<P, I, O> {
  readonly inputs: I;
  /** file: URL of the module that defined the stage: the root of its code closure. */
  readonly moduleUrl: string;
  /** Phantom: the output type, read by the pipeline wiring. */
  readonly __output?: O;
}

export type AnyStage = Stage<z.ZodType, InputSpecs, unknown>;

/** Every stage defined in this process, by name: worker processes find stages here. */
const registry = new Map<string, AnyStage>();

export function defineStage<P extends z.ZodType, I extends InputSpecs = {}, O = unknown>(
  config: StageConfig<P, I, O> & { readonly moduleUrl?: string },
): Stage<P, I, O> {
  if (!/^[a-z][a-z0-9-]*$/i.test(config.name)) {
    throw new LineaError(
      `stage name ${JSON.stringify(config.name)} is invalid: use letters, digits and '-' (it appears in ids like name[axis=value])`,
      'config',
    );
  }
  const moduleUrl = config.moduleUrl ?? callerModuleUrl();
  const stage = { ...config, inputs: (config.inputs ?? {}) as I, moduleUrl } as Stage<P, I, O>;
  const existing = registry.get(config.name);
  if (existing && existing.moduleUrl !== moduleUrl) {
    throw new LineaError(
      `stage '${config.name}' is defined twice: in ${fileURLToPath(existing.moduleUrl)} and ${fileURLToPath(moduleUrl)}; stage names must be unique`,
      'config',
    );
  }
  registry.set(config.name, stage);
  return stage;
}

export function registeredStage(name: string): AnyStage | undefined {
  return registry.get(name);
}

/** The file that called defineStage, from V8's structured stack. */
function callerModuleUrl(): string {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, stack) => stack;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder, defineStage);
    const file = holder.stack?.[0]?.getFileName();
    if (!file)
      throw new LineaError(
        'defineStage could not tell which module called it; pass moduleUrl: import.meta.url',
        'config',
      );
    // A module loaded from its compiled mirror (module-plan.ts) is still defined by its .ts file.
    return sourceUrlOf(file.startsWith('file:') ? file : pathToFileURL(file).href);
  } finally {
    Error.prepareStackTrace = original;
  }
}
