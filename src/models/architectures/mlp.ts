/**
 * MLP: `depth` hidden dense layers of `width` units (or explicit `widths`, e.g. for a bottleneck),
 * each an activation site, then a dense output with an optional output nonlinearity. The NTK
 * parametrisation (weights N(0,1), each layer scaled by 1/√fan-in) is what the transition-to-
 * linearity measurements need.
 */
import * as tf from '../tf.ts';
import { z } from 'zod';
import type { Architecture, Layers } from '../model.ts';
import { initScheme, nonlinearity, positiveInt } from './common.ts';

export const mlpConfig = z
  .object({
    kind: z.literal('mlp'),
    /** Per-example input shape; images are flattened. */
    inputShape: z.array(positiveInt).min(1),
    outputs: positiveInt,
    depth: z.number().int().nonnegative().default(1),
    width: positiveInt.default(64),
    /** Hidden widths layer by layer; overrides depth × width when given. */
    widths: z.array(positiveInt).optional(),
    activation: nonlinearity.default('prelu'),
    outputActivation: z.enum(['linear', 'tanh', 'sigmoid']).default('linear'),
    parametrization: z.enum(['standard', 'ntk']).default('standard'),
    bias: z.boolean().default(true),
    init: initScheme.default('he'),
  })
  .strict();

export type MlpConfig = z.output<typeof mlpConfig>;

export function hiddenWidths(c: MlpConfig): number[] {
  return c.widths ?? Array.from({ length: c.depth }, () => c.width);
}

export const mlp: Architecture<MlpConfig> = {
  inputShape: (c) => [...c.inputShape],
  outputs: (c) => c.outputs,
  forward(c, L: Layers, input) {
    const ntk = c.parametrization === 'ntk';
    let x = tf.reshape(input, [input.shape[0]!, -1]) as tf.Tensor2D;
    hiddenWidths(c).forEach((units, i) => {
      x = L.activation(
        `hidden${i}`,
        L.dense(`dense${i}`, x, units, { bias: c.bias, init: c.init, ntk }),
        c.activation,
        'plain',
      );
    });
    const y = L.dense('output', x, c.outputs, { bias: c.bias, init: c.init === 'he' ? 'lecun' : c.init, ntk });
    switch (c.outputActivation) {
      case 'linear':
        return y;
      case 'tanh':
        return tf.tanh(y);
      case 'sigmoid':
        return tf.sigmoid(y);
    }
  },
};
