/**
 * Images per second of one training step (SGD momentum, batch 128 by default) for any model
 * config, on the backend linea would pick (or --backend): the basis of the time estimates for
 * presets too long to run here, e.g.
 *   node --single-threaded-gc --import tsx bench/step-time.ts \
 *     --config '{"kind":"resnet","inputShape":[28,28,1],"classes":10,"depth":20,"baseWidth":16,"activation":"relu"}'
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { buildModel, optimizerFor, selectBackend, trainingStep } from '../src/models/index.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string' },
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    backend: { type: 'string' },
  },
});
if (!flags.config) {
  process.stderr.write(
    'usage: bench/step-time.ts --config <model config JSON> [--batch 128] [--steps 5] [--backend name]\n',
  );
  process.exit(2);
}
const backend = (await selectBackend(flags.backend ? { force: flags.backend } : {})).name;
const model = buildModel(JSON.parse(flags.config), 0);
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const optimizer = optimizerFor(model, {
  optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false },
  weightDecay: 5e-4,
});
const step = trainingStep(model, optimizer);
const x = tf.tensor(normalArray(mulberry32(1), batch * model.inputShape.reduce((a, b) => a * b, 1)), [
  batch,
  ...model.inputShape,
]);
const y = tf.tensor1d(
  Array.from({ length: batch }, (_, i) => i % model.outputs),
  'int32',
);
for (let i = 0; i < 2; i++) tf.tidy(() => step(x, y, 0.01));
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  tf.tidy(() => step(x, y, 0.01));
  times.push(performance.now() - t0);
}
const median = times.sort((a, b) => a - b)[Math.floor(steps / 2)]!;
process.stdout.write(
  `${backend}: ${model.paramCount().trainable} parameters, batch ${batch}: ${median.toFixed(1)} ms/step, ${((batch / median) * 1000).toFixed(1)} img/s (median of ${steps} after 2 warm-ups)\n`,
);
