/** The width-matched baseline: D ReLU layers over the source's stages, parameters within 2 %. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel, parseModelConfig } from '../src/models/architectures/index.ts';
import { distribute, plainCnnParams, widthMatchedBaseline } from '../src/models/baseline.ts';

before(async () => {
  await selectBackend({ force: 'wasm' });
});

test('the parameter formula is exact against built models', () => {
  for (const input of [
    { kind: 'plain-cnn', inputShape: [28, 28, 1], classes: 10, channels: [32, 32, 64], poolAfter: [1] },
    {
      kind: 'plain-cnn',
      inputShape: [16, 16, 3],
      classes: 5,
      channels: [4, 8],
      poolAfter: [0, 1],
      batchNorm: true,
      activation: 'relu',
      head: 'flatten',
    },
  ]) {
    const config = parseModelConfig(input);
    const m = buildModel(config, 0);
    assert.equal(plainCnnParams(config as Extract<typeof config, { kind: 'plain-cnn' }>), m.paramCount().trainable);
    m.dispose();
  }
});

test('D layers are spread over the stages as evenly as possible', () => {
  assert.deepEqual(distribute(1, 3), [1, 0, 0]);
  assert.deepEqual(distribute(4, 3), [2, 1, 1]);
  assert.deepEqual(distribute(9, 3), [3, 3, 3]);
});

test('a baseline for a linearised ResNet-20: D ReLU layers, parameter count within 2 % of the source', () => {
  const source = parseModelConfig({ kind: 'resnet', inputShape: [32, 32, 3], classes: 10, depth: 20 });
  const target = buildModel(source, 0);
  const params = target.paramCount().trainable;
  target.dispose();
  for (const depth of [1, 3, 4, 7]) {
    const b = widthMatchedBaseline(source, depth, params);
    assert.equal(b.config.channels.length, depth);
    assert.ok(Math.abs(b.relativeError) <= 0.02, `D = ${depth}: ${b.params} vs ${params}`);
    const built = buildModel(b.config, 0);
    assert.equal(built.paramCount().trainable, b.params);
    assert.equal(
      built.sites.filter((s) => s.nonlinearity === 'relu').length,
      depth,
      'every layer is a ReLU layer: its APL is D',
    );
    built.dispose();
  }
  const three = widthMatchedBaseline(source, 3, params);
  assert.deepEqual(three.config.poolAfter, [0, 1], 'one layer per stage, downsampling between stages');
  assert.ok(three.config.channels[1]! / three.config.channels[0]! > 1.9, 'stage widths keep the 1 : 2 : 4 ratio');
  assert.throws(() => widthMatchedBaseline(source, 0, params), /depth must be a whole number ≥ 1/);
  assert.throws(
    () => widthMatchedBaseline(parseModelConfig({ kind: 'mlp', inputShape: [4], outputs: 2 }), 2, 100),
    /must be a convolutional network/,
  );
});
