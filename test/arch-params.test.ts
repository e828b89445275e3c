// The width and depth axes of pipeline.ts resize an architecture: channels scale, a plain CNN's
// channel pattern stretches with its pools at the same relative depth, ResNet/MLP depths are set.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resize } from '../stages/lib/arch.ts';
import { modelFor } from '../stages/lib/training.ts';

const data = { source: 'test', shape: [14, 14, 1], classes: 10, train: 1, validation: 0, test: 1 };

test('plain CNN: width multiplies channels; depth stretches the pattern and keeps pools in place', () => {
  const arch = { kind: 'plain-cnn' as const, channels: [16, 16, 32, 32], poolAfter: [1] };
  assert.deepEqual(resize(arch, 0.5, undefined), { ...arch, channels: [8, 8, 16, 16], poolAfter: [1] });
  assert.deepEqual(resize(arch, 1, 8), { ...arch, channels: [16, 16, 16, 16, 32, 32, 32, 32], poolAfter: [3] });
  assert.deepEqual(resize(arch, 2, 2), { ...arch, channels: [32, 64], poolAfter: [0] });
  const config = modelFor('pretrain', resize(arch, 1, 8), data, 'relu');
  assert.equal(config.kind === 'plain-cnn' && config.channels.length, 8);
});

test('ResNet and MLP: width scales the base width, depth is passed on; a bad value names the stage and param', () => {
  assert.deepEqual(resize({ kind: 'resnet', baseWidth: 16, depth: 20 }, 0.5, 8), {
    kind: 'resnet',
    baseWidth: 8,
    depth: 8,
  });
  assert.deepEqual(resize({ kind: 'mlp', width: 64 }, 2, 3), { kind: 'mlp', width: 128, depth: 3 });
  assert.throws(
    () => modelFor('pretrain', resize({ kind: 'resnet', baseWidth: 16 }, 1, 9), data, 'relu'),
    /stage 'pretrain': param 'arch' is invalid: .*6n\+2.*--set pretrain\.arch/,
  );
});
