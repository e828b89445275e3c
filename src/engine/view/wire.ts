/**
 * What goes over the wire between `linea view`'s server and its page: the JSON of the API
 * (state.ts builds it) and the journal's lines (journal.ts writes them, the page follows them).
 * Plain types with no imports, so the page (src/view/page/, type-checked for the browser) shares
 * these declarations without pulling in anything of Node.
 */

/** The engine's Json (core/json.ts), restated: importing it would bring node:crypto along. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface InstanceSummary {
  readonly id: string;
  readonly stage: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The instances it takes inputs from. */
  readonly inputs: readonly string[];
  readonly key: string | null;
  /** cached | stale | missing | blocked, as `linea status` says. */
  readonly state: string;
  readonly reasons: readonly string[];
  readonly running?: string;
  readonly lastSeconds?: number;
}

export interface PlanJson {
  readonly pipeline: string;
  readonly presets: readonly string[];
  readonly axes: readonly { name: string; values: string[]; default: string[]; description?: string }[];
  /** Stages in pipeline order, with the stages each takes inputs from. */
  readonly stages: readonly { name: string; inputs: string[] }[];
  readonly instances: readonly InstanceSummary[];
}

export interface InstanceJson extends InstanceSummary {
  /** Every param leaf: its value, the default the pipeline gives it, and whether this instance overrides it. */
  readonly params: readonly { path: string; value: Json; default?: Json; overridden: boolean }[];
  readonly inputsDetail: readonly { name: string; instance: string; key: string | null }[];
  readonly output?: { value: Json; files: { path: string; size: number; url: string }[] };
  /** The runs recorded for this instance, newest first. */
  readonly runs: readonly { key: string; startedAt: string; seconds: number; host: string; current: boolean }[];
  readonly log: readonly string[];
  readonly metrics: Readonly<Record<string, readonly (readonly [number, number])[]>>;
}

export interface ResultsJson {
  readonly columns: readonly { name: string; kind: 'label' | 'param' | 'output' | 'meta' }[];
  readonly rows: readonly Record<string, Json>[];
}

/** One line of a run's journal. `t` is milliseconds since the epoch; `run` names the journal's run. */
export type JournalEvent =
  | {
      readonly e: 'run';
      readonly t: number;
      readonly run: string;
      readonly project: string;
      /** The instances this run was asked for: [id, stage]. */
      readonly instances: readonly (readonly [string, string])[];
    }
  /** Earlier runs' typical seconds per stage (eta.ts), once something runs. */
  | {
      readonly e: 'estimates';
      readonly t: number;
      readonly run: string;
      readonly seconds: Readonly<Record<string, number>>;
    }
  | { readonly e: 'started'; readonly t: number; readonly run: string; readonly id: string }
  | { readonly e: 'waiting'; readonly t: number; readonly run: string; readonly id: string; readonly holder: string }
  | {
      readonly e: 'progress';
      readonly t: number;
      readonly run: string;
      readonly id: string;
      readonly done: number;
      readonly total: number;
      readonly message?: string;
      readonly metrics?: Readonly<Record<string, number>>;
    }
  | { readonly e: 'log'; readonly t: number; readonly run: string; readonly id: string; readonly message: string }
  | {
      readonly e: 'finished';
      readonly t: number;
      readonly run: string;
      readonly id: string;
      readonly status: 'ran' | 'cached' | 'failed';
      readonly seconds: number;
      readonly error?: string;
    }
  | { readonly e: 'end'; readonly t: number; readonly run: string };
