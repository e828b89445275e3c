/**
 * What `prepare-data` is asked for: the source, the class subset, the resolution and the split.
 * A schema of its own, with no tensor code beside it, so that a pipeline can be defined (and its
 * params checked) without loading a tensor library.
 */
import { z } from 'zod';
import { DEBIAN_FASHION_MNIST_DIR } from './fashion-mnist.ts';

const positive = z.number().int().positive();

export const dataSpec = z
  .object({
    source: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('fashion-mnist-embedded') }).strict(),
      z.object({ kind: z.literal('fashion-mnist'), dir: z.string().default(DEBIAN_FASHION_MNIST_DIR) }).strict(),
      z
        .object({
          kind: z.literal('cifar'),
          variant: z.union([z.literal(10), z.literal(100)]),
          train: z.array(z.string()).min(1),
          test: z.array(z.string()).min(1),
          label: z.enum(['fine', 'coarse']).default('fine'),
        })
        .strict(),
      /** Gaussian inputs labelled by a random plain ReLU CNN of `depth` conv layers (the difficulty knob). */
      z
        .object({
          kind: z.literal('teacher'),
          depth: positive,
          size: positive.default(8),
          classes: positive.default(10),
          width: positive.default(16),
          train: positive.default(2000),
          test: positive.default(500),
        })
        .strict(),
      /**
       * The Random Hierarchy Model in 2-D (hierarchy.ts): one-hot symbols on a 2^L grid whose label
       * is the root of L levels of random 2×2 production rules (the difficulty knob is L).
       */
      z
        .object({
          kind: z.literal('hierarchy'),
          levels: positive.max(6),
          vocabulary: positive.default(8),
          classes: positive.default(4),
          rules: positive.default(4),
          /** Side of the image; each symbol is repeated into a square (default 2^levels). */
          size: positive.optional(),
          train: positive.default(8000),
          test: positive.default(4000),
        })
        .strict(),
      /**
       * Mosaics of Fashion-MNIST items whose label is a relation between them (mosaic.ts): the
       * sum of their class numbers modulo k, or whether they are all of one class.
       */
      z
        .object({
          kind: z.literal('fashion-mnist-mosaic'),
          dir: z.string().default(DEBIAN_FASHION_MNIST_DIR),
          items: z.number().int().min(2).max(4).default(2),
          itemClasses: z.array(z.number().int().nonnegative()).min(2).default([1, 8]),
          rule: z.enum(['sum-mod', 'same', 'first']).default('sum-mod'),
          train: positive.default(8000),
          test: positive.default(4000),
        })
        .strict(),
    ]),
    /** Keep only these classes (relabelled 0…k−1, in this order). */
    classes: z.array(z.number().int().nonnegative()).optional(),
    /** Average-pool images by this factor (2: 28×28 → 14×14). */
    downsample: positive.default(1),
    /** Fraction (< 1) or count of training examples held out, stratified. 0: none. */
    validation: z.number().nonnegative().default(0),
    /** Keep only the first N training / test examples (after the class subset): quick runs and tests. */
    limit: z.object({ train: positive.optional(), test: positive.optional() }).strict().default({}),
    seed: z.number().int().default(0),
  })
  .strict();

export type DataSpec = z.output<typeof dataSpec>;
export type DataSpecInput = z.input<typeof dataSpec>;
