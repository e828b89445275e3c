/**
 * The slurm executor: each task is a batch job running `linea worker --task <job dir>` on a node.
 * The job writes its outcome into the job directory on the shared filesystem, and that file is
 * the truth; Slurm's job state only explains a job that ended without one (cancelled, out of
 * time or memory, its node lost). Job states are polled for all jobs at once, one `squeue` call
 * per interval, with `sacct -c` (the job completion log, no slurmdbd needed) for jobs squeue no
 * longer knows; a job neither can see is failed after a bound, never waited on forever.
 *
 * A job goes into the key's lease twice: its directory before sbatch (the `submitting` event,
 * awaited) and its id after (`submitted`). A rerun after the driver died adopts a job still
 * running instead of submitting it again, finding it by its output path (`squeue -O StdOut`)
 * when the driver died before it recorded the id: no window lets a job run unknown to the lease.
 *
 * Small work does not pay for a job. A stage marked `local` (Snakemake's localrules), or whose
 * earlier runs took less than `localBelow` seconds, runs in the driver. Tasks ready at the same
 * time are grouped, up to `group` per job (`linea worker --task a --task b…` runs them one after
 * another, each into its own job directory): one submission, queue wait and worker start-up for
 * all. Each task still has its own directory, outcome and lease entry (the group's job id), so
 * adoption, one execution per key and a failure blocking only its own dependents hold as for a
 * job of one; a task its group's job died before reaching is submitted again on its own.
 *
 * By default the jobs are pilots (pilot.ts): each of the --jobs slots is a job that runs one task
 * after another, as the driver hands them over, until it has had nothing to do for `pilotIdle`
 * seconds. A task in a pilot is followed, adopted and failed exactly as a task in a job of its
 * own (its lease names the pilot's job and the task's directory); a pilot that dies before taking
 * up its task has the task submitted again in a job of its own. Tasks with a time limit always
 * get a job of their own: a pilot's limit would be the sum of its tasks'.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { errorMessage } from '../core/errors.ts';
import { wakeOnChange } from '../core/wait.ts';
import type { Executor, JobRef, OnEvent, StageTask, TaskOutcome } from './executor.ts';
import type { Store, Workspace } from '../store/store.ts';
import { runTask } from './executor.ts';
import { newJobDir, readEvents, readOutcome, wasStarted, writeTaskFile } from './task-file.ts';
import { assign, isAssigned, isPilotDir, keep, KEEP_EVERY_MS, newPilotDir, stop } from './pilot.ts';

/** Slurm job states (squeue/sacct) that mean the job will not run any more. */
const TERMINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
]);

export interface SlurmOptions {
  /** How many jobs may be queued or running at once (--jobs). */
  readonly maxQueued: number;
  /** Project root: jobs run there (sbatch --chdir), and find stage modules relative to it. */
  readonly root: string;
  readonly cacheDir: string;
  /** $LINEA_SLURM_PARTITION, $LINEA_SLURM_ACCOUNT, $LINEA_SLURM_ARGS (extra sbatch arguments, space-separated). */
  readonly partition?: string;
  readonly account?: string;
  readonly extraArgs?: readonly string[];
  /** How often job states and job directories are looked at (ms; $LINEA_SLURM_POLL_MS, default 1000). */
  readonly pollMs?: number;
  /** How long a job that ended may take to show its outcome file on a slow shared filesystem (ms). */
  readonly outcomeGraceMs?: number;
  /** Instances of stages whose earlier runs took less than this (seconds) run in the driver (--local-below; 0: none). */
  readonly localBelow?: number;
  /** At most this many tasks ready together share one job (--group; 1: a job each). */
  readonly group?: number;
  /**
   * Jobs are pilots that run task after task, and leave after this many idle seconds
   * (--pilot-idle; 0: a job per task). Grouping (group > 1) submits batch jobs instead.
   */
  readonly pilotIdle?: number;
  /**
   * Seconds a task waits for a busy or starting pilot of its kind before another starts for it
   * (--pilot-ramp; 0: a pilot for each task while job slots are free). See DEFAULT_PILOT_RAMP.
   */
  readonly pilotRamp?: number;
}

/** A pilot job of this driver's (pilot.ts). */
interface Pilot {
  readonly dir: string;
  /** The resources its tasks ask for (resourceKind): a job has one set of flags. */
  readonly kind: string;
  /** Its Slurm id; empty while it is being submitted. */
  id: string;
  /** Whether a task of this driver's is in it (a pilot runs one at a time). */
  busy: boolean;
}

/** A task waiting for a job: it joins the next group submitted. */
interface Waiting extends Member {
  readonly submitted: (job: JobRef) => void;
  readonly failed: (error: unknown) => void;
}

/** A task going into a job: its directory and where its events (and the job's record) go. */
interface Member {
  readonly dir: string;
  readonly task: StageTask;
  readonly onEvent: OnEvent;
}

/** The first look at a job's directory after submission (ms); each later one waits twice as long, up to pollMs. */
const FIRST_LOOK_MS = 50;

/** How long a ready task waits for others to share its job: the scheduler hands over a burst in well under this. */
const GATHER_MS = 25;

/**
 * How long a pilot waits for its next task (--pilot-idle): long enough to bridge the driver's
 * commit and the next instance's inputs, short enough not to hold a cluster's CPUs for nothing.
 */
export const DEFAULT_PILOT_IDLE = 30;

/**
 * --pilot-ramp's default (seconds). Pilots start as work waits for them: the first of a kind at
 * once; then a task that has waited this long for a busy or starting pilot may start another, and
 * in each such interval at most as many start as are alive (their number at most doubles per
 * interval). A pilot's start costs seconds and CPU (Slurm's allocation, a node process loading
 * the engine and the stage's libraries): work that the pilots already there would finish sooner
 * than a new one could start does not pay for one, and waiting about a start's time before
 * starting one is never more than twice as slow as starting at once (the ski-rental bound). Long
 * stages get every slot a few intervals later. The smoke preset with --jobs 4 on the 2-core dev
 * machine started four pilots at once, whose starts competed for the cores (each pilot more added
 * about 0.8 s): 5.8–6.7 s a run at 0, 4.0–6.5 s at 1 (one to four pilots, by how long its bursts
 * of small instances queued), 4.3–5.1 s at 2, one pilot (2026-12-05, four runs each).
 */
export const DEFAULT_PILOT_RAMP = 2;

interface JobState {
  readonly state: string;
  readonly reason?: string;
}

const LINEA = fileURLToPath(new URL('../../../bin/linea.js', import.meta.url));

export class SlurmExecutor implements Executor {
  readonly slots: number;
  readonly name = 'slurm';
  private readonly pollMs: number;
  private readonly graceMs: number;
  /** Job id → its latest state, refreshed by one batched poll for every job followed. */
  private readonly states = new Map<string, JobState | 'unknown'>();
  private poll: Promise<void> | undefined;
  private lastPoll = 0;
  /** Job id → how many tasks still follow it (a group's tasks share one job). */
  private readonly followers = new Map<string, number>();
  private readonly maxJobs: number;
  private readonly group: number;
  private readonly localBelow: number;
  private estimates: Readonly<Record<string, number>> = {};
  private instanceEstimates: Readonly<Record<string, number>> = {};
  /** The driver's turn: settles when the task it runs now (if any) is done. */
  private driverTurn: Promise<void> = Promise.resolve();
  private readonly waiting: Waiting[] = [];
  /** Jobs this executor submitted that some task still follows: at most maxJobs. */
  private jobsInFlight = 0;
  /** Who waits for a job slot or a pilot to free (each looks again when woken). */
  private freed: (() => void)[] = [];
  /** Pilot jobs alive, each holding a job slot; none when pilotIdle is 0 or tasks are grouped. */
  private readonly pilots: Pilot[] = [];
  /** The kinds of the pilots being submitted now (not yet in `pilots`), one entry each. */
  private readonly submitting: string[] = [];
  private readonly pilotRampMs: number;
  /** The ramp's current interval: when it began, and the pilots started in it after a wait. */
  private rampFrom = 0;
  private rampStarted = 0;
  private readonly pilotIdle: number;
  private keeping: NodeJS.Timeout | undefined;
  /** Jobs this driver submitted (each holds a job slot until no task follows it). */
  private readonly submittedHere = new Set<string>();
  /**
   * Job id → the folder a group's job writes its stdout and stderr to. It is the group's, not its
   * first task's: a task's folder goes when that task is recorded, and a later task of the group
   * that fails must still show the job's stderr. It goes when no task follows the job any more.
   */
  private readonly groupLogs = new Map<string, string>();
  private gathering: NodeJS.Timeout | undefined;

  constructor(private readonly options: SlurmOptions) {
    this.maxJobs = Math.max(1, options.maxQueued);
    this.group = Math.max(1, Math.floor(options.group ?? 1));
    this.localBelow = options.localBelow ?? 0;
    this.pilotIdle = this.group === 1 ? Math.max(0, options.pilotIdle ?? DEFAULT_PILOT_IDLE) : 0;
    this.pilotRampMs = 1000 * Math.max(0, options.pilotRamp ?? DEFAULT_PILOT_RAMP);
    // Tasks a group could take, beyond the jobs queued: the scheduler hands over that many at once.
    this.slots = this.maxJobs * this.group;
    this.pollMs = options.pollMs ?? Number(process.env.LINEA_SLURM_POLL_MS ?? 1000);
    this.graceMs = options.outcomeGraceMs ?? 5000;
  }

  setEstimates(seconds: Readonly<Record<string, number>>, byInstance: Readonly<Record<string, number>> = {}): void {
    this.estimates = seconds;
    this.instanceEstimates = byInstance;
  }

  /** What earlier runs say this task takes: its instance's own last time, else its stage's typical one. */
  private estimate(task: StageTask): number | undefined {
    return this.instanceEstimates[task.instance] ?? this.estimates[task.stage];
  }

  /** Whether a task runs in the driver: its stage says so, or it is known to take less than localBelow. */
  private runsInDriver(task: StageTask): boolean {
    if (task.resources?.local !== undefined) return task.resources.local;
    const seconds = this.estimate(task);
    return seconds !== undefined && seconds < this.localBelow;
  }

  /**
   * Run a task in the driver once the one before it there is done. Stages share the process's
   * tensor engine and its buffers, and were written to run one at a time as in process: two
   * interleaved at their awaits corrupted the heap (`corrupted size vs. prev_size`, the default
   * pipeline with its linearity sweep in the driver, 2026-12-05).
   */
  private inDriver(task: StageTask, onEvent: OnEvent, signal: AbortSignal): Promise<TaskOutcome> {
    const outcome = this.driverTurn.then(() => runTask(task, onEvent, signal));
    this.driverTurn = outcome.then(
      () => undefined,
      () => undefined,
    );
    return outcome;
  }

  /** Jobs write into their own directory under <cache>/jobs, which no sweep of tmp/ touches. */
  async newWorkspace(_store: Store): Promise<Workspace> {
    return (await newJobDir(this.options.cacheDir)).workspace;
  }

  async run(task: StageTask, onEvent: OnEvent, signal: AbortSignal): Promise<TaskOutcome> {
    if (this.runsInDriver(task)) {
      const seconds = this.estimate(task);
      onEvent({
        type: 'log',
        message:
          task.resources?.local === true
            ? 'runs in the driver (the stage is local)'
            : `runs in the driver (earlier runs took ${seconds?.toFixed(2)} s, under --local-below ${this.localBelow})`,
      });
      return this.inDriver(task, onEvent, signal);
    }
    const dir = dirname(dirname(task.outDir));
    await writeTaskFile(dir, task, this.options.root);
    const retry = task.resources?.retry;
    let regrouped = false;
    for (let attempt = 0; ; attempt++) {
      let job: JobRef;
      let pilot: Pilot | undefined;
      try {
        const member = { dir, task, onEvent };
        if (this.pilotIdle > 0 && !regrouped && !task.resources?.time) ({ job, pilot } = await this.toPilot(member));
        else job = await this.submitted(member, regrouped);
      } catch (error) {
        return { ok: false, error: `sbatch failed: ${errorMessage(error)}` };
      }
      onEvent({ type: 'submitted', job });
      const result = await this.follow(job, onEvent, signal);
      if (pilot) {
        // A pilot that ended (cancelled, out of time, its node lost) or was cancelled with the run takes no more work.
        if (result.state || signal.aborted) this.drop(pilot);
        else this.idle(pilot);
      }
      if (result.outcome.ok || !result.state || signal.aborted) return result.outcome;
      // A group's job that died before this task began did not run it: once more, in a job of its own.
      if (!regrouped && job.stderr && !(await wasStarted(dir))) {
        regrouped = true;
        attempt--;
        onEvent({
          type: 'log',
          message: `slurm job ${job.id} ended ${result.state} before this task began; submitting it alone`,
        });
        continue;
      }
      const again = retry && retry.on.includes(result.state) && attempt < retry.times;
      if (!again) return result.outcome;
      onEvent({
        type: 'log',
        message: `slurm job ${job.id} ended ${result.state}; resubmitting (retry ${attempt + 1} of ${retry.times})`,
      });
    }
  }

  /**
   * The job that will run this task: it waits for a free job slot and for the other tasks ready
   * now, then goes into one job with up to `group` of them (only with tasks that ask for the same
   * resources, and always alone when `alone`).
   */
  private submitted(member: Member, alone: boolean): Promise<JobRef> {
    if (alone || this.group === 1) return this.whenSlot(() => this.submitJob([member]).then((jobs) => jobs[0]!));
    return new Promise<JobRef>((resolve, reject) => {
      this.waiting.push({ ...member, submitted: resolve, failed: reject });
      this.gathering ??= setTimeout(() => {
        this.gathering = undefined;
        void this.dispatch();
      }, GATHER_MS);
    });
  }

  /** Run `submit` once fewer than maxJobs jobs are in flight; the slot is held until the job is followed no more. */
  private async whenSlot<T>(submit: () => Promise<T>): Promise<T> {
    while (this.jobsInFlight >= this.maxJobs) {
      // An idle pilot gives its slot up to a task that needs a job of its own.
      const idle = this.pilots.find((p) => !p.busy);
      if (idle) this.retire(idle);
      else await this.whenFreed();
    }
    this.jobsInFlight++;
    try {
      return await submit();
    } catch (error) {
      this.release();
      throw error;
    }
  }

  private release(): void {
    this.jobsInFlight--;
    this.wakeAll();
  }

  /** Settles when a job slot or a pilot comes free (or after `ms`, when given). */
  private whenFreed(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.freed.push(resolve);
      // Unreferenced: a look again that nobody needs must not hold the process open at its end.
      if (ms !== undefined) setTimeout(resolve, ms).unref();
    });
  }

  private wakeAll(): void {
    for (const wake of this.freed.splice(0)) wake();
  }

  /**
   * The pilot that will run this task, and the task's job as it will be followed: an idle pilot
   * of the task's kind, else a new one while a job slot is free (an idle pilot of another kind
   * gives its slot up), else the first to come free. The lease names the pilot and the task's
   * directory before the task is handed over, as for a job of its own (see the header).
   */
  private async toPilot(member: Member): Promise<{ job: JobRef; pilot: Pilot }> {
    const kind = resourceKind(member.task);
    const since = performance.now();
    for (;;) {
      const idle = this.pilots.find((p) => !p.busy && p.kind === kind);
      if (idle) {
        idle.busy = true;
        const job = this.pilotJob(idle, member.dir);
        await member.onEvent({ type: 'submitting', job });
        if (await assign(idle.dir, member.dir)) return { job, pilot: idle };
        // It left (idle too long) between its last task and this one: another, or a new one.
        this.drop(idle);
        continue;
      }
      if (this.jobsInFlight < this.maxJobs) {
        const wait = this.rampWait(kind, performance.now() - since);
        if (wait <= 0) return this.newPilot(member, kind);
        await this.whenFreed(wait);
        continue;
      }
      const other = this.pilots.find((p) => !p.busy);
      if (other) this.retire(other);
      else await this.whenFreed();
    }
  }

  /**
   * How long (ms) a task that has waited `waited` ms for a pilot of `kind` waits more before it
   * starts one (0: now), while a job slot is free (see DEFAULT_PILOT_RAMP).
   */
  private rampWait(kind: string, waited: number): number {
    const alive = this.pilots.filter((p) => p.kind === kind).length + this.submitting.filter((k) => k === kind).length;
    if (alive === 0) return 0;
    if (waited < this.pilotRampMs) return this.pilotRampMs - waited;
    const now = performance.now();
    if (now - this.rampFrom >= this.pilotRampMs) {
      this.rampFrom = now;
      this.rampStarted = 0;
    }
    if (this.rampStarted >= alive) return this.rampFrom + this.pilotRampMs - now;
    this.rampStarted++;
    return 0;
  }

  private pilotJob(pilot: Pilot, dir: string): JobRef {
    return { executor: 'slurm', id: pilot.id, dir, stderr: join(pilot.dir, 'stderr') };
  }

  /** Submit a pilot with this task in its inbox, so that it starts on it at once. */
  private async newPilot(member: Member, kind: string): Promise<{ job: JobRef; pilot: Pilot }> {
    this.jobsInFlight++;
    this.submitting.push(kind);
    let dir: string | undefined;
    try {
      dir = await newPilotDir(this.options.cacheDir, this.pilotIdle);
      const pilot: Pilot = { dir, kind, id: '', busy: true };
      const job = this.pilotJob(pilot, member.dir);
      await member.onEvent({ type: 'submitting', job });
      await assign(pilot.dir, member.dir);
      const name = `linea:pilot ${member.task.instance}`;
      pilot.id = await this.sbatch(name, pilot.dir, member.task, ['--pilot', pilot.dir]);
      this.pilots.push(pilot);
      this.keeping ??= setInterval(() => {
        for (const p of this.pilots) void keep(p.dir);
      }, KEEP_EVERY_MS).unref();
      return { job: { ...job, id: pilot.id }, pilot };
    } catch (error) {
      if (dir) void rm(dir, { recursive: true, force: true }).catch(() => undefined);
      this.release();
      throw error;
    } finally {
      this.submitting.splice(this.submitting.indexOf(kind), 1);
    }
  }

  private idle(pilot: Pilot): void {
    pilot.busy = false;
    this.wakeAll();
  }

  /** A pilot that takes no more work: its slot is free. */
  private drop(pilot: Pilot): void {
    const at = this.pilots.indexOf(pilot);
    if (at < 0) return;
    this.pilots.splice(at, 1);
    this.release();
  }

  /** Ask an idle pilot to leave, and take its slot. */
  private retire(pilot: Pilot): void {
    void stop(pilot.dir);
    this.drop(pilot);
  }

  /** Submit groups of waiting tasks while job slots are free. */
  private async dispatch(): Promise<void> {
    while (this.waiting.length) {
      const first = this.waiting[0]!;
      const kind = resourceKind(first.task);
      const members = this.waiting.filter((w) => resourceKind(w.task) === kind).slice(0, this.group);
      for (const m of members) this.waiting.splice(this.waiting.indexOf(m), 1);
      await this.whenSlot(() => this.submitJob(members))
        .then((jobs) => {
          for (const [i, m] of members.entries()) m.submitted(jobs[i]!);
        })
        .catch((error: unknown) => {
          for (const m of members) m.failed(error);
        });
    }
  }

  /** Follow a job a previous driver submitted (its id was in the lease). */
  async adopt(job: JobRef, onEvent: OnEvent, signal: AbortSignal): Promise<TaskOutcome> {
    // Several tasks of one group may adopt the same job: each follows it.
    this.followers.set(job.id, (this.followers.get(job.id) ?? 0) + 1);
    // (A group submitted by an older linea wrote into its first task's folder: not ours to remove.)
    if (job.stderr && dirname(job.stderr).endsWith('-group')) this.groupLogs.set(job.id, dirname(job.stderr));
    return (await this.follow(job, onEvent, signal)).outcome;
  }

  /** The job, when it may still produce an outcome (queued or running, or ended with one written). */
  async locate(job: JobRef): Promise<JobRef | undefined> {
    // The queue is asked before the directory: a job that ends between the two has its outcome written.
    const found = job.id ? job : await this.byOutput(job);
    const state = found && (await this.queryStates([found.id])).get(found.id);
    const pilot = job.stderr && isPilotDir(dirname(job.stderr)) ? dirname(job.stderr) : undefined;
    if (state && !TERMINAL.has(state.state)) {
      // A pilot runs what was handed to it: a task the dead driver did not hand over never will be.
      if (pilot && !(await isAssigned(pilot, job.dir)) && !(await wasStarted(job.dir))) return undefined;
      return found;
    }
    // A pilot that is not running (never submitted, or ended) has only its logs left: they go.
    if (pilot) await rm(pilot, { recursive: true, force: true }).catch(() => undefined);
    return (await readOutcome(job.dir)) ? (found ?? job) : undefined;
  }

  /** A job whose driver died before recording its id, found by the stdout path it was submitted with. */
  private async byOutput(job: JobRef): Promise<JobRef | undefined> {
    const stdout = join(job.stderr ? dirname(job.stderr) : job.dir, 'stdout');
    // This user's jobs only: a busy cluster's whole queue is long, and only ours can be this one.
    const queue = await execa(
      'squeue',
      ['-h', '-r', '-t', 'all', '-u', userInfo().username, '-O', 'JobID:|,StdOut:|'],
      {
        reject: false,
        timeout: 30_000,
      },
    );
    // Read as "no such job", a failed squeue would have the stage run again beside its job.
    if (queue.exitCode !== 0)
      throw new Error(
        `squeue failed while looking for the job in ${job.dir}: ${queue.stderr.trim() || `exit ${queue.exitCode}`}; rerun once Slurm answers`,
      );
    for (const line of queue.stdout.split('\n')) {
      const [id, path] = line.trim().split('|');
      if (id && path === stdout) return { ...job, id };
    }
    return undefined;
  }

  workspaceOf(job: JobRef): Workspace {
    return { dir: join(job.dir, 'work'), outDir: join(job.dir, 'work', 'files') };
  }

  /**
   * Idle pilots are cancelled and their directories go; a busy one (a run that ended early, with
   * tasks still in it) is told to leave after its task, which the next run adopts.
   */
  async close(): Promise<void> {
    if (this.keeping) clearInterval(this.keeping);
    this.keeping = undefined;
    const idle = this.pilots.filter((p) => !p.busy);
    for (const pilot of this.pilots.splice(0)) if (pilot.busy) await stop(pilot.dir);
    if (idle.length) {
      await Promise.all(idle.map((p) => rm(p.dir, { recursive: true, force: true }).catch(() => undefined)));
      await execa(
        'scancel',
        idle.map((p) => p.id),
        { reject: false, timeout: 30_000 },
      );
    }
  }

  /** One sbatch for these tasks (their resources are alike); each gets the job as it will follow it. */
  private async submitJob(members: readonly Member[]): Promise<JobRef[]> {
    const { dir, task } = members[0]!;
    const grouped = members.length > 1;
    // A group's output goes to a folder of its own beside its tasks'; each task's JobRef names it.
    const logDir = grouped ? `${dir}-group` : dir;
    if (grouped) await mkdir(logDir, { recursive: true });
    const refs: JobRef[] = members.map((m) => ({
      executor: 'slurm',
      id: '',
      dir: m.dir,
      ...(grouped ? { stderr: join(logDir, 'stderr') } : {}),
    }));
    // Each lease names its job's directory before the job exists (see the header).
    await Promise.all(members.map((m, i) => m.onEvent({ type: 'submitting', job: refs[i]! })));
    const name = `linea:${task.instance}${grouped ? ` +${members.length - 1}` : ''}`;
    const id = await this.sbatch(
      name,
      logDir,
      task,
      members.flatMap((m) => ['--task', m.dir]),
      task.resources?.time,
    );
    this.followers.set(id, members.length);
    this.submittedHere.add(id);
    if (grouped) this.groupLogs.set(id, logDir);
    return refs.map((ref) => ({ ...ref, id }));
  }

  /** Submit `linea worker <worker args>` as a job asking for `task`'s resources; its id. */
  private async sbatch(
    name: string,
    logDir: string,
    task: StageTask,
    workerArgs: readonly string[],
    time?: string | number,
  ): Promise<string> {
    const r = task.resources ?? {};
    const args = [
      '--parsable',
      `--job-name=${name}`.slice(0, 200),
      `--chdir=${this.options.root}`,
      `--output=${join(logDir, 'stdout')}`,
      `--error=${join(logDir, 'stderr')}`,
      // The run is the driver's to retry; a job Slurm requeues by itself would run twice.
      '--no-requeue',
      ...(r.cpus ? [`--cpus-per-task=${r.cpus}`] : []),
      ...(r.memory ? [`--mem=${r.memory}`] : []),
      ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
      ...(time ? [`--time=${time}`] : []),
      ...(this.options.partition ? [`--partition=${this.options.partition}`] : []),
      ...(this.options.account ? [`--account=${this.options.account}`] : []),
      ...(this.options.extraArgs ?? []),
      // --single-threaded-gc as bin/linea.js sets it: V8's GC threads would compete with OpenMP's.
      `--wrap=${shellQuote([process.execPath, '--single-threaded-gc', LINEA, 'worker', ...workerArgs])}`,
    ];
    const result = await execa('sbatch', args, { reject: false, timeout: 60_000 });
    if (result.exitCode !== 0) throw new Error((result.stderr || result.stdout || `exit ${result.exitCode}`).trim());
    const id = result.stdout.trim().split(';')[0]!;
    if (!/^\d+$/.test(id)) throw new Error(`unexpected sbatch output: ${result.stdout}`);
    this.states.set(id, { state: 'PENDING' });
    return id;
  }

  /** A task stops following its job; the job's slot is free once none does. */
  private unfollow(id: string): void {
    const left = (this.followers.get(id) ?? 1) - 1;
    if (left > 0) {
      this.followers.set(id, left);
      return;
    }
    this.followers.delete(id);
    this.states.delete(id);
    const log = this.groupLogs.get(id);
    this.groupLogs.delete(id);
    // Best effort: what is left behind, gc removes with the abandoned job folders.
    if (log) void rm(log, { recursive: true, force: true }).catch(() => undefined);
    // Only jobs this driver submitted hold a slot (an adopted one was submitted by another).
    if (this.submittedHere.delete(id)) this.release();
  }

  /** Forward events until the job leaves an outcome, ends without one, or the run is interrupted. */
  private async follow(
    job: JobRef,
    onEvent: OnEvent,
    signal: AbortSignal,
  ): Promise<{ outcome: TaskOutcome; state?: string }> {
    let offset = 0;
    let endedAt: number | undefined;
    let unknownSince: number | undefined;
    let looks = 0;
    this.states.set(job.id, this.states.get(job.id) ?? { state: 'PENDING' });
    // Where the job's node shares this one's filesystem events (one machine), its outcome wakes us.
    const wake = wakeOnChange(job.dir);
    try {
      for (;;) {
        const read = await readEvents(job.dir, offset);
        offset = read.offset;
        for (const event of read.events) onEvent(event);
        const outcome = await readOutcome(job.dir);
        if (outcome) return { outcome };
        if (signal.aborted) {
          await execa('scancel', [job.id], { reject: false, timeout: 30_000 });
          return { outcome: { ok: false, error: 'interrupted' } };
        }
        await this.refreshStates();
        const state = this.states.get(job.id);
        if (state === 'unknown') {
          // Neither squeue nor sacct knows it: give the controller a few polls, then give up.
          unknownSince ??= Date.now();
          if (Date.now() - unknownSince > Math.max(10 * this.pollMs, 60_000)) {
            // As a state: a pilot that was lost takes no more work, and a task it had not begun runs elsewhere.
            return {
              outcome: { ok: false, error: `slurm job ${job.id} is not known to squeue or sacct; it was lost` },
              state: 'LOST',
            };
          }
        } else if (state && TERMINAL.has(state.state)) {
          endedAt ??= Date.now();
          // The outcome file may reach this node's view of the filesystem a little after the job ends.
          if (Date.now() - endedAt > this.graceMs)
            return { outcome: await this.failure(job, state), state: state.state };
        }
        // The job directory is looked at soon after submission, then less and less often, up to
        // the poll interval: a short job's outcome is seen within ~50 ms of being written, not up
        // to a whole interval later (Slurm's own state is still asked at most twice an interval).
        await wake.next(Math.min(this.pollMs, FIRST_LOOK_MS * 2 ** looks++), signal);
      }
    } finally {
      wake.close();
      this.unfollow(job.id);
    }
  }

  /** One batched state query for every job followed, at most once per poll interval. */
  private refreshStates(): Promise<void> {
    if (this.poll) return this.poll;
    if (Date.now() - this.lastPoll < this.pollMs / 2) return Promise.resolve();
    this.poll = (async () => {
      const ids = [...this.states.keys()];
      const found = await this.queryStates(ids);
      for (const id of ids) if (this.states.has(id)) this.states.set(id, found.get(id) ?? 'unknown');
      this.lastPoll = Date.now();
    })().finally(() => {
      this.poll = undefined;
    });
    return this.poll;
  }

  private async queryStates(ids: readonly string[]): Promise<Map<string, JobState>> {
    const found = new Map<string, JobState>();
    if (ids.length === 0) return found;
    const queue = await execa('squeue', ['-h', '-r', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r'], {
      reject: false,
      timeout: 30_000,
    });
    for (const line of queue.stdout.split('\n')) {
      const [id, state, reason] = line.trim().split('|');
      if (id && state) found.set(id, { state, ...(reason && reason !== 'None' ? { reason } : {}) });
    }
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) {
      // Jobs older than MinJobAge (or a transient squeue error): the completion log still knows them.
      for (const [id, info] of await sacct(missing)) found.set(id, { state: info.state });
    }
    return found;
  }

  private async failure(job: JobRef, state: JobState): Promise<TaskOutcome> {
    const info = (await sacct([job.id])).get(job.id);
    const exit = info?.exitCode ? `, exit code ${info.exitCode}` : '';
    const tail = await readFile(job.stderr ?? join(job.dir, 'stderr'), 'utf8')
      .then((text) => text.trim().split('\n').slice(-5).join('\n'))
      .catch(() => '');
    const why = state.reason ? ` (${state.reason})` : '';
    return {
      ok: false,
      error: `slurm job ${job.id} ended ${state.state}${why}${exit} without an outcome${tail ? `; its stderr ends:\n${tail}` : ''}`,
    };
  }
}

/** State and exit code from the job completion log (works without slurmdbd). */
async function sacct(ids: readonly string[]): Promise<Map<string, { state: string; exitCode?: string }>> {
  const out = new Map<string, { state: string; exitCode?: string }>();
  const result = await execa('sacct', ['-c', '-n', '-P', '-j', ids.join(','), '-o', 'JobID,State,ExitCode'], {
    reject: false,
    timeout: 30_000,
  });
  for (const line of result.stdout.split('\n')) {
    const [id, state, exitCode] = line.trim().split('|');
    if (id && state) out.set(id, { state: state.split(' ')[0]!, ...(exitCode ? { exitCode } : {}) });
  }
  return out;
}

function shellQuote(words: readonly string[]): string {
  return words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** Tasks that may share a job: those that ask for the same machine (a job gets one set of flags). */
function resourceKind(task: StageTask): string {
  const { cpus, memory, gpus, time } = task.resources ?? {};
  return JSON.stringify([cpus, memory, gpus, time]);
}
