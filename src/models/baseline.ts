/**
 * The width-matched baseline of docs/science.md, "The width-matched baseline": a plain all-ReLU CNN (conv–BN–ReLU, GAP + dense)
 * with exactly D nonlinear layers, laid out over the source network's stages (a 2×2 max-pool
 * between stages in place of strided convolutions), and every width scaled by one multiplier s,
 * found by bisection, so that its parameter count is within a tolerance of a target (the
 * linearised network's, whose count equals the original's: linearised units are not removed).
 */
import type { ModelConfig, PlainCnnConfig } from './architectures/index.ts';
import { hiddenWidths } from './architectures/index.ts';

/** Exact trainable parameter count of a plain CNN config, without building it. */
export function plainCnnParams(c: PlainCnnConfig): number {
  let params = 0;
  let inC = c.inputShape[2];
  let [h, w] = [c.inputShape[0], c.inputShape[1]];
  c.channels.forEach((outC, i) => {
    params += 9 * inC * outC + (c.batchNorm ? 2 * outC : outC) + (c.activation === 'prelu' ? outC : 0);
    inC = outC;
    if (c.poolAfter.includes(i)) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
  });
  const features = c.head === 'gap' ? inC : h * w * inC;
  return params + features * c.classes + c.classes;
}

/** Stage widths and how many stages the source has (3 for a CIFAR ResNet). */
function stagesOf(source: ModelConfig): number[] {
  switch (source.kind) {
    case 'resnet':
      return [source.baseWidth, 2 * source.baseWidth, 4 * source.baseWidth];
    case 'plain-cnn': {
      // Stages end at the pooling layers; each stage's width is its last layer's.
      const widths: number[] = [];
      source.channels.forEach((c, i) => {
        if (source.poolAfter.includes(i) || i === source.channels.length - 1) widths.push(c);
      });
      return widths;
    }
    case 'mlp':
      return [hiddenWidths(source)[0] ?? source.width];
  }
}

/** D layers over the stages as evenly as possible, earlier stages taking the remainder. */
export function distribute(depth: number, stages: number): number[] {
  return Array.from({ length: stages }, (_, i) => Math.floor(depth / stages) + (i < depth % stages ? 1 : 0));
}

export function baselineLayout(source: ModelConfig, depth: number, multiplier: number): PlainCnnConfig {
  if (source.kind === 'mlp')
    throw new Error('width-matched baseline: the source must be a convolutional network (plain CNN or ResNet)');
  if (!Number.isInteger(depth) || depth < 1)
    throw new Error(`width-matched baseline: depth must be a whole number ≥ 1, got ${depth}`);
  const stages = stagesOf(source);
  const perStage = distribute(depth, stages.length);
  const channels: number[] = [];
  const poolAfter: number[] = [];
  perStage.forEach((count, s) => {
    for (let i = 0; i < count; i++) channels.push(Math.max(1, Math.round(stages[s]! * multiplier)));
    // Downsample between stages that have layers on both sides.
    if (count > 0 && s < stages.length - 1 && perStage.slice(s + 1).some((n) => n > 0))
      poolAfter.push(channels.length - 1);
  });
  // Conv–BN–ReLU (docs/science.md, "The width-matched baseline") when the source normalises; a source without batch norm gets a
  // baseline without it, so the comparison is about depth and width only.
  // The head follows the source too (a ResNet's is GAP + linear).
  const batchNorm = source.kind === 'plain-cnn' ? source.batchNorm : true;
  const head = source.kind === 'plain-cnn' ? source.head : 'gap';
  // Pooling follows the source as well; a ResNet downsamples with strided convolutions, which are linear.
  const pool = source.kind === 'plain-cnn' ? source.pool : 'avg';
  return {
    kind: 'plain-cnn',
    inputShape: source.inputShape,
    classes: source.classes,
    channels,
    poolAfter,
    pool,
    batchNorm,
    activation: 'relu',
    head,
    init: 'he',
  };
}

export interface Baseline {
  readonly config: PlainCnnConfig;
  readonly params: number;
  readonly multiplier: number;
  /** (params − target) / target. */
  readonly relativeError: number;
}

/** Bisect the width multiplier until the baseline's parameter count is within `tolerance` of `targetParams`. */
export function widthMatchedBaseline(
  source: ModelConfig,
  depth: number,
  targetParams: number,
  tolerance = 0.02,
): Baseline {
  const at = (s: number) => {
    const config = baselineLayout(source, depth, s);
    const params = plainCnnParams(config);
    return { config, params, multiplier: s, relativeError: (params - targetParams) / targetParams };
  };
  let lo = 1e-3;
  let hi = 1;
  while (at(hi).params < targetParams) {
    hi *= 2;
    if (hi > 1e6) throw new Error(`width-matched baseline: no width reaches ${targetParams} parameters`);
  }
  let best = at(hi);
  for (let i = 0; i < 200 && Math.abs(best.relativeError) > tolerance / 4; i++) {
    const mid = (lo + hi) / 2;
    const candidate = at(mid);
    if (Math.abs(candidate.relativeError) < Math.abs(best.relativeError)) best = candidate;
    if (candidate.params < targetParams) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-9) break;
  }
  if (Math.abs(best.relativeError) > tolerance) {
    throw new Error(
      `width-matched baseline: closest is ${best.params} parameters for a target of ${targetParams} (${(100 * best.relativeError).toFixed(1)} %); widths are whole numbers`,
    );
  }
  return best;
}
