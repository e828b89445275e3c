/**
 * Human progress for `linea run`, on stderr. On a terminal the whole run's line (done, running,
 * left, elapsed, ETA from earlier runs: view/eta.ts, as `linea view` shows it) and one live line
 * per running stage are redrawn in place; elsewhere (CI, pipes) each start, finish (with the
 * whole-run line) and a throttled progress line is printed once, so logs stay readable.
 */
import type { TaskEvent } from '../execute/executor.ts';
import type { LeaseHolder } from '../coordinate/lease.ts';
import type { RunObserver, StageResult } from '../schedule/run.ts';
import type { Progress } from '../define/stage.ts';
import { formatStanding, standing } from '../view/eta.ts';

export class ProgressPrinter implements RunObserver {
  private readonly live = new Map<string, { since: number; progress?: Progress; printedAt: number }>();
  private drawn = 0;
  private readonly timer?: NodeJS.Timeout;
  private readonly instances = new Map<string, string>();
  private readonly done = new Map<string, number>();
  private estimates: Readonly<Record<string, number>> = {};
  private readonly startedAt = Date.now();
  /** When a result line last carried the whole-run line (non-interactive). */
  private wholeAt = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly interactive = Boolean(process.stderr.isTTY) && !process.env.CI,
  ) {
    if (this.interactive) {
      this.timer = setInterval(() => this.redraw(), 250);
      this.timer.unref();
    }
  }

  /** The instances of the run (id → stage), for the whole-run line. */
  begin(instances: Iterable<readonly [string, string]>): void {
    for (const [id, stage] of instances) this.instances.set(id, stage);
  }

  /** Earlier runs' typical seconds per stage, for the ETA. */
  setEstimates(estimates: Readonly<Record<string, number>>): void {
    this.estimates = estimates;
  }

  /** `12/132 done · 2 running · 118 left · 1m12s · ETA 4m30s`, or '' before `begin`. */
  wholeRun(now = Date.now()): string {
    if (this.instances.size === 0) return '';
    const running = new Map(
      [...this.live].map(([id, s]) => [
        id,
        {
          since: s.since,
          ...(s.progress && s.progress.total > 0 ? { fraction: s.progress.done / s.progress.total } : {}),
        },
      ]),
    );
    const tally = { instances: this.instances, finished: this.done, running, estimates: this.estimates };
    return formatStanding(standing({ ...tally, startedAt: this.startedAt }, now));
  }

  started(id: string): void {
    this.live.set(id, { since: Date.now(), printedAt: 0 });
    if (!this.interactive) this.line(`▶ ${id}`);
    else this.redraw();
  }

  waiting(id: string, holder: LeaseHolder): void {
    this.line(`… ${id}: another run (pid ${holder.pid} on ${holder.host}) is computing it; waiting for its result`);
  }

  event(id: string, event: TaskEvent): void {
    if (event.type === 'log') {
      this.line(`  ${id}: ${event.message}`);
      return;
    }
    if (event.type === 'submitted') {
      this.line(`  ${id}: ${event.job.executor} job ${event.job.id}`);
      return;
    }
    if (event.type !== 'progress') return;
    const state = this.live.get(id);
    if (!state) return;
    state.progress = event.progress;
    if (!this.interactive && Date.now() - state.printedAt > 5000) {
      state.printedAt = Date.now();
      this.line(`  ${id}: ${formatProgress(event.progress)}`);
    }
  }

  finished(result: StageResult): void {
    this.live.delete(result.id);
    this.done.set(result.id, result.status === 'ran' ? result.seconds : 0);
    if (result.status === 'cached') {
      if (!this.interactive) return;
    }
    const mark = result.status === 'failed' ? '✗' : result.status === 'ran' ? '✓' : '·';
    const detail =
      result.status === 'failed' ? `failed: ${result.error}` : `${result.status} in ${result.seconds.toFixed(1)}s`;
    // Without a live line to redraw, results carry where the whole run stands: at most once a
    // second (it walks every instance; after each of a 1,000-stage cone's results that adds up).
    const due = !this.interactive && result.status !== 'cached' && Date.now() - this.wholeAt >= 1000;
    if (due) this.wholeAt = Date.now();
    const whole = due ? this.wholeRun() : '';
    this.line(`${mark} ${result.id} ${detail}${whole ? `  [${whole}]` : ''}`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    this.redraw();
  }

  private clear(): void {
    if (!this.interactive || this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private redraw(): void {
    if (!this.interactive) return;
    this.clear();
    const lines = [...this.live].map(([id, s]) => {
      const secs = ((Date.now() - s.since) / 1000).toFixed(0);
      return `  ⠿ ${id} ${s.progress ? formatProgress(s.progress) : ''} (${secs}s)`;
    });
    const whole = this.wholeRun();
    if (whole && this.live.size) lines.unshift(`run: ${whole}`);
    if (lines.length) this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

export function formatProgress(p: Progress): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const width = 20;
  const filled = Math.round(fraction * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`;
}

export function summaryTable(results: readonly StageResult[]): string {
  const rows = results.map((r) => [r.id, r.status, r.seconds.toFixed(2)]);
  const header = ['stage', 'status', 'seconds'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const count = (s: string) => results.filter((r) => r.status === s).length;
  return [
    fmt(header),
    fmt(widths.map((w) => '─'.repeat(w))),
    ...rows.map(fmt),
    '',
    `${count('ran')} ran, ${count('cached')} cached, ${count('failed')} failed`,
  ].join('\n');
}
