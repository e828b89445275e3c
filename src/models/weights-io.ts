/**
 * Weights on disk: tfjs's own format (a JSON file with the topology and a weights manifest, plus a
 * binary file of raw little-endian float32), read and written through a io.IOHandler over
 * node:fs, so no tfjs-node is needed. Values are copied byte for byte: a round trip is bit-exact.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from './tf.ts';
import type { io } from '@tensorflow/tfjs-core';
import { buildModel, parseModelConfig, type ModelConfig } from './architectures/index.ts';
import type { Model } from './model.ts';

const FORMAT = 'linea-model';

interface ModelJson {
  format: string;
  generatedBy: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** An IOHandler for `<dir>/<stem>.json` + `<dir>/<stem>.bin`. */
export function directoryHandler(dir: string, stem = 'model'): Required<Pick<io.IOHandler, 'save' | 'load'>> {
  const jsonPath = join(dir, `${stem}.json`);
  const binName = `${stem}.bin`;
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      const data =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json: ModelJson = {
        format: FORMAT,
        generatedBy: `linea on tfjs ${tf.version_core}`,
        modelTopology: artifacts.modelTopology ?? null,
        weightsManifest: [{ paths: [binName], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, binName), new Uint8Array(data));
      await writeFile(jsonPath, JSON.stringify(json, null, 1) + '\n');
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: data }) };
    },
    async load(): Promise<io.ModelArtifacts> {
      let json: ModelJson;
      try {
        json = JSON.parse(await readFile(jsonPath, 'utf8')) as ModelJson;
      } catch (error) {
        throw new Error(`cannot read weights ${jsonPath}: ${(error as Error).message}`);
      }
      if (json.format !== FORMAT) throw new Error(`${jsonPath} is not a linea weights file (format '${json.format}')`);
      const group = json.weightsManifest[0];
      if (!group || group.paths.length !== 1) throw new Error(`${jsonPath}: expected one weights group with one file`);
      const bytes = await readFile(join(dir, group.paths[0]!));
      const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const expected = group.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
      if (weightData.byteLength !== expected) {
        throw new Error(
          `${join(dir, group.paths[0]!)} has ${weightData.byteLength} bytes; its manifest describes ${expected}`,
        );
      }
      return {
        modelTopology: json.modelTopology as io.ModelArtifacts['modelTopology'],
        weightSpecs: group.weights,
        weightData,
        ...(json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata as Record<string, never> } : {}),
      };
    },
  };
}

/** Write named tensors (any float32 map: weights, optimizer state) with a JSON topology. */
export async function writeTensors(
  dir: string,
  stem: string,
  tensors: tf.NamedTensorMap,
  topology: unknown,
  metadata?: Record<string, unknown>,
): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await directoryHandler(dir, stem).save({
    modelTopology: topology as io.ModelArtifacts['modelTopology'],
    weightSpecs: specs,
    weightData: data,
    ...(metadata ? { userDefinedMetadata: metadata as Record<string, never> } : {}),
  });
}

export async function readTensors(
  dir: string,
  stem: string,
): Promise<{ tensors: tf.NamedTensorMap; topology: unknown; metadata?: Record<string, unknown> }> {
  const artifacts = await directoryHandler(dir, stem).load();
  const tensors = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
  return {
    tensors,
    topology: artifacts.modelTopology,
    ...(artifacts.userDefinedMetadata ? { metadata: artifacts.userDefinedMetadata } : {}),
  };
}

/** The weight file stores the model's config as its topology, and the seed it was built with. */
export async function saveModel(model: Model<ModelConfig>, dir: string, stem = 'model'): Promise<void> {
  const weights = model.weights();
  try {
    await writeTensors(dir, stem, weights, { config: model.config, seed: model.seed });
  } finally {
    tf.dispose(weights);
  }
}

export async function loadModel(dir: string, stem = 'model'): Promise<Model<ModelConfig>> {
  const { tensors, topology } = await readTensors(dir, stem);
  const { config, seed } = (topology ?? {}) as { config?: unknown; seed?: number };
  const model = buildModel(parseModelConfig(config, `model config in ${join(dir, `${stem}.json`)}`), seed ?? 0);
  try {
    model.setWeights(tensors);
  } catch (error) {
    model.dispose();
    throw new Error(`${join(dir, `${stem}.json`)}: ${(error as Error).message}`);
  } finally {
    tf.dispose(tensors);
  }
  return model;
}
