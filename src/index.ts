/** linea's public API: what `pipeline.ts` and `stages/` import from 'linea'. */
export { defineStage, input, gather } from './engine/stage.ts';
export type {
  Artifact,
  GatherSpec,
  InputSpec,
  Progress,
  Stage,
  StageContext,
  StageInputs,
  Variant,
} from './engine/stage.ts';
export { definePipeline, axis, namedAxis } from './engine/pipeline.ts';
export type { Node, Pipeline, PipelineBuilder, Preset, AxisSpec } from './engine/pipeline.ts';
export { LineaError } from './engine/errors.ts';
export { fileDigest, directoryDigests } from './engine/data-files.ts';
export type { Json, CacheKey, ArtifactDigest } from './engine/json.ts';
export type { Fingerprint, Reason } from './engine/fingerprint.ts';
