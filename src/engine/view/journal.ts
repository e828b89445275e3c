/**
 * The run journal: what a `linea run` is doing, as it happens, for `linea view` and anyone else
 * to read. Each run appends JSON lines to its own file, `<cache>/events/<time>-<host>-<pid>.jsonl`,
 * in the cache every process of a project shares; a Slurm job's progress reaches its driver
 * (through the job directory) and so its journal. A reader tails the files (view/tail.ts).
 *
 * The journal is best effort: a run never fails because its journal cannot be written (a
 * read-only cache, a full disk), and nothing decides from it what is cached: the store and
 * the index stay the truth. A run that computes nothing writes no journal. Plain progress is thinned to a few lines a second per instance;
 * progress that carries metrics is always written, since each point is a point of a curve.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { LeaseHolder } from '../coordinate/lease.ts';
import { hostName } from '../core/process.ts';
import type { TaskEvent } from '../execute/executor.ts';
import type { RunObserver, StageResult } from '../schedule/run.ts';
import type { JournalEvent } from './wire.ts';

export type { JournalEvent } from './wire.ts';

export const JOURNAL_DIR = 'events';
/** Plain progress lines per instance: at most one per this many ms. */
const PROGRESS_EVERY_MS = 250;

export class Journal implements RunObserver {
  readonly run: string;
  /** The open journal; 'closed' once it failed or ended; undefined until something runs. */
  private fd: number | 'closed' | undefined;
  /** What happened before it opened (the run's first line, cached instances), written when it does. */
  private readonly pending: JournalEvent[] = [];
  private readonly lastProgress = new Map<string, number>();

  constructor(
    private readonly cacheDir: string,
    now = Date.now(),
  ) {
    this.run = `${new Date(now).toISOString().replace(/[:.]/g, '-')}-${hostName()}-${process.pid}`;
  }

  /**
   * The journal is opened when a stage starts or waits: a run that finds everything cached has
   * nothing to show and writes nothing (a no-op rerun costs no file and no writes).
   */
  private open(): void {
    if (this.fd !== undefined) return;
    try {
      mkdirSync(join(this.cacheDir, JOURNAL_DIR), { recursive: true });
      this.fd = openSync(join(this.cacheDir, JOURNAL_DIR, `${this.run}.jsonl`), 'a');
    } catch {
      this.fd = 'closed';
    }
    const lines = this.pending.splice(0).map((event) => `${JSON.stringify(event)}\n`);
    if (lines.length) this.append(lines.join(''));
  }

  begin(project: string, instances: readonly (readonly [string, string])[]): void {
    this.write({ e: 'run', t: Date.now(), run: this.run, project, instances });
  }

  estimates(seconds: Readonly<Record<string, number>>): void {
    this.write({ e: 'estimates', t: Date.now(), run: this.run, seconds });
  }

  started(id: string): void {
    this.open();
    this.write({ e: 'started', t: Date.now(), run: this.run, id });
  }

  waiting(id: string, holder: LeaseHolder): void {
    this.open();
    this.write({ e: 'waiting', t: Date.now(), run: this.run, id, holder: `pid ${holder.pid} on ${holder.host}` });
  }

  event(id: string, event: TaskEvent): void {
    const t = Date.now();
    if (event.type === 'log') this.write({ e: 'log', t, run: this.run, id, message: event.message });
    else if (event.type === 'progress') {
      const done = event.progress.done >= event.progress.total;
      if (!event.progress.metrics && !done && t - (this.lastProgress.get(id) ?? 0) < PROGRESS_EVERY_MS) return;
      this.lastProgress.set(id, t);
      this.write({ e: 'progress', t, run: this.run, id, ...event.progress });
    }
  }

  finished(result: StageResult): void {
    this.lastProgress.delete(result.id);
    this.write({
      e: 'finished',
      t: Date.now(),
      run: this.run,
      id: result.id,
      status: result.status,
      seconds: result.seconds,
      ...(result.error !== undefined ? { error: result.error } : {}),
    });
  }

  end(): void {
    if (this.fd === undefined) {
      // Nothing ran: nothing to tell.
      this.fd = 'closed';
      return;
    }
    this.write({ e: 'end', t: Date.now(), run: this.run });
    if (typeof this.fd === 'number') closeSync(this.fd);
    this.fd = 'closed';
  }

  private write(event: JournalEvent): void {
    if (this.fd === undefined) this.pending.push(event);
    else this.append(`${JSON.stringify(event)}\n`);
  }

  private append(text: string): void {
    if (typeof this.fd !== 'number') return;
    try {
      // Whole lines per write, in append mode: a reader never sees half a line from another writer.
      writeSync(this.fd, text);
    } catch {
      this.fd = 'closed';
    }
  }
}

/** Several observers as one: the terminal display and the journal watch the same run. */
export function observers(...all: RunObserver[]): RunObserver {
  return {
    started: (id) => {
      for (const o of all) o.started(id);
    },
    waiting: (id, holder) => {
      for (const o of all) o.waiting(id, holder);
    },
    event: (id, event) => {
      for (const o of all) o.event(id, event);
    },
    finished: (result) => {
      for (const o of all) o.finished(result);
    },
  };
}
