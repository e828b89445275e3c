/**
 * tfjs hands every kernel its op's attributes as an untyped NamedAttrMap; an op's attributes have
 * the shape its kernel name declares in tfjs-core (kernel_names.ts). The native and wasm kernels
 * read them through this one function, so the cast lives in one place.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

export function attrsAs<T>(attrs: NamedAttrMap | undefined): T {
  // biome-ignore lint/plugin: an op's attrs have the shape its kernel name declares in tfjs-core
  return attrs as unknown as T;
}
