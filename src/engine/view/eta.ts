/**
 * Where a run stands and when it should end, from its instances, what has finished, what is
 * running and how long each stage took before. Pure (no Node, no DOM): the terminal display of
 * `linea run` and the page of `linea view` compute the same line from the same function.
 */

export interface RunTally {
  /** Every instance of the run: id → its stage. */
  readonly instances: ReadonlyMap<string, string>;
  /** Finished instances: id → seconds it ran (0 when cached). */
  readonly finished: ReadonlyMap<string, number>;
  /** Running instances: id → when it started (ms) and its progress fraction, if it reported one. */
  readonly running: ReadonlyMap<string, { readonly since: number; readonly fraction?: number }>;
  /** Earlier runs: stage → typical seconds (the median of its recorded runs). */
  readonly estimates: Readonly<Record<string, number>>;
  /** When the run started (ms). */
  readonly startedAt: number;
}

export interface RunStanding {
  readonly done: number;
  readonly running: number;
  readonly left: number;
  readonly elapsedSeconds: number;
  /** Seconds to the end, or undefined when no stage left has ever been timed. */
  readonly etaSeconds?: number;
}

/**
 * Work left is each unfinished instance's expected seconds (a stage's earlier median, else the
 * median of its instances finished in this run; less what a running one has done), spread over
 * as many slots as are busy now (at least one).
 */
export function standing(tally: RunTally, now: number): RunStanding {
  const seen = new Map<string, number[]>();
  for (const [id, seconds] of tally.finished) {
    const stage = tally.instances.get(id);
    if (stage !== undefined && seconds > 0) pushTo(seen, stage, seconds);
  }
  const expected = (stage: string): number | undefined => tally.estimates[stage] ?? median(seen.get(stage) ?? []);
  let work = 0;
  let unknown = false;
  let left = 0;
  for (const [id, stage] of tally.instances) {
    if (tally.finished.has(id)) continue;
    const each = expected(stage);
    const run = tally.running.get(id);
    if (!run) left++;
    if (each === undefined) {
      unknown = true;
      continue;
    }
    if (!run) work += each;
    else if (run.fraction !== undefined && run.fraction > 0) work += each * (1 - Math.min(1, run.fraction));
    else work += Math.max(0, each - (now - run.since) / 1000);
  }
  const done = tally.finished.size;
  const running = tally.running.size;
  const base = { done, running, left, elapsedSeconds: Math.max(0, (now - tally.startedAt) / 1000) };
  if (unknown && work === 0) return base;
  return { ...base, etaSeconds: work / Math.max(1, running) };
}

/** `1h02m`, `4m30s`, `12s`. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** The whole-run line: `12/132 done · 2 running · 118 left · 1m12s · ETA 4m30s`. */
export function formatStanding(s: RunStanding): string {
  const total = s.done + s.running + s.left;
  const eta = s.etaSeconds === undefined ? '' : ` · ETA ${formatDuration(s.etaSeconds)}`;
  return `${s.done}/${total} done · ${s.running} running · ${s.left} left · ${formatDuration(s.elapsedSeconds)}${eta}`;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Each stage's typical seconds: the median over the runs recorded for it. */
export function stageEstimates(
  runs: readonly { readonly stage: string; readonly seconds: number }[],
): Record<string, number> {
  const byStage = new Map<string, number[]>();
  for (const r of runs) if (r.seconds > 0) pushTo(byStage, r.stage, r.seconds);
  return Object.fromEntries([...byStage].map(([stage, seconds]) => [stage, median(seconds)!]));
}

/** Append to a map of lists (in place: the terminal line recomputes this after every stage). */
function pushTo(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
