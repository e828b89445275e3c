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
  /** Channel multiplier over the architecture (the width axes). */
  readonly width: number;
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
  /** `total`: the same epochs in all for every start; `penalty`: the same penalty epochs. */
  readonly budgetRule: 'total' | 'penalty';
  /** Penalty epochs. */
  readonly epochs: number;
  /** Epochs with every α frozen and ω = 0 after the penalty. */
  readonly fineTuneEpochs: number;
  /** Initial learning rates of the penalty phase and of the fine-tune. */
  readonly penaltyLr: number;
  readonly fineTuneLr: number;
  /** The gradient's global-norm clip (0: none). */
  readonly clipNorm: number;
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
  /** Accuracy and nonlinear units for other thresholds ε_lin (docs/science.md, "Linearisation and folding"). */
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

/** Prunable and redundant units of one network (docs/science.md, "Prunable units, Redundant units"). */
export interface FrivolousValue {
  /** Width factor f of the network. */
  readonly width: number;
  /** The sweep's widest factor F: normalised counts are fractions × f/F (the paper's F = 4). */
  readonly widest: number;
  readonly params: number;
  readonly testAccuracy: number;
  readonly sites: readonly string[];
  /** Units per recorded layer. */
  readonly units: readonly number[];
  readonly prunability: {
    readonly levels: readonly number[];
    readonly agreement: readonly (readonly number[])[];
    readonly thresholds: readonly number[];
    readonly threshold: number;
  };
  readonly redundancy: readonly { site: string; k: number; n: number; fraction: number }[];
  readonly redundantFraction: number;
  /** The settings the report states: agreement threshold, PCA tail share, activation rows kept. */
  readonly settings: { readonly threshold: number; readonly energy: number; readonly maxSamples: number };
  /** Pr = p*·f/F, NP = f/F − Pr, R = c̄·f/F, NR = f/F − R. */
  readonly normalized: {
    readonly prunable: number;
    readonly nonPrunable: number;
    readonly redundant: number;
    readonly nonRedundant: number;
  };
}

/** A knockout of chosen units against random sets of the same per-layer sizes. */
export interface KnockoutValue {
  readonly units: number;
  readonly targeted: number;
  readonly random: readonly number[];
  readonly randomMean: number;
}

/** Frivolous measures of a linearised network, and whether its nonlinear units are the ones that matter. */
export interface FrivolousLinearizedValue {
  readonly omega: number;
  readonly start: string;
  readonly startEpoch: number;
  readonly nonlinear: number;
  readonly units: number;
  readonly prunableThreshold: number;
  readonly redundantFraction: number;
  /** In the linearised network: its nonlinear units knocked out, and its linear ones. */
  readonly knockNonlinear: KnockoutValue;
  readonly knockLinear: KnockoutValue;
  /** In the dense snapshot the sparsified run started from: the units that were to stay nonlinear. */
  readonly knockNonlinearAtStart: KnockoutValue;
}

/** Transition to linearity of one NTK-parametrised MLP (docs/science.md, "Kernel drift and the linearisation gap"). */
export interface LinearityValue {
  readonly width: number;
  readonly depth: number;
  readonly output: 'linear' | 'tanh';
  /** Width of the narrow middle layer, 0 when there is none. */
  readonly bottleneck: number;
  readonly params: number;
  readonly seed: number;
  readonly backend: string;
  /** The rate that trained stably (halved from `lr` until the loss stayed finite). */
  readonly lr: number;
  readonly loss: { readonly initial: number; readonly final: number };
  /** Mean ‖H(w; x)‖₂ over the Hessian probes, at initialisation and after training. */
  readonly hessian: { readonly initial: number; readonly final: number };
  /** ‖K_T − K_0‖_F / ‖K_0‖_F on the kernel probes. */
  readonly kernelDrift: number;
  readonly linearizationGap: number;
  /** ‖w_T − w_0‖ / ‖w_0‖. */
  readonly travel: number;
}

/** The bridge (docs/science.md, "The bridge"): the same measurements across a sparsified run, start epoch → end. */
export interface KernelDriftValue {
  readonly omega: number;
  readonly start: string;
  readonly startEpoch: number;
  /** Mean ‖H‖₂ of logit 0 over the probes, at the start epoch and after sparsified training. */
  readonly hessian: { readonly start: number; readonly end: number };
  readonly kernelDrift: number;
  readonly linearizationGap: number;
  readonly travel: number;
  /** Test images used for the Hessian and for the kernel, and the central-difference step. */
  readonly probes: { readonly hessian: number; readonly kernel: number };
  readonly epsilon: number;
}

/** A control network of the task gate (stages/control.ts). */
export interface ControlValue extends TrainedValue {
  /** `linear`: the dense shape with every unit linear; `plain`: a plain network of `depth` nonlinear layers. */
  readonly network: 'linear' | 'plain';
  /** Nonlinear layers (0 for the linear network). */
  readonly depth: number;
}
