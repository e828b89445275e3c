/** Every architecture, behind one serialisable config union. */
import { z } from 'zod';
import { Model, type Architecture } from '../model.ts';
import { mlp, mlpConfig } from './mlp.ts';
import { plainCnn, plainCnnConfig } from './plain-cnn.ts';
import { resnet, resnetConfig } from './resnet.ts';

export { hiddenWidths } from './mlp.ts';
export type { MlpConfig } from './mlp.ts';
export type { PlainCnnConfig } from './plain-cnn.ts';
export type { ResnetConfig } from './resnet.ts';

export const modelConfig = z.discriminatedUnion('kind', [plainCnnConfig, resnetConfig, mlpConfig]);
export type ModelConfig = z.output<typeof modelConfig>;
/** What a user writes: defaults may be left out. */
export type ModelConfigInput = z.input<typeof modelConfig>;

const architectures: { [K in ModelConfig['kind']]: Architecture<Extract<ModelConfig, { kind: K }>> } = {
  'plain-cnn': plainCnn,
  resnet,
  mlp,
};

/** Validate a config (defaults applied) with messages that name the offending field. */
export function parseModelConfig(input: unknown, where = 'model config'): ModelConfig {
  const result = modelConfig.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new Error(`invalid ${where}: ${problems.join('; ')}`);
}

export function buildModel(config: ModelConfigInput | ModelConfig, seed: number): Model<ModelConfig> {
  const parsed = parseModelConfig(config);
  const architecture = architectures[parsed.kind] as Architecture<ModelConfig>;
  return new Model<ModelConfig>(parsed, architecture, seed);
}
