// The command line's selection flags become one typed Selection in the command layer: repeated
// flags merge, values are parsed as JSON where they can be, and a malformed flag is a usage error
// that names the flag and shows its form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineaError } from '../src/engine/core/errors.ts';
import { selectionFrom } from '../src/engine/cli/selection.ts';

describe('selection flags', () => {
  it('reads --preset, --set, --ablate, --only and --resources into one Selection', () => {
    const selection = selectionFrom({
      preset: 'smoke',
      set: ['sparsify.omega=0.02', 'pretrain.recipe.epochs=3', 'prepare-data.source.kind=idx'],
      ablate: ['omega=1e-4,1e-3', 'start=late', 'omega=1e-2'],
      only: ['report'],
      resources: ['pretrain.cpus=4', 'pretrain.time=2:00:00', 'sparsify.gpus=1'],
    });
    assert.deepEqual(selection, {
      preset: 'smoke',
      set: { 'sparsify.omega': 0.02, 'pretrain.recipe.epochs': 3, 'prepare-data.source.kind': 'idx' },
      ablate: { omega: ['1e-4', '1e-3', '1e-2'], start: ['late'] },
      only: ['report'],
      resources: { pretrain: { cpus: 4, time: '2:00:00' }, sparsify: { gpus: 1 } },
    });
  });

  it('`--ablate axis=` turns an axis off: an empty list, not a missing axis', () => {
    assert.deepEqual(selectionFrom({ ablate: ['start='] }).ablate, { start: [] });
  });

  for (const [flags, flag] of [
    [{ set: ['omega=1'] }, '--set omega=1'],
    [{ ablate: ['omega'] }, '--ablate omega'],
    [{ resources: ['pretrain.cpus=two'] }, '--resources pretrain.cpus=two'],
    [{ resources: ['pretrain.disk=1G'] }, '--resources pretrain.disk=1G'],
  ] as const) {
    it(`${flag} is a usage error that names the flag and its form`, () => {
      assert.throws(
        () => selectionFrom(flags),
        (error: unknown) =>
          error instanceof LineaError &&
          error.kind === 'usage' &&
          error.message.startsWith(flag) &&
          /expected|whole number/.test(error.message),
      );
    });
  }
});
