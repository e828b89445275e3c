/**
 * Architecture params as the pipeline writes them: a model config without the input shape and
 * class count, which come from the prepared data.
 */
import { z } from 'zod';
import { trainConfig } from '../../src/models/train-config.ts';

export const archParams = z.looseObject({ kind: z.enum(['plain-cnn', 'resnet', 'mlp']) });
export type ArchParams = z.output<typeof archParams>;

/**
 * The architecture at another width (a multiplier of every layer's channels) and depth (plain CNN:
 * conv layers, the channel pattern stretched and pools kept at the same relative places; ResNet:
 * its 6n+2 depth; MLP: hidden layers), for the core-network constancy sweep (docs/science.md, "Average path length").
 */
export function resize(arch: ArchParams, width: number, depth: number | undefined): ArchParams {
  const scale = (c: number) => Math.max(1, Math.round(c * width));
  const a = arch as Record<string, unknown>;
  switch (arch.kind) {
    case 'plain-cnn': {
      const channels = (a.channels as number[] | undefined) ?? [16, 16, 32, 32];
      const pools = (a.poolAfter as number[] | undefined) ?? [];
      const d = depth ?? channels.length;
      const stretched = Array.from({ length: d }, (_, i) => channels[Math.floor((i * channels.length) / d)]!);
      const poolAfter = [...new Set(pools.map((p) => Math.max(0, Math.round(((p + 1) * d) / channels.length) - 1)))];
      return { ...arch, channels: stretched.map(scale), poolAfter };
    }
    case 'resnet':
      return {
        ...arch,
        baseWidth: scale((a.baseWidth as number | undefined) ?? 16),
        ...(depth !== undefined ? { depth } : {}),
      };
    case 'mlp':
      return {
        ...arch,
        width: scale((a.width as number | undefined) ?? 64),
        ...(depth !== undefined ? { depth } : {}),
      };
  }
}

/** The training recipe params of a training stage (the seed is the stage's own). */
export const recipeParams = trainConfig.omit({ seed: true });
export type RecipeParams = z.output<typeof recipeParams>;
