/**
 * SGD with momentum and Adam, with PyTorch's update rules, written over tfjs variables so that
 * their state can be checkpointed exactly and weight decay can skip PReLU α.
 *
 * Weight decay is L2 added to the gradient (PyTorch's `weight_decay`), applied to every
 * trainable parameter except PReLU α: decaying α would pull units towards ReLU, fighting the very
 * quantity the experiment measures.
 */
import * as tf from './tf.ts';
import type { OptimizerConfig, ScheduleConfig } from './train-config.ts';

export { optimizerConfig, scheduleConfig, type OptimizerConfig, type ScheduleConfig } from './train-config.ts';

/** Learning rate at fractional epoch `t` (epoch + step/steps) of a `total`-epoch run. */
export function learningRate(base: number, schedule: ScheduleConfig, t: number, total: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.gamma ** schedule.milestones.filter((m) => Math.floor(t) >= m).length;
    case 'cosine':
      return schedule.minLr + 0.5 * (base - schedule.minLr) * (1 + Math.cos((Math.PI * Math.min(t, total)) / total));
  }
}

/**
 * A backend may register this kernel to do a whole SGD-momentum update of one parameter in one
 * pass (the onednn backend does): inputs w, g, buf; outputs [w', buf'] as new tensors; attrs
 * below. Without it, the update is the tfjs ops in `Optimizer.apply`, with the same arithmetic.
 */
export const SGD_MOMENTUM = 'LineaSgdMomentum';
export interface SgdMomentumAttrs {
  readonly lr: number;
  readonly momentum: number;
  /** L2 weight decay added to the gradient; 0 for parameters that are not decayed. */
  readonly decay: number;
  readonly nesterov: boolean;
  /** PyTorch's first step: the buffer starts as the gradient itself. */
  readonly first: boolean;
}

/** A backend that can write an SGD step into the parameters' own memory (native/onednn.ts). */
interface InPlaceSgd {
  sgdInPlace(
    items: readonly { readonly w: tf.Tensor; readonly g: tf.Tensor; readonly buf: tf.Tensor; readonly decay: number }[],
    attrs: Pick<SgdMomentumAttrs, 'lr' | 'momentum' | 'nesterov' | 'first'>,
  ): boolean[];
}

export interface ParamGroup {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly decay: boolean;
}

/** Optimizer state as named tensors plus a step count, for checkpoints. */
export interface OptimizerState {
  readonly step: number;
  readonly slots: tf.NamedTensorMap;
}

export class Optimizer {
  private readonly slots = new Map<string, tf.Variable>();
  private step = 0;

  constructor(
    readonly config: OptimizerConfig,
    private readonly params: readonly ParamGroup[],
    private readonly weightDecay: number,
  ) {}

  private slot(param: ParamGroup, kind: string): tf.Variable {
    const key = `${param.name}/${kind}`;
    let v = this.slots.get(key);
    if (!v) {
      v = tf.variable(tf.zerosLike(param.variable), false);
      this.slots.set(key, v);
    }
    return v;
  }

  /** One update with `grads` keyed by parameter name. Parameters without a gradient are left alone. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const t = this.step;
    const fused = this.config.kind === 'sgd' && this.config.momentum > 0 && tf.getKernel(SGD_MOMENTUM, tf.getBackend());
    const inPlace = fused ? this.applyInPlace(grads, lr, t === 1) : new Set<string>();
    tf.tidy(() => {
      for (const p of this.params) {
        let g = grads.get(p.name);
        if (!g || inPlace.has(p.name)) continue;
        if (fused && this.config.kind === 'sgd' && g.dtype === 'float32') {
          const attrs: SgdMomentumAttrs = {
            lr,
            momentum: this.config.momentum,
            decay: this.weightDecay > 0 && p.decay ? this.weightDecay : 0,
            nesterov: this.config.nesterov,
            first: t === 1,
          };
          const buf = this.slot(p, 'momentum');
          const [w, next] = tf.engine().runKernel(SGD_MOMENTUM, { w: p.variable, g, buf }, { ...attrs }) as tf.Tensor[];
          buf.assign(next!);
          p.variable.assign(w!);
          continue;
        }
        if (this.weightDecay > 0 && p.decay) g = tf.add(g, tf.mul(p.variable, this.weightDecay));
        if (this.config.kind === 'sgd') {
          const { momentum, nesterov } = this.config;
          if (momentum === 0) {
            p.variable.assign(tf.sub(p.variable, tf.mul(g, lr)));
            continue;
          }
          const buf = this.slot(p, 'momentum');
          // PyTorch: the first step's buffer is the gradient itself.
          const next = t === 1 ? g : tf.add(tf.mul(buf, momentum), g);
          buf.assign(next);
          const direction = nesterov ? tf.add(g, tf.mul(next, momentum)) : next;
          p.variable.assign(tf.sub(p.variable, tf.mul(direction, lr)));
        } else {
          const { beta1, beta2, epsilon } = this.config;
          const m = this.slot(p, 'm');
          const v = this.slot(p, 'v');
          m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
          v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
          const mHat = tf.div(m, 1 - beta1 ** t);
          const denom = tf.add(tf.sqrt(tf.div(v, 1 - beta2 ** t)), epsilon);
          p.variable.assign(tf.sub(p.variable, tf.mul(tf.div(mHat, denom), lr)));
        }
      }
    });
  }

  /**
   * SGD with momentum written into the parameters' own memory where the backend can do that
   * safely (onednn's sgdInPlace: no other tensor or caller sees them); the names it updated.
   */
  private applyInPlace(grads: ReadonlyMap<string, tf.Tensor>, lr: number, first: boolean): Set<string> {
    const backend = tf.backend() as tf.KernelBackend & Partial<InPlaceSgd>;
    if (this.config.kind !== 'sgd' || typeof backend.sgdInPlace !== 'function') return new Set();
    const params = this.params.filter((p) => grads.get(p.name)?.dtype === 'float32');
    const done = backend.sgdInPlace(
      params.map((p) => ({
        w: p.variable,
        g: grads.get(p.name)!,
        buf: this.slot(p, 'momentum'),
        decay: this.weightDecay > 0 && p.decay ? this.weightDecay : 0,
      })),
      { lr, momentum: this.config.momentum, nesterov: this.config.nesterov, first },
    );
    return new Set(params.filter((_, i) => done[i]).map((p) => p.name));
  }

  /** A copy of the state (the caller disposes its tensors). */
  state(): OptimizerState {
    const slots: tf.NamedTensorMap = {};
    for (const [key, v] of this.slots) slots[key] = tf.clone(v);
    return { step: this.step, slots };
  }

  load(state: OptimizerState): void {
    this.step = state.step;
    for (const [key, value] of Object.entries(state.slots)) {
      const existing = this.slots.get(key);
      if (existing) existing.assign(value);
      else this.slots.set(key, tf.variable(tf.clone(value), false));
    }
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
