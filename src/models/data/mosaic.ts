/**
 * Compositional tasks made from real images: mosaics of 2–4 Fashion-MNIST items side by side
 * whose label is a relation between the items, not a property of any one of them:
 * - `sum-mod`: with k item classes numbered 0…k−1 in the order given, the label is the sum of
 *   the items' class numbers modulo k (k classes);
 * - `same`: 1 when every item is of the same class, else 0 (2 classes);
 * - `first`: the first item's class number (k classes), the others are distractors: the easy
 *   member of the family, where one item's features decide the label.
 * Recognising each item takes one layer of features; the label then needs a nonlinear function
 * of features from different places of the image (for two items and k = 2 it is XOR), which a
 * linear read-out of pooled features cannot compute and a shallow network's receptive field
 * does not span. Labels are exactly balanced by drawing the label first and the items to fit it.
 */
import { deriveSeed, mulberry32, type Rng } from '../random.ts';
import type { RawImages } from './dataset.ts';

export type MosaicRule = 'sum-mod' | 'same' | 'first';

export interface MosaicOptions {
  /** Items per image: 2 (side by side), 3 (in a row) or 4 (2×2). */
  readonly items: number;
  /** Source class numbers the items are drawn from, in the order that numbers them 0…k−1. */
  readonly classes: readonly number[];
  readonly rule: MosaicRule;
  readonly count: number;
  readonly seed: number;
}

/** Rows × columns of items. */
export function mosaicLayout(items: number): [number, number] {
  switch (items) {
    case 2:
      return [1, 2];
    case 3:
      return [1, 3];
    case 4:
      return [2, 2];
    default:
      throw new Error(`mosaic: items must be 2, 3 or 4, not ${items}`);
  }
}

export function mosaicClasses(rule: MosaicRule, k: number): number {
  return rule === 'same' ? 2 : k;
}

/** The item classes (as numbers 0…k−1) of one example with the given label. */
function itemsFor(rule: MosaicRule, label: number, items: number, k: number, rand: Rng): number[] {
  const pick = () => Math.floor(rand() * k);
  if (rule === 'first') return [label, ...Array.from({ length: items - 1 }, pick)];
  if (rule === 'sum-mod') {
    const first = Array.from({ length: items - 1 }, pick);
    const partial = first.reduce((a, b) => a + b, 0);
    return [...first, (((label - partial) % k) + k) % k];
  }
  if (label === 1) return new Array<number>(items).fill(pick());
  // Not all equal: draw until at least two differ (k ≥ 2 makes this end quickly).
  for (;;) {
    const out = Array.from({ length: items }, pick);
    if (out.some((c) => c !== out[0])) return out;
  }
}

/** The label the rule gives to items of these class numbers. */
export function mosaicLabel(rule: MosaicRule, items: readonly number[], k: number): number {
  if (rule === 'sum-mod') return items.reduce((a, b) => a + b, 0) % k;
  if (rule === 'first') return items[0]!;
  return items.every((c) => c === items[0]) ? 1 : 0;
}

/**
 * `count` mosaics from one split of single-item images (grey, same size). Items are drawn with
 * replacement from the split's images of each class, so train and test mosaics come from
 * disjoint images when built from the train and test splits.
 */
export function mosaicTask(source: RawImages, options: MosaicOptions): RawImages {
  const { items, classes, rule, count } = options;
  const [rows, cols] = mosaicLayout(items);
  const k = classes.length;
  if (k < 2) throw new Error(`mosaic: at least 2 item classes are needed, got ${k}`);
  if (new Set(classes).size !== k) throw new Error(`mosaic: item classes repeat: [${classes.join(', ')}]`);
  const [h, w, c] = source.shape as [number, number, number];
  const byClass = classes.map((cls) => {
    if (!Number.isInteger(cls) || cls < 0 || cls >= source.classes) {
      throw new Error(`mosaic: item class ${cls} is not a class of the source (0…${source.classes - 1})`);
    }
    const out: number[] = [];
    source.labels.forEach((label, i) => {
      if (label === cls) out.push(i);
    });
    if (out.length === 0) throw new Error(`mosaic: the source has no image of class ${cls}`);
    return out;
  });
  const outClasses = mosaicClasses(rule, k);
  const rand = mulberry32(deriveSeed(options.seed, 'mosaic', rule, items));
  const labels = Int32Array.from({ length: count }, (_, i) => i % outClasses);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  const [H, W] = [rows * h, cols * w];
  const per = H * W * c;
  const pixels = new Uint8Array(count * per);
  for (let n = 0; n < count; n++) {
    const chosen = itemsFor(rule, labels[n]!, items, k, rand);
    chosen.forEach((itemClass, slot) => {
      const pool = byClass[itemClass]!;
      const src = pool[Math.floor(rand() * pool.length)]!;
      const [r0, c0] = [Math.floor(slot / cols) * h, (slot % cols) * w];
      for (let y = 0; y < h; y++) {
        const from = (src * h + y) * w * c;
        pixels.set(source.pixels.subarray(from, from + w * c), n * per + ((r0 + y) * W + c0) * c);
      }
    });
  }
  const classNames =
    rule === 'same'
      ? ['different', 'same']
      : rule === 'first'
        ? classes.map((c) => `first item ${source.classNames?.[c] ?? `class ${c}`}`)
        : Array.from({ length: k }, (_, s) => `sum ≡ ${s} (mod ${k})`);
  return { pixels, labels, shape: [H, W, c], classes: outClasses, classNames };
}
