/**
 * Accuracy check on real data: a small plain PReLU CNN (conv16-pool-conv32-pool-flatten-dense,
 * 20,650 parameters) trained for 3 epochs on the embedded Fashion-MNIST subset (10,000 train /
 * 2,000 test images) with Adam (lr 1e-3, batch 64), and, in the same invocation, the same model,
 * data and recipe in PyTorch (bench/fashion_accuracy_torch.py) when python3-torch is installed.
 *
 *   node --import tsx bench/fashion-accuracy.ts [--epochs 3] [--seed 0] [--backend wasm] [--json]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, type ModelConfigInput } from '../src/models/architectures/index.ts';
import { channelStats, normalize, toDataset } from '../src/models/data/dataset.ts';
import { EMBEDDED_FASHION_MNIST_DIR, readEmbeddedFashionMnist } from '../src/models/data/fashion-mnist.ts';
import { train } from '../src/models/train.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: flags } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '0' },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const epochs = Number(flags.epochs);
const seed = Number(flags.seed);
const log = (line: string) => process.stderr.write(`${line}\n`);

export const SMALL_PRELU_CNN: ModelConfigInput = {
  kind: 'plain-cnn',
  inputShape: [28, 28, 1],
  classes: 10,
  channels: [16, 32],
  poolAfter: [0, 1],
  activation: 'prelu',
  head: 'flatten',
};

const backend = await selectBackend({ ...(flags.backend ? { force: flags.backend } : {}), log });
const raw = readEmbeddedFashionMnist();
const trainSet = toDataset(raw.train);
const stats = channelStats(trainSet);
const data = { train: normalize(trainSet, stats), test: normalize(toDataset(raw.test), stats) };
const model = buildModel(SMALL_PRELU_CNN, seed);
log(
  `model: ${model.paramCount().trainable} parameters; data: ${data.train.labels.length} train / ${data.test.labels.length} test`,
);
const { history } = await train(
  model,
  data,
  { epochs, batchSize: 64, lr: 1e-3, optimizer: { kind: 'adam' }, seed },
  {
    onEpoch: ({ metrics: m }) =>
      void log(
        `linea/${backend.name} epoch ${m.epoch}: loss ${m.loss.toFixed(4)}, train acc ${m.trainAccuracy.toFixed(4)}, test acc ${m.testAccuracy!.toFixed(4)}, ${m.imagesPerSecond.toFixed(0)} img/s`,
      ),
  },
);
const rows: { framework: string; backend: string; epoch: number; test_accuracy: number; seconds: number }[] =
  history.map((m) => ({
    framework: 'linea',
    backend: backend.name,
    epoch: m.epoch,
    test_accuracy: m.testAccuracy!,
    seconds: m.seconds,
  }));

for (const python of ['/usr/bin/python3', 'python3']) {
  const probe = await execa(python, ['-c', 'import torch, numpy'], { reject: false });
  if (probe.exitCode !== 0) continue;
  const run = await execa(
    python,
    [
      join(REPO, 'bench', 'fashion_accuracy_torch.py'),
      EMBEDDED_FASHION_MNIST_DIR,
      '--epochs',
      String(epochs),
      '--seed',
      String(seed),
    ],
    { stderr: 'inherit' },
  );
  rows.push(...(JSON.parse(run.stdout) as typeof rows));
  break;
}
if (flags.json) process.stdout.write(JSON.stringify(rows) + '\n');
else
  for (const r of rows)
    process.stdout.write(
      `${r.framework}/${r.backend} epoch ${r.epoch}: test accuracy ${(100 * r.test_accuracy).toFixed(2)}% (${r.seconds.toFixed(1)} s)\n`,
    );
