/**
 * What every report section reads: the stage's gathered inputs and what several sections share
 * (the joined rows, the provenance line, the early/late gaps), plus the small formatters of its
 * tables. A section is a function of this context to its part of the page and of results.json.
 */
import type { StageInputs, Variant } from '../../../../src/index.ts';
import { gather } from '../../../../src/index.ts';
import type {
  BaselineValue,
  ControlValue,
  FrivolousLinearizedValue,
  FrivolousValue,
  KernelDriftValue,
  LinearityValue,
  LinearizeValue,
  PathLengthValue,
  PretrainValue,
  SparsifyValue,
} from '../../artifacts.ts';
import type { Figure } from '../figures.ts';
import { type Section, toSvg } from '../render.ts';
import type { DifficultyPair, GapPoint, Labelled, Row } from '../rows.ts';

/** The report stage's inputs: every variant of each analysis. */
export const REPORT_INPUTS = {
  dense: gather<PretrainValue>('dense runs'),
  sparse: gather<SparsifyValue>('sparsified runs'),
  linearized: gather<LinearizeValue>('linearised networks'),
  pathLength: gather<PathLengthValue>('their path lengths'),
  baseline: gather<BaselineValue>('width-matched baselines'),
  control: gather<ControlValue>("the task gate's control networks"),
  frivolous: gather<FrivolousValue>('frivolous units of the width sweep'),
  frivolousLinearized: gather<FrivolousLinearizedValue>('frivolous units of the linearised networks'),
  kernelDrift: gather<KernelDriftValue>('kernel drift across the sparsified runs'),
  linearity: gather<LinearityValue>('the NTK width sweep'),
};

export type ReportInputs = StageInputs<typeof REPORT_INPUTS>;

export interface ReportContext {
  readonly inputs: ReportInputs;
  /** One row per sparsified network, joined with its linearisation, path length and baseline. */
  readonly rows: readonly Row[];
  /** Seeds, ω values, ε_lin, backends and the sparse recipe, for every figure's caption. */
  readonly provenance: string;
  /** Late − early accuracy at matched APL, per seed and grid point. */
  readonly gapPoints: readonly GapPoint[];
  /** Tasks of one family, hard and easy, whose gaps the report compares. */
  readonly difficulty: readonly DifficultyPair[];
}

/** A section's part of the report: its page section (absent when it has nothing to show) and its results.json fields. */
export interface SectionOutput {
  readonly section?: Section;
  readonly results: Readonly<Record<string, unknown>>;
}

export const labelled = <T>(variants: readonly Variant<T>[]): Labelled<T>[] =>
  variants.map((v) => ({ labels: v.labels, value: v.value }));
export const fmt = (x: number | undefined, digits = 4) =>
  x === undefined || Number.isNaN(x) ? '–' : Number(x.toFixed(digits));
export const sci = (x: number) => (x === 0 ? '0' : x.toExponential(3));
export const pct = (x: number) => Number((100 * x).toFixed(2));
export const list = (xs: readonly (number | string)[]) => [...new Set(xs)].join(', ');
export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each figure with its SVG, rendered one at a time (Vega's renderer is not re-entrant-cheap). */
export async function rendered(figures: readonly Figure[]): Promise<Section['figures']> {
  const out = [];
  for (const figure of figures) out.push({ figure, svg: await toSvg(figure) });
  return out;
}
