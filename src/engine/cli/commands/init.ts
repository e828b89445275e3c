/**
 * `linea init [dir]`: a starter project that runs as it is: package.json (ESM), a strict
 * tsconfig, pipeline.ts with two typed stages, a preset and an axis, .gitignore and a test.
 * `npm install && npx linea run` then works, and a second run is all cached. Existing files are
 * never overwritten (an existing package.json only gains what the starter needs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LineaError } from '../../core/errors.ts';
import type { Flags } from './context.ts';

const ENGINE = 'linea-engine';

const FILES: Readonly<Record<string, string>> = {
  'tsconfig.json': `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
      },
      include: ['pipeline.ts', 'stages', 'test'],
    },
    null,
    2,
  )}\n`,
  '.gitignore': 'node_modules/\ncache/\nresults/\n',
  'stages/numbers.ts': `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage } from '${ENGINE}';

/** The first \`count\` squares, written to numbers.txt; returns their count. */
export const numbers = defineStage({
  name: 'numbers',
  description: 'the first n squares',
  params: z.object({ count: z.number().int().positive().default(10) }),
  run: (ctx) => {
    const squares = Array.from({ length: ctx.params.count }, (_, i) => i * i);
    writeFileSync(join(ctx.outDir, 'numbers.txt'), squares.join('\\n'));
    return { count: squares.length };
  },
});
`,
  'stages/summary.ts': `import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStage, input } from '${ENGINE}';

/** Reads the numbers upstream wrote and summarises them; publishes summary.json to results/. */
export const summary = defineStage({
  name: 'summary',
  publish: true,
  params: z.object({ scale: z.number().default(1) }),
  inputs: { numbers: input<{ count: number }>('the numbers stage') },
  run: (ctx) => {
    const values = readFileSync(ctx.inputs.numbers.file('numbers.txt'), 'utf8').split('\\n').map(Number);
    const total = ctx.params.scale * values.reduce((a, b) => a + b, 0);
    const result = { count: ctx.inputs.numbers.value.count, total };
    writeFileSync(join(ctx.outDir, 'summary.json'), \`\${JSON.stringify(result, null, 2)}\\n\`);
    return result;
  },
});
`,
  'pipeline.ts': `import { axis, definePipeline } from '${ENGINE}';
import { numbers } from './stages/numbers.ts';
import { summary } from './stages/summary.ts';

export default definePipeline({
  name: 'starter',
  build(p) {
    const n = p.add(numbers);
    p.add(summary, { numbers: n });
  },
  presets: {
    // linea run --preset big
    big: { description: 'more numbers', params: { 'numbers.count': 1000 } },
  },
  axes: {
    // linea run --ablate scale=1,2,10   (or linea ablate, to pick interactively)
    scale: axis('summary.scale', [1, 2, 10]),
  },
});
`,
  'test/pipeline.test.ts': `// Runs the pipeline into a temporary cache: every stage runs once, then everything is cached.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test('the pipeline runs, and a second run is all cached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'starter-'));
  try {
    const run = () =>
      JSON.parse(
        execFileSync('npx', ['linea', 'run', '--json', '--cache-dir', join(dir, 'cache'), '--out', join(dir, 'results')], {
          encoding: 'utf8',
        }),
      ) as { stages: { id: string; status: string }[] };
    assert.deepEqual(run().stages.map((s) => s.status), ['ran', 'ran']);
    assert.deepEqual(run().stages.map((s) => s.status), ['cached', 'cached']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
`,
};

export async function cmdInit(_flags: Flags, rest: string[]): Promise<number> {
  const dir = resolve(rest[0] ?? '.');
  mkdirSync(join(dir, 'stages'), { recursive: true });
  mkdirSync(join(dir, 'test'), { recursive: true });
  const written: string[] = [];
  const kept: string[] = [];
  for (const [file, content] of Object.entries(FILES)) {
    const path = join(dir, file);
    if (existsSync(path)) kept.push(file);
    else {
      writeFileSync(path, content);
      written.push(file);
    }
  }
  (updatePackageJson(dir) ? written : kept).push('package.json');
  const lines = [
    `linea init: a starter project in ${dir}`,
    ...(written.length ? [`  wrote ${written.join(', ')}`] : []),
    ...(kept.length ? [`  kept your ${kept.join(', ')}`] : []),
    '',
    'next:',
    ...(dir === process.cwd() ? [] : [`  cd ${rest[0]}`]),
    '  npm install          # linea-engine and zod, if package.json is new',
    '  npx linea run        # runs numbers, then summary; run it again: all cached',
    '  npx linea status     # what is cached, stale or missing, and why',
    '  node --test test/    # the starter test',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** Create package.json, or give an existing one what the starter needs. Whether anything was written. */
function updatePackageJson(dir: string): boolean {
  const path = join(dir, 'package.json');
  const fresh = !existsSync(path);
  let pkg: Record<string, unknown>;
  try {
    pkg = fresh ? {} : (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  } catch (error) {
    throw new LineaError(
      `linea init: ${path} is not valid JSON (${(error as Error).message}); fix it and run again`,
      'config',
    );
  }
  const before = JSON.stringify(pkg);
  const own = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  const engineVersion = own.name === ENGINE ? `^${own.version}` : 'latest';
  const dependencies = (pkg.dependencies ?? {}) as Record<string, string>;
  const next: Record<string, unknown> = {
    name:
      pkg.name ??
      basename(dir)
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '-'),
    private: pkg.private ?? true,
    ...pkg,
    type: 'module',
    scripts: { test: 'node --test test/', ...((pkg.scripts ?? {}) as Record<string, string>) },
    dependencies: {
      ...dependencies,
      [ENGINE]: dependencies[ENGINE] ?? engineVersion,
      zod: dependencies.zod ?? '^4.0.0',
    },
  };
  if (JSON.stringify(next) === before) return false;
  writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`);
  return true;
}
