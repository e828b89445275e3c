/**
 * The values the experiment's stages return, as consumers see them. Types only: a stage declares
 * what it consumes with `input<T>()`, so producers and consumers agree on these shapes without
 * importing each other's code.
 */
import type { EpochMetrics, ModelConfig } from '../../src/models/index.ts';

export interface DataValue {
  /** e.g. `fashion-mnist-embedded` or `teacher(depth 6)`. */
  readonly source: string;
  readonly shape: readonly number[];
  readonly classes: number;
  readonly classNames?: readonly string[];
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

/** What every training stage reports. */
export interface TrainedValue {
  readonly model: ModelConfig;
  readonly seed: number;
  /** The tensor backend that computed it. */
  readonly backend: string;
  readonly params: number;
  readonly history: readonly EpochMetrics[];
  readonly testAccuracy: number;
}

export interface PretrainValue extends TrainedValue {
  readonly epochs: number;
  /** Directory of the weights after epoch e (0 = initialisation), for e = 0 … epochs. */
  readonly snapshots: readonly string[];
}

export interface SparsifyValue extends TrainedValue {
  readonly omega: number;
  /** Epoch of the dense run the penalty was switched on at. */
  readonly startEpoch: number;
  /** `early`, `late`, … or the epoch as given. */
  readonly start: string;
  /** Total epochs: dense epochs before the start plus sparsified epochs. */
  readonly budget: number;
  readonly epochs: number;
  /** Nonlinear units (|1 − α| ≥ ε_snap) after each sparsified epoch. */
  readonly nonlinearPerEpoch: readonly number[];
}

export interface LinearizeValue {
  readonly epsilon: number;
  readonly omega: number;
  readonly startEpoch: number;
  readonly start: string;
  readonly backend: string;
  readonly model: ModelConfig;
  readonly params: number;
  readonly units: number;
  readonly linearized: number;
  readonly accuracyBefore: number;
  readonly accuracyAfter: number;
  /** Accuracy and nonlinear units for other thresholds ε_lin (science.md §1.5). */
  readonly sensitivity: readonly { epsilon: number; accuracy: number; nonlinear: number }[];
  readonly folded: {
    readonly folds: readonly string[];
    readonly maxRelativeError: number;
    readonly layers: { readonly original: number; readonly folded: number };
    readonly params: { readonly original: number; readonly folded: number };
    readonly inferenceMs: { readonly original: number; readonly folded: number };
  };
}

export interface PathLengthValue {
  readonly epsilon: number;
  readonly normalized: number;
  readonly unnormalized: number;
  readonly effectiveDepth: number;
  readonly effectiveWidth: number;
  readonly total: number;
  readonly units: number;
  readonly layers: readonly { site: string; role: string; n: number; k: number; fraction: number }[];
  /** 0/1 per channel per site (1 = nonlinear), for the core-network picture. */
  readonly masks: Readonly<Record<string, readonly number[]>>;
}

/** The width-matched baseline's shape: depends only on D and the parameter target, so sweeps share it. */
export interface BaselineShapeValue {
  /** D = max(1, round(APL_norm)). */
  readonly depth: number;
  readonly model: ModelConfig;
  readonly params: number;
  readonly targetParams: number;
  readonly relativeError: number;
  readonly multiplier: number;
}

export interface BaselineValue extends TrainedValue {
  readonly depth: number;
  readonly targetParams: number;
}
