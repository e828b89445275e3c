/**
 * Runs stage instances in dependency order, `slots` at a time. For each one: compute its key
 * from its upstream digests; take the cached result if the store has it whole; otherwise take
 * the key's lease (or wait for whoever holds it), run the stage in a fresh workspace, commit the
 * artifact and index the run. Instances with equal keys run once, in this process or across
 * processes sharing the store.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fingerprintOf, lookup, lookupNow } from './lookup.ts';
import { chainLengths, PrioritySlots } from './priority.ts';
import type { Project } from '../project/project.ts';
import { errorMessage } from '../core/errors.ts';
import type { Executor, OnEvent, StageTask, TaskEvent, TaskOutcome } from '../execute/executor.ts';
import { cacheKey, type Fingerprint } from '../key/fingerprint.ts';
import type { Instance } from '../define/instances.ts';
import type { ArtifactDigest, CacheKey, Json } from '../core/json.ts';
import { type HeldLease, jobLabel, type LeaseHolder } from '../coordinate/lease.ts';
import { RECORD_LOG_LINES, type RunRecord } from '../index/run-index.ts';
import type { Workspace } from '../store/store.ts';
import { hostName } from '../core/process.ts';

export type RunStatus = 'ran' | 'cached' | 'failed';

export interface StageResult {
  readonly id: string;
  readonly stage: string;
  readonly key: CacheKey | null;
  readonly status: RunStatus;
  /** The stage's own run time when it ran; the store lookup when cached; 0 when it shared the
   * computation of an instance with the same key in this run. */
  readonly seconds: number;
  /** Why it failed, or which upstream blocked it. */
  readonly error?: string;
}

/** What the scheduler tells whoever displays progress. */
export interface RunObserver {
  started(id: string): void;
  waiting(id: string, holder: LeaseHolder): void;
  event(id: string, event: TaskEvent): void;
  finished(result: StageResult): void;
}

interface Produced {
  readonly key: CacheKey;
  readonly digest: ArtifactDigest;
  readonly value: Json;
}

/**
 * `seconds`: how long the stage itself ran (not the wait for a slot or a lease), when it ran.
 * `committed`, on a result that ran: settles once its object is durable and its run recorded and
 * indexed (commitRun), and its lease released. Dependents start on `produced` before that; the
 * instance is reported done only then.
 */
type Outcome =
  | { ok: true; produced: Produced; status: 'ran' | 'cached'; seconds?: number; readonly committed?: Promise<void> }
  | { ok: false; error: string };

export interface RunOptions {
  readonly executor: Executor;
  readonly observer: RunObserver;
  readonly signal: AbortSignal;
  /** How often to look again at a key another process holds (ms). */
  readonly pollMs?: number;
  /** Hash every file of a cached result before using it (not only those whose stamp changed). */
  readonly verifyInputs?: boolean;
}

/** The longest the scheduler runs stages without letting the event loop in (ms). */
const TURN_MS = 5;

/**
 * A chain of quick stages proceeds in microtasks and would never give the event loop a turn:
 * answers from the disk thread (commits), signals, progress and heartbeats would wait for the
 * whole chain. Awaiting the returned function gives a turn when TURN_MS have passed since the last.
 */
function eventLoopTurns(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < TURN_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}

export async function runInstances(
  project: Project,
  instances: readonly Instance[],
  options: RunOptions,
): Promise<StageResult[]> {
  const slots = new PrioritySlots(options.executor.slots);
  // Worked out when an instance first needs a slot: a run whose every result is cached never does.
  let chains: Map<string, number> | undefined;
  const priorityOf = (id: string) => {
    chains ??= chainLengths(instances);
    return chains.get(id) ?? 0;
  };
  const byKey = new Map<CacheKey, Promise<Outcome>>();
  const outcomes = new Map<string, Promise<Outcome>>();
  const { results, finish } = resultBook(options.observer);
  /** Instances whose result is in use downstream while its commit completes (commitRun). */
  const recording: Promise<void>[] = [];
  const turn = eventLoopTurns();

  const runOne = async (instance: Instance): Promise<Outcome> => {
    const upstream = await Promise.all(
      Object.entries(instance.inputs).map(async ([name, inst]) => [name, inst, await outcomes.get(inst.id)!] as const),
    );
    await turn();
    const failed = upstream.filter(([, , o]) => !o.ok);
    const started = Date.now();
    if (failed.length) {
      const error = `blocked: upstream ${failed.map(([, inst]) => inst.id).join(', ')} failed`;
      finish(instance, null, 'failed', 0, error);
      return { ok: false, error };
    }
    const produced = Object.fromEntries(upstream.map(([name, , o]) => [name, (o as { produced: Produced }).produced]));
    const fingerprint = fingerprintOf(project, instance, digestsOf(produced));
    const key = cacheKey(fingerprint);

    // Equal keys within this run (e.g. variants that coincide) share one computation.
    let outcome = byKey.get(key);
    const shared = outcome !== undefined;
    if (!outcome) {
      // An index or lease server that fails mid-run fails this instance (and its dependents), never the process.
      outcome = obtain(
        { project, instance, key, fingerprint, inputs: produced, options, priority: priorityOf(instance.id) },
        slots,
      ).catch((error: unknown): Outcome => ({ ok: false, error: errorMessage(error) }));
      byKey.set(key, outcome);
    }
    const result = await outcome;
    // A shared outcome was computed (and timed) under another instance; timing the wait here
    // would show a cached row that seemingly took as long as the queue ahead of it.
    const seconds = shared
      ? 0
      : result.ok && result.status === 'ran' && result.seconds !== undefined
        ? result.seconds
        : (Date.now() - started) / 1000;
    const status: RunStatus = !result.ok ? 'failed' : shared ? 'cached' : result.status;
    if (result.ok && result.committed) {
      // Done is said once the result is committed: what a run reports as ran survives a kill.
      recording.push(
        result.committed.then(
          () => finish(instance, key, status, seconds),
          (error: unknown) => finish(instance, key, 'failed', seconds, errorMessage(error)),
        ),
      );
    } else {
      finish(instance, key, status, seconds, result.ok ? undefined : result.error);
    }
    return result;
  };

  // What is cached is settled first, in one synchronous pass (lookup.ts lookupNow): a no-op pays
  // its lookups and not an await per step. Whatever that pass cannot settle (a miss, a server
  // index, a file to rehash) and everything downstream of it goes through runOne.
  if (!options.verifyInputs) {
    const settled = new Map<string, Produced>();
    const settledKeys = new Map<CacheKey, Produced>();
    for (const instance of instances) {
      const inputs: Record<string, Produced> = {};
      for (const [name, inst] of Object.entries(instance.inputs)) {
        const p = settled.get(inst.id);
        if (!p) break;
        inputs[name] = p;
      }
      if (Object.keys(inputs).length !== Object.keys(instance.inputs).length) continue;
      const started = Date.now();
      const key = cacheKey(fingerprintOf(project, instance, digestsOf(inputs)));
      let produced = settledKeys.get(key);
      const shared = produced !== undefined;
      if (!produced) {
        const found = lookupNow(project, key, (digest) => project.activity.useNow(digest));
        if (!found) continue;
        project.store.touch(found.record.digest);
        produced = { key, digest: found.record.digest, value: found.manifest.value };
        settledKeys.set(key, produced);
        byKey.set(key, Promise.resolve({ ok: true, status: 'cached', produced }));
      }
      settled.set(instance.id, produced);
      outcomes.set(instance.id, Promise.resolve({ ok: true, status: 'cached', produced }));
      finish(instance, key, 'cached', shared ? 0 : (Date.now() - started) / 1000);
    }
  }
  for (const instance of instances) if (!outcomes.has(instance.id)) outcomes.set(instance.id, runOne(instance));
  await Promise.all(outcomes.values());
  await Promise.all(recording);
  return instances.map((i) => results.get(i.id)!);
}

/** Each instance's result, kept and told to the observer as it is decided. */
function resultBook(observer: RunObserver) {
  const results = new Map<string, StageResult>();
  const finish = (instance: Instance, key: CacheKey | null, status: RunStatus, seconds: number, error?: string) => {
    const result: StageResult = {
      id: instance.id,
      stage: instance.stage.name,
      key,
      status,
      seconds,
      ...(error !== undefined ? { error } : {}),
    };
    results.set(instance.id, result);
    observer.finished(result);
  };
  return { results, finish };
}

const digestsOf = (produced: Readonly<Record<string, Produced>>): Record<string, ArtifactDigest> =>
  Object.fromEntries(Object.entries(produced).map(([name, p]) => [name, p.digest]));

/** One instance to obtain: from the cache, from whoever computes it, or by running it. */
interface Job {
  readonly project: Project;
  readonly instance: Instance;
  readonly key: CacheKey;
  readonly fingerprint: Fingerprint;
  /** Each input's producing key, artifact digest and value. */
  readonly inputs: Readonly<Record<string, Produced>>;
  readonly options: RunOptions;
  /** Its claim on a free slot (priority.ts): the longest chain of instances below it. */
  readonly priority: number;
}

async function obtain(job: Job, slots: PrioritySlots): Promise<Outcome> {
  const { project, key, options } = job;
  const cached = async (): Promise<Outcome | undefined> => {
    const found = await lookup(project, key, (digest) => project.activity.use(digest), {
      rehash: Boolean(options.verifyInputs),
    });
    if (!found.hit) {
      // A result that is there but damaged is recomputed: say why, as status would.
      if (found.problem && found.record)
        options.observer.event(job.instance.id, {
          type: 'log',
          message: `cached result ${found.record.digest.slice(0, 12)} ${found.problem}; recomputing it`,
        });
      return undefined;
    }
    project.store.touch(found.record.digest);
    return { ok: true, status: 'cached', produced: { key, digest: found.record.digest, value: found.manifest.value } };
  };
  const hit = await cached();
  if (hit) return hit;

  let announcedWait = false;
  for (;;) {
    if (options.signal.aborted) return { ok: false, error: 'interrupted' };
    const release = await slots.acquire(job.priority);
    try {
      // Queued for a slot before an interrupt: start nothing new after it.
      if (options.signal.aborted) return { ok: false, error: 'interrupted' };
      let acquired: Awaited<ReturnType<typeof project.leases.tryAcquire>>;
      try {
        acquired = await project.leases.tryAcquire(key);
      } catch (error) {
        // The lease server is unreachable: this instance fails, the run goes on with what it can.
        return { ok: false, error: errorMessage(error) };
      }
      if (acquired.ok) {
        const { lease } = acquired;
        let outcome: Outcome;
        try {
          // Someone may have committed this key between our lookup and our lease.
          outcome = options.signal.aborted
            ? { ok: false, error: 'interrupted' }
            : ((await cached()) ?? (await execute(job, lease, acquired.inherited)));
        } catch (error) {
          await lease.release();
          throw error;
        }
        // The lease is held until the run is recorded: until then another process that wants
        // the key waits for it, rather than finding no record and computing it again.
        if (outcome.ok && outcome.committed)
          return { ...outcome, committed: outcome.committed.finally(() => lease.release()) };
        await lease.release();
        return outcome;
      }
      if (!announcedWait) options.observer.waiting(job.instance.id, acquired.holder);
      announcedWait = true;
    } finally {
      release();
    }
    // Another process holds this key: wait for its result rather than computing it twice.
    await sleep(options.pollMs ?? 200);
    const done = await cached();
    if (done) return done;
  }
}

/**
 * Run the instance under its lease: build the task, hand it to the executor (or follow the job a
 * dead driver left running, when the executor can adopt it), then commit and index the result.
 */
async function execute(job: Job, lease: HeldLease, inherited?: LeaseHolder): Promise<Outcome> {
  const { project, instance, options } = job;
  const { executor, signal } = options;
  const startedAt = new Date();
  // A stage may hold the main thread for long: the in-use record's heartbeat moves to its thread.
  project.activity.keepAlive();
  options.observer.started(instance.id);
  const told = new Told();
  const onEvent = (event: TaskEvent): Promise<void> | undefined => {
    // A job goes into the lease, its directory before it is submitted (the executor waits for
    // that) and its id after: if this driver dies, the next one adopts the job.
    if (event.type === 'submitting') return lease.recordJob(event.job).catch(() => undefined);
    if (event.type === 'submitted') void lease.recordJob(event.job).catch(() => undefined);
    told.add(event);
    options.observer.event(instance.id, event);
    return undefined;
  };
  const previous =
    inherited?.job && executor.adopt && executor.workspaceOf ? await executor.locate?.(inherited.job) : undefined;
  let workspace: Workspace;
  let outcome: TaskOutcome;
  if (previous && inherited) {
    await lease.recordJob(previous);
    onEvent({
      type: 'log',
      message: `adopting ${jobLabel(previous)}, left running by pid ${inherited.pid} on ${inherited.host}`,
    });
    workspace = executor.workspaceOf!(previous);
    outcome = await executor.adopt!(previous, onEvent, signal).catch((error: unknown) => failed(error));
    if (outcome.ok && !existsSync(workspace.dir)) {
      // The driver that died had sealed the job's files into the store (the rename that makes a
      // workspace its object) but not recorded them: nothing says which object is this key's. A
      // crash before the commit point costs the work, as it does in process: run it again.
      onEvent({
        type: 'log',
        message: `${jobLabel(previous)} finished, but the driver that died had moved its files into the store without recording them; running it again`,
      });
      // Its job directory (task, events, logs) has nothing left to adopt.
      await project.store.discard(dirname(workspace.dir)).catch(() => undefined);
      ({ workspace, outcome } = await runFresh(job, onEvent));
    }
  } else {
    // A dead driver's job that can produce no outcome (never submitted, or ended without one):
    // its directory goes, so that nothing of it is left to run or to adopt.
    if (inherited?.job && executor.workspaceOf)
      await project.store.discard(dirname(executor.workspaceOf(inherited.job).dir)).catch(() => undefined);
    ({ workspace, outcome } = await runFresh(job, onEvent));
  }
  const result = await recordOutcome(job, outcome, workspace, lease, startedAt, told);
  // A committed workspace became its object (store.ts seal): nothing is left to discard.
  if (!result.ok) await project.store.discard(workspace.dir);
  // A cluster job's directory (its task, events, logs) goes once its result is recorded: until
  // then a driver that dies leaves the job for the next one to adopt.
  if (outcome.ok && executor.newWorkspace) {
    const jobDir = dirname(workspace.dir);
    // Tidying, not committing: a folder that will not go does not fail a recorded result.
    const tidy = () => project.store.discard(jobDir).catch(() => undefined);
    if (result.ok && result.committed) return { ...result, committed: result.committed.then(tidy) };
    await tidy();
  }
  return result;
}

/** Run the job's task in a new workspace. */
async function runFresh(job: Job, onEvent: OnEvent): Promise<{ workspace: Workspace; outcome: TaskOutcome }> {
  const { project, options } = job;
  const { executor, signal } = options;
  const workspace = executor.newWorkspace
    ? await executor.newWorkspace(project.store)
    : await project.store.newWorkspace();
  const outcome = await executor.run(taskFor(job, workspace), onEvent, signal).catch((error: unknown) => failed(error));
  return { workspace, outcome };
}

/** What became of a task: a failure recorded, or its result sealed and on its way to the record. */
async function recordOutcome(
  job: Job,
  outcome: TaskOutcome,
  workspace: Workspace,
  lease: HeldLease,
  startedAt: Date,
  told: Told,
): Promise<Outcome> {
  try {
    if (!outcome.ok) return await failedRun(job, outcome);
    // A holder whose lease was broken (thought dead) must not commit: the new holder computes it.
    if (!(await lease.stillHeld()))
      return { ok: false, error: 'lost its lease while running; another run took the key over' };
    return await commitRun(job, workspace, outcome.value, startedAt, told);
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

const failed = (error: unknown): TaskOutcome => ({ ok: false, error: errorMessage(error) });

function taskFor({ project, instance, key, inputs }: Job, workspace: Workspace): StageTask {
  return {
    instance: instance.id,
    stage: instance.stage.name,
    moduleUrl: instance.stage.moduleUrl,
    key,
    params: instance.params,
    inputs: Object.fromEntries(
      Object.entries(inputs).map(([name, p]) => {
        const producer = instance.inputs[name]!;
        const dir = project.store.filesDir(p.digest);
        return [name, { value: p.value, dir, digest: p.digest, instance: producer.id, labels: producer.labels }];
      }),
    ),
    outDir: workspace.outDir,
    cacheDir: project.store.root,
    ...(instance.resources ? { resources: instance.resources } : {}),
  };
}

async function failedRun(
  { project, instance, key, options }: Job,
  outcome: TaskOutcome & { ok: false },
): Promise<Outcome> {
  const error = options.signal.aborted ? 'interrupted' : outcome.error;
  if (!options.signal.aborted) {
    const at = new Date().toISOString();
    await project.index.recordFailure({ key, instance: instance.id, stage: instance.stage.name, error, at });
  }
  if (outcome.stack && process.env.LINEA_DEBUG)
    options.observer.event(instance.id, { type: 'log', message: outcome.stack });
  return { ok: false, error };
}

/**
 * Seal the workspace into the store, then record the run once the object is durable; the index
 * write is the commit point. The outcome is returned sealed, with the rest as `committed`, so
 * dependents start while this object's fsyncs run in a batch with others (durability.ts).
 */
async function commitRun(job: Job, workspace: Workspace, value: Json, startedAt: Date, told: Told): Promise<Outcome> {
  const { project, instance, key, fingerprint, inputs } = job;
  // In use before it is published: a gc beside this run must not take it (store.ts seal).
  const sealed = await project.store.seal(workspace, value, (d) => project.activity.use(d));
  const { digest, stamp, known } = sealed;
  const record: RunRecord = {
    key,
    fingerprint,
    digest,
    stamp,
    ...(known ? { manifest: known } : {}),
    stage: instance.stage.name,
    node: instance.node.id,
    instance: instance.id,
    upstream: Object.fromEntries(Object.entries(inputs).map(([name, p]) => [name, p.key])),
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    host: hostName(),
    pid: process.pid,
    project: project.id,
    ...told.record(),
  };
  const committed = (async () => {
    // The object on disk, then the store's copy of the record, in one request that completes
    // whatever this thread does next: if the process dies or the index is unreachable, a rerun
    // still finds the result.
    // The index entry, the commit point, comes after both; for an index of local files it goes
    // in the same request, so the commit waits for one answer from the disk thread. Each answer
    // needs a turn of this thread's event loop, which a stage run here may hold for minutes.
    await project.index.put(record, (files) => project.store.sync(sealed, { key, value: record }, files));
    // Checkpoints exist to resume this key; once its result is committed they are dead weight.
    await project.store.dropCheckpoints(key);
  })();
  // Settled by whoever awaits it (runInstances); this keeps a failure from counting as unhandled meanwhile.
  committed.catch(() => undefined);
  return { ok: true, status: 'ran', seconds: record.seconds, produced: { key, digest, value }, committed };
}

/** What a running stage reported that its record keeps: its metrics and its last log lines. */
class Told {
  private readonly metrics: Record<string, [number, number][]> = {};
  private readonly log: string[] = [];

  add(event: TaskEvent): void {
    if (event.type === 'log') {
      this.log.push(event.message);
      if (this.log.length > RECORD_LOG_LINES) this.log.shift();
    } else if (event.type === 'progress') {
      for (const [name, value] of Object.entries(event.progress.metrics ?? {})) {
        if (!Number.isFinite(value)) continue;
        const series = this.metrics[name] ?? [];
        series.push([event.progress.done, value]);
        this.metrics[name] = series;
      }
    }
  }

  record(): Pick<RunRecord, 'metrics' | 'log'> {
    return {
      ...(Object.keys(this.metrics).length ? { metrics: this.metrics } : {}),
      ...(this.log.length ? { log: this.log } : {}),
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
