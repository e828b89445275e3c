/**
 * Synthetic teacher tasks (docs/science.md, "Frivolous units"): Gaussian inputs labelled by the argmax of a fixed,
 * randomly initialised network. The teacher's depth is the difficulty knob: a deeper teacher draws
 * more convoluted class boundaries, which a shallow student cannot fit.
 */
import * as tf from '../tf.ts';
import { buildModel, type ModelConfigInput } from '../architectures/index.ts';
import { deriveSeed, mulberry32, normalArray } from '../random.ts';
import { exampleSize, type Dataset } from './dataset.ts';

export interface TeacherTaskOptions {
  /** The teacher network; its number of outputs is the number of classes. */
  readonly teacher: ModelConfigInput;
  readonly train: number;
  readonly test: number;
  readonly seed: number;
  /**
   * Subtract each class's mean teacher logit before the argmax, so that a random teacher does not
   * put most examples in one class. Default true.
   */
  readonly balance?: boolean;
}

/** A plain ReLU CNN teacher with `depth` conv layers (docs/science.md, "Nonlinear advantage": depth 2 easy, 6 hard). */
export function deepTeacher(options: {
  inputShape: [number, number, number];
  depth: number;
  width?: number;
  classes?: number;
}): ModelConfigInput {
  return {
    kind: 'plain-cnn',
    inputShape: options.inputShape,
    classes: options.classes ?? 10,
    channels: Array.from({ length: options.depth }, () => options.width ?? 16),
    activation: 'relu',
    head: 'gap',
  };
}

export function teacherTask(options: TeacherTaskOptions): { train: Dataset; test: Dataset } {
  const teacher = buildModel(options.teacher, deriveSeed(options.seed, 'teacher'));
  try {
    const shape = teacher.inputShape;
    const per = exampleSize(shape);
    const total = options.train + options.test;
    const x = normalArray(mulberry32(deriveSeed(options.seed, 'inputs')), total * per);
    const logits = new Float32Array(total * teacher.outputs);
    const batch = 512;
    for (let start = 0; start < total; start += batch) {
      const n = Math.min(batch, total - start);
      const out = tf.tidy(() =>
        teacher.predict(tf.tensor(x.subarray(start * per, (start + n) * per), [n, ...shape])).dataSync(),
      );
      logits.set(out, start * teacher.outputs);
    }
    const k = teacher.outputs;
    const offset = new Float64Array(k);
    if (options.balance ?? true) {
      for (let i = 0; i < total; i++) for (let c = 0; c < k; c++) offset[c]! += logits[i * k + c]! / total;
    }
    const labels = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits[i * k + c]! - offset[c]! > logits[i * k + best]! - offset[best]!) best = c;
      labels[i] = best;
    }
    const split = (from: number, to: number): Dataset => ({
      x: x.slice(from * per, to * per),
      labels: labels.slice(from, to),
      shape,
      classes: k,
    });
    return { train: split(0, options.train), test: split(options.train, total) };
  } finally {
    teacher.dispose();
  }
}
