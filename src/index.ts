/** linea's public API: what `pipeline.ts` and `stages/` import from 'linea'. */
export { defineStage, input, gather } from './engine/define/stage.ts';
export type {
  Artifact,
  GatherSpec,
  InputSpec,
  Progress,
  Stage,
  StageContext,
  StageInputs,
  Variant,
} from './engine/define/stage.ts';
export { definePipeline, axis, namedAxis } from './engine/define/pipeline.ts';
export type { Node, Pipeline, PipelineBuilder, Preset, AxisSpec } from './engine/define/pipeline.ts';
export { LineaError } from './engine/core/errors.ts';
export { fileDigest, directoryDigests } from './engine/key/data-files.ts';
export type { Json, CacheKey, ArtifactDigest } from './engine/core/json.ts';
export type { Fingerprint, Reason } from './engine/key/fingerprint.ts';
