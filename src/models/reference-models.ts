/**
 * The two models of bench/torch_reference.py, as linea configs: conv32-prelu-conv32-
 * prelu-maxpool2-conv64-prelu-GAP-dense10, all 3×3 'same' convs with bias, channel-wise PReLU.
 */
import type { ModelConfig } from './architectures/index.ts';

export const REFERENCE_MODELS = {
  'cifar-small': [32, 32, 3],
  'fmnist-small': [28, 28, 1],
} as const;

export type ReferenceModelName = keyof typeof REFERENCE_MODELS;

export function referenceModel(name: ReferenceModelName): ModelConfig {
  const [h, w, c] = REFERENCE_MODELS[name];
  return {
    kind: 'plain-cnn',
    inputShape: [h, w, c],
    classes: 10,
    channels: [32, 32, 64],
    poolAfter: [1],
    pool: 'max',
    batchNorm: false,
    activation: 'prelu',
    head: 'gap',
    init: 'he',
  };
}
