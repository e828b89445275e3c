/**
 * CIFAR-style ResNet-v1 (He et al. 2016, §4.2): depth 6n+2 = a 3×3 stem, three stages of n basic
 * blocks with widths w, 2w, 4w (stride 2 at the first block of stages 2 and 3), GAP, dense.
 * Activation sites: the stem, the middle of each block's branch, and after each addition.
 */
import * as tf from '../tf.ts';
import { z } from 'zod';
import type { Architecture, Layers } from '../model.ts';
import { imageShape, initScheme, nonlinearity, positiveInt } from './common.ts';

export const resnetConfig = z
  .object({
    kind: z.literal('resnet'),
    inputShape: imageShape,
    classes: positiveInt,
    depth: z
      .number()
      .int()
      .refine((d) => d >= 8 && (d - 2) % 6 === 0, {
        message: 'ResNet-v1 depth must be 6n+2 with n ≥ 1 (8, 14, 20, 32, 44, 56, 110, …)',
      }),
    baseWidth: positiveInt.default(16),
    /**
     * How a block's shortcut meets a change of shape: 'identity-pad' is He et al.'s option A
     * (subsample, zero-pad channels; no parameters), 'projection' option B (1×1 conv + BN where the
     * shape changes), 'projection-every-stage' a projection on the first block of every stage, as in
     * TensorFlow's official ResNet (the model whose 856,058 parameters Frivolous Units reports).
     */
    shortcut: z.enum(['identity-pad', 'projection', 'projection-every-stage']).default('projection'),
    activation: nonlinearity.default('prelu'),
    init: initScheme.default('he'),
  })
  .strict();

export type ResnetConfig = z.output<typeof resnetConfig>;

export const resnet: Architecture<ResnetConfig> = {
  inputShape: (c) => [...c.inputShape],
  outputs: (c) => c.classes,
  forward(c, L: Layers, input) {
    const conv = (name: string, x: tf.Tensor4D, filters: number, stride = 1, kernel = 3) =>
      L.batchNorm(`${name}/bn`, L.conv2d(name, x, filters, { stride, kernel, bias: false, init: c.init }));
    let x = L.activation('stem', conv('stem', input as tf.Tensor4D, c.baseWidth), c.activation, 'stem');
    const blocks = (c.depth - 2) / 6;
    for (let s = 0; s < 3; s++) {
      const width = c.baseWidth * 2 ** s;
      for (let b = 0; b < blocks; b++) {
        const id = `s${s}b${b}`;
        const stride = s > 0 && b === 0 ? 2 : 1;
        const reshapes = stride !== 1 || x.shape[3] !== width;
        const project = c.shortcut === 'projection-every-stage' ? b === 0 : c.shortcut === 'projection' && reshapes;
        const sum = L.residual(
          x,
          (h) =>
            conv(
              `${id}/conv2`,
              L.activation(`${id}/mid`, conv(`${id}/conv1`, h, width, stride), c.activation, 'branch'),
              width,
            ),
          (h) => {
            if (project) return conv(`${id}/shortcut`, h, width, stride, 1);
            if (!reshapes) return h;
            // Option A: take every stride-th position and zero-pad the new channels.
            const sub =
              stride > 1 ? (tf.stridedSlice(h, [0, 0, 0, 0], h.shape, [1, stride, stride, 1]) as tf.Tensor4D) : h;
            const extra = width - sub.shape[3];
            return tf.pad(sub, [
              [0, 0],
              [0, 0],
              [0, 0],
              [Math.floor(extra / 2), Math.ceil(extra / 2)],
            ]);
          },
          project,
        );
        x = L.activation(`${id}/out`, sum, c.activation, 'post-add');
      }
    }
    return L.dense('head', tf.mean(x, [1, 2]) as tf.Tensor2D, c.classes, { bias: true, init: 'lecun' });
  },
};
