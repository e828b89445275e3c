/**
 * prepare-data: the dataset the experiment trains on (embedded Fashion-MNIST by default; the full
 * set, CIFAR files, or the synthetic teacher task), a class subset, a resolution and a split,
 * normalised with the training set's statistics and written as raw float32 splits.
 */
import { defineStage, directoryDigests, fileDigest } from '../src/index.ts';
import { EMBEDDED_FASHION_MNIST_DIR } from '../src/models/data/fashion-mnist.ts';
import { dataSpec, type DataSpec } from '../src/models/data/spec.ts';
import type { DataValue } from './lib/artifacts.ts';
import { loadModels, loadTraining } from './lib/runtime.ts';

/** The bytes the params point at are part of the key: new data files ⇒ new data. */
function dataFiles(spec: DataSpec): Record<string, string> {
  const s = spec.source;
  switch (s.kind) {
    case 'fashion-mnist-embedded':
      return directoryDigests(EMBEDDED_FASHION_MNIST_DIR, (name) => name.includes('ubyte'));
    case 'fashion-mnist':
    case 'fashion-mnist-mosaic':
      return directoryDigests(s.dir, (name) => name.includes('ubyte'));
    case 'cifar':
      return Object.fromEntries([...s.train, ...s.test].map((file) => [file, fileDigest(file)]));
    case 'teacher':
    case 'hierarchy':
      return {};
  }
}

function describeSource(spec: DataSpec): string {
  const s = spec.source;
  if (s.kind === 'teacher') return `teacher (depth ${s.depth}, ${s.size}×${s.size}, ${s.classes} classes)`;
  if (s.kind === 'cifar') return `cifar-${s.variant}`;
  if (s.kind === 'hierarchy') {
    return `random hierarchy (L = ${s.levels}, v = ${s.vocabulary}, ${s.classes} classes, m = ${s.rules})`;
  }
  if (s.kind === 'fashion-mnist-mosaic') {
    return `fashion-mnist mosaic (${s.items} items of classes ${s.itemClasses.join(', ')}, ${s.rule})`;
  }
  return s.kind;
}

export const prepareDataStage = defineStage({
  name: 'prepare-data',
  description: 'dataset, class subset, resolution and split → normalised splits on disk',
  params: dataSpec,
  // The teacher's labels are a network's argmax, computed on the tensor backend: key on it as training does.
  env: (params) => ({
    dataFiles: dataFiles(params),
    ...(params.source.kind === 'teacher' ? { LINEA_BACKEND: process.env.LINEA_BACKEND ?? null } : {}),
  }),
  run: async (ctx): Promise<DataValue> => {
    const [{ prepareData, saveData }, { useBackend }] = await Promise.all([loadModels(), loadTraining()]);
    if (ctx.params.source.kind === 'teacher') await useBackend(ctx);
    const data = prepareData(ctx.params);
    await saveData(ctx.outDir, data);
    ctx.log(
      `${data.train.labels.length} train / ${data.validation?.labels.length ?? 0} validation / ${data.test.labels.length} test, ${data.train.shape.join('×')}, ${data.train.classes} classes`,
    );
    return {
      source: describeSource(ctx.params),
      shape: [...data.train.shape],
      classes: data.train.classes,
      ...(data.train.classNames ? { classNames: [...data.train.classNames] } : {}),
      train: data.train.labels.length,
      validation: data.validation?.labels.length ?? 0,
      test: data.test.labels.length,
    };
  },
});
