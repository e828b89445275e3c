/**
 * prepare-data: the dataset the experiment trains on (embedded Fashion-MNIST by default; the full
 * set, CIFAR files, or the synthetic teacher task), a class subset, a resolution and a split,
 * normalised with the training set's statistics and written as raw float32 splits.
 */
import { defineStage, directoryDigests, fileDigest } from '../src/index.ts';
import { dataSpec, EMBEDDED_FASHION_MNIST_DIR, prepareData, saveData, type DataSpec } from '../src/models/index.ts';
import type { DataValue } from './lib/artifacts.ts';

/** The bytes the params point at are part of the key: new data files ⇒ new data. */
function dataFiles(spec: DataSpec): Record<string, string> {
  const s = spec.source;
  switch (s.kind) {
    case 'fashion-mnist-embedded':
      return directoryDigests(EMBEDDED_FASHION_MNIST_DIR, (name) => name.includes('ubyte'));
    case 'fashion-mnist':
      return directoryDigests(s.dir, (name) => name.includes('ubyte'));
    case 'cifar':
      return Object.fromEntries([...s.train, ...s.test].map((file) => [file, fileDigest(file)]));
    case 'teacher':
      return {};
  }
}

function describeSource(spec: DataSpec): string {
  const s = spec.source;
  if (s.kind === 'teacher') return `teacher (depth ${s.depth}, ${s.size}×${s.size}, ${s.classes} classes)`;
  if (s.kind === 'cifar') return `cifar-${s.variant}`;
  return s.kind;
}

export const prepareDataStage = defineStage({
  name: 'prepare-data',
  description: 'dataset, class subset, resolution and split → normalised splits on disk',
  params: dataSpec,
  env: (params) => ({ dataFiles: dataFiles(params) }),
  run: async (ctx): Promise<DataValue> => {
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
