/**
 * Plain CNN: a stack of 3×3 'same' convolutions, each followed by optional batch norm and an
 * activation site, with 2×2 pooling after chosen layers, then a GAP (or flatten) + dense head.
 * Max-pooling is a nonlinearity that no PReLU controls: with `pool: 'avg'` a network whose every
 * α is 1 is linear end to end, which the path length and the task gate assume
 * (docs/science.md, "The task gate").
 * The PyTorch reference models of bench/ are plain CNNs with channels [32, 32, 64], pool after 1.
 */
import * as tf from '../tf.ts';
import { z } from 'zod';
import type { Architecture, Layers } from '../model.ts';
import { imageShape, initScheme, nonlinearity, positiveInt } from './common.ts';

export const plainCnnConfig = z
  .object({
    kind: z.literal('plain-cnn'),
    inputShape: imageShape,
    classes: positiveInt,
    /** Output channels of each conv layer; its length is the depth. */
    channels: z.array(positiveInt).min(1),
    /** 0-based conv layers followed by a 2×2 pool (stride 2). */
    poolAfter: z.array(z.number().int().nonnegative()).default([]),
    /** Max-pooling (a nonlinearity of its own) or average pooling (linear). */
    pool: z.enum(['max', 'avg']).default('max'),
    batchNorm: z.boolean().default(false),
    activation: nonlinearity.default('prelu'),
    head: z.enum(['gap', 'flatten']).default('gap'),
    init: initScheme.default('he'),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const i of c.poolAfter) {
      if (i >= c.channels.length)
        ctx.addIssue({
          code: 'custom',
          path: ['poolAfter'],
          message: `pool after layer ${i}, but there are only ${c.channels.length} conv layers (0-based)`,
        });
    }
  });

export type PlainCnnConfig = z.output<typeof plainCnnConfig>;

export const plainCnn: Architecture<PlainCnnConfig> = {
  inputShape: (c) => [...c.inputShape],
  outputs: (c) => c.classes,
  forward(c, L: Layers, input) {
    let x = input as tf.Tensor4D;
    let features: tf.Tensor2D | undefined;
    for (const [i, filters] of c.channels.entries()) {
      x = L.conv2d(`conv${i}`, x, filters, { bias: !c.batchNorm, init: c.init });
      if (c.batchNorm) x = L.batchNorm(`bn${i}`, x);
      const pooled = c.poolAfter.includes(i);
      // The activation and what follows it in one step where that is one pass (model.ts).
      if (pooled && c.pool === 'max') x = L.activationMaxPool(`act${i}`, x, c.activation, 'plain');
      else if (!pooled && c.head === 'gap' && i === c.channels.length - 1)
        features = L.activationMean(`act${i}`, x, c.activation, 'plain');
      else {
        x = L.activation(`act${i}`, x, c.activation, 'plain');
        if (pooled) x = tf.avgPool(x, 2, 2, 'valid');
      }
    }
    features ??= (c.head === 'gap' ? tf.mean(x, [1, 2]) : tf.reshape(x, [x.shape[0], -1])) as tf.Tensor2D;
    return L.dense('head', features, c.classes, { bias: true, init: 'lecun' });
  },
};
