// Wiring a stage to an input of the wrong type is a compile error in pipeline.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { REPO } from './helpers/project.ts';

const FIXTURE = join(REPO, 'test', 'fixtures', 'type-errors');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

describe('typed wiring', () => {
  it('the marked lines are type errors and the rest compiles', async () => {
    const result = await execa(process.execPath, [TSC, '-p', FIXTURE], { reject: false });
    assert.equal(result.exitCode, 0, result.stdout);
  });

  it('without the markers, tsc reports each wrong wiring', async () => {
    const dir = mkdtempSync(join(FIXTURE, 'tmp-'));
    try {
      const source = readFileSync(join(FIXTURE, 'wiring.ts'), 'utf8').replace(/\/\/ @ts-expect-error.*\n/g, '');
      writeFileSync(join(dir, 'wiring.ts'), source);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ extends: '../../../../tsconfig.json', include: ['*.ts'], exclude: [] }),
      );
      const result = await execa(process.execPath, [TSC, '-p', dir], { reject: false });
      assert.notEqual(result.exitCode, 0);
      const errors = result.stdout.split('\n').filter((l) => l.includes('error TS'));
      assert.equal(errors.length, 3, result.stdout);
      assert.match(result.stdout, /Type 'string' is not assignable to type 'number'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
