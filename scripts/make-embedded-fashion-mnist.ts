/**
 * Writes the embedded Fashion-MNIST subset under data/fashion-mnist-subset/ from the full set that
 * Debian's dataset-fashion-mnist package installs (or a directory given as the first argument):
 * a stratified, seeded sample of 10,000 training and 2,000 test images, as gzipped IDX files, and
 * a README with their sha256. Deterministic: rerunning it reproduces the committed bytes.
 *
 *   sudo apt-get install dataset-fashion-mnist
 *   node --import tsx scripts/make-embedded-fashion-mnist.ts [fashion-mnist-dir]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stratifiedIndices, takeRaw, type RawImages } from '../src/models/data/dataset.ts';
import {
  DEBIAN_FASHION_MNIST_DIR,
  EMBEDDED_FASHION_MNIST_DIR,
  readFashionMnist,
} from '../src/models/data/fashion-mnist.ts';
import { encodeIdx } from '../src/models/data/idx.ts';

const TRAIN = 10_000;
const TEST = 2_000;
const SEED = 20_171_025; // arbitrary but fixed

const source = process.argv[2] ?? DEBIAN_FASHION_MNIST_DIR;
const full = readFashionMnist(source);
mkdirSync(EMBEDDED_FASHION_MNIST_DIR, { recursive: true });

const lines: string[] = [];
function write(name: string, bytes: Uint8Array): void {
  writeFileSync(join(EMBEDDED_FASHION_MNIST_DIR, name), bytes);
  lines.push(
    `| ${name} | ${bytes.length.toLocaleString('en')} | \`${createHash('sha256').update(bytes).digest('hex')}\` |`,
  );
}
function emit(prefix: 'train' | 't10k', raw: RawImages, count: number, seed: number): void {
  const sample = takeRaw(raw, stratifiedIndices(raw.labels, raw.classes, count, seed));
  const [h, w] = raw.shape as [number, number];
  write(`${prefix}-images-idx3-ubyte.gz`, encodeIdx([count, h, w], sample.pixels, true));
  write(`${prefix}-labels-idx1-ubyte.gz`, encodeIdx([count], Uint8Array.from(sample.labels), true));
}
emit('train', full.train, TRAIN, SEED);
emit('t10k', full.test, TEST, SEED + 1);

writeFileSync(
  join(EMBEDDED_FASHION_MNIST_DIR, 'README.md'),
  `# Fashion-MNIST subset (embedded)

A stratified sample of Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT licence): ${TRAIN.toLocaleString('en')} of the 60,000
training images (${TRAIN / 10} per class) and ${TEST.toLocaleString('en')} of the 10,000 test images (${TEST / 10} per class), 28×28 grey, in
gzipped IDX format, in their original order. Made by \`scripts/make-embedded-fashion-mnist.ts\` from
the files of Debian's \`dataset-fashion-mnist\` package (seed ${SEED}); rerunning it reproduces
these bytes.

| file | bytes | sha256 |
|---|---|---|
${lines.join('\n')}
`,
);
console.log(`wrote ${EMBEDDED_FASHION_MNIST_DIR}\n${lines.join('\n')}`);
