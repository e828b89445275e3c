/**
 * Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 grey 28×28 images of 10 clothing classes, in
 * IDX files. The full set comes from Debian's `dataset-fashion-mnist` package (or a directory the
 * user names); a stratified 10,000 + 2,000 subset is committed under data/ so that a fresh clone
 * runs on real data. Nothing is ever downloaded.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readIdx } from './idx.ts';
import type { RawImages } from './dataset.ts';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** Where Debian's dataset-fashion-mnist package installs the IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The committed subset (made by scripts/make-embedded-fashion-mnist.ts). */
export const EMBEDDED_FASHION_MNIST_DIR = fileURLToPath(new URL('../../../data/fashion-mnist-subset', import.meta.url));

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

function locate(dir: string, name: string): string | undefined {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function readSplit(imagesPath: string, labelsPath: string): RawImages {
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.dims.length !== 3 || !(images.data instanceof Uint8Array))
    throw new Error(`${imagesPath}: expected uint8 images of rank 3, got rank ${images.dims.length}`);
  if (labels.dims.length !== 1) throw new Error(`${labelsPath}: expected a rank-1 label array`);
  if (labels.dims[0] !== images.dims[0])
    throw new Error(`${imagesPath} has ${images.dims[0]} images but ${labelsPath} has ${labels.dims[0]} labels`);
  const out = Int32Array.from(labels.data as ArrayLike<number>);
  for (const l of out)
    if (l < 0 || l > 9) throw new Error(`${labelsPath}: label ${l} is not a Fashion-MNIST class (0–9)`);
  return {
    pixels: images.data,
    labels: out,
    shape: [images.dims[1]!, images.dims[2]!, 1],
    classes: 10,
    classNames: FASHION_MNIST_CLASSES,
  };
}

/** Read the four IDX files (plain or .gz) from `dir`. */
export function readFashionMnist(dir: string = DEBIAN_FASHION_MNIST_DIR): { train: RawImages; test: RawImages } {
  const paths = Object.fromEntries(Object.entries(FILES).map(([key, name]) => [key, locate(dir, name)])) as Record<
    keyof typeof FILES,
    string | undefined
  >;
  const missing = Object.entries(paths)
    .filter(([, p]) => p === undefined)
    .map(([key]) => FILES[key as keyof typeof FILES]);
  if (missing.length > 0) {
    const hint =
      dir === DEBIAN_FASHION_MNIST_DIR
        ? 'install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or name a directory that holds the four IDX files'
        : `put the four IDX files there (plain or .gz), or install Debian's dataset-fashion-mnist package and use ${DEBIAN_FASHION_MNIST_DIR}`;
    throw new Error(`Fashion-MNIST not found in ${dir}: missing ${missing.join(', ')} (or .gz); ${hint}`);
  }
  return {
    train: readSplit(paths.trainImages!, paths.trainLabels!),
    test: readSplit(paths.testImages!, paths.testLabels!),
  };
}

export function readEmbeddedFashionMnist(): { train: RawImages; test: RawImages } {
  return readFashionMnist(EMBEDDED_FASHION_MNIST_DIR);
}
