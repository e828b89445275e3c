// The engine as people install it: `npm pack` of packages/engine, installed with zod into a new
// project outside the repository, then `linea init`, two runs (the second all cached), an import
// from plain node, and a type-check of a user file against the package's .d.ts. Needs the npm
// registry (for the engine's own dependencies), as any install does.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { REPO, type RunJson } from './helpers/project.ts';
import { viewUrl } from './helpers/view.ts';

describe('the linea-engine package', () => {
  let dir: string;
  let project: string;
  const npx = (args: string[], env: Record<string, string> = {}) =>
    execa('npx', ['--no-install', ...args], { cwd: project, reject: false, env: { CI: 'true', ...env } });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'linea-package-'));
    const build = await execa(process.execPath, ['scripts/build-engine.mjs', '--if-stale'], {
      cwd: REPO,
      reject: false,
    });
    assert.equal(build.exitCode, 0, build.stderr);
    const pack = await execa('npm', ['pack', join(REPO, 'packages', 'engine'), '--pack-destination', dir], {
      cwd: dir,
      reject: false,
    });
    assert.equal(pack.exitCode, 0, pack.stderr);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    project = join(dir, 'project');
    await execa('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), '{ "name": "user-project", "private": true }\n');
    const install = await execa('npm', ['install', '--no-audit', '--no-fund', join(dir, tarball), 'zod'], {
      cwd: project,
      reject: false,
    });
    assert.equal(install.exitCode, 0, install.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs without tfjs, vega, a native addon or sqlite among its dependencies', () => {
    const modules = readdirSync(join(project, 'node_modules'));
    for (const heavy of ['@tensorflow', 'vega', 'vega-lite', 'sqlite3', 'node-addon-api']) {
      assert.ok(!modules.includes(heavy), `${heavy} is not installed with the engine`);
    }
  });

  it('linea init writes a starter that runs, and runs again all cached', async () => {
    const init = await npx(['linea', 'init']);
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(init.stdout, /wrote .*pipeline\.ts/);
    const first = await npx(['linea', 'run', '--json']);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.deepEqual(
      (JSON.parse(first.stdout) as RunJson).stages.map((s) => [s.id, s.status]),
      [
        ['numbers', 'ran'],
        ['summary', 'ran'],
      ],
    );
    const second = await npx(['linea', 'run', '--json']);
    assert.ok((JSON.parse(second.stdout) as RunJson).stages.every((s) => s.status === 'cached'));
    const help = await npx(['linea', '--help']);
    assert.match(help.stdout, /linea — run an experiment pipeline/);
  });

  it('loads TypeScript with NodeNext and extensionless imports, in pool workers too, with stack traces into the .ts', async () => {
    writeFileSync(join(project, 'stages', 'factor.ts'), 'export const factor: number = 3;\n');
    writeFileSync(
      join(project, 'stages', 'tripled.ts'),
      `import { z } from 'zod';
import { defineStage } from 'linea-engine';
import { factor } from './factor.js';
export const tripled = defineStage({
  name: 'tripled',
  params: z.object({ n: z.number(), fail: z.boolean().default(false) }),
  run: (ctx) => {
    if (ctx.params.fail) throw new Error('asked to fail');
    return { value: ctx.params.n * factor };
  },
});
`,
    );
    writeFileSync(
      join(project, 'tripled.pipeline.ts'),
      `import { definePipeline } from 'linea-engine';
import { tripled } from './stages/tripled';
export default definePipeline({
  name: 'tripled',
  build(p) {
    p.add(tripled, {}, { id: 'a', params: { n: 1 } });
    p.add(tripled, {}, { id: 'b', params: { n: 2 } });
  },
});
`,
    );
    const run = await npx(['linea', 'run', '--pipeline', 'tripled.pipeline.ts', '--jobs', '2', '--json']);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.deepEqual(
      (JSON.parse(run.stdout) as RunJson).stages.map((s) => [s.id, s.status]),
      [
        ['a', 'ran'],
        ['b', 'ran'],
      ],
    );
    const failing = await npx(
      ['linea', 'run', '--pipeline', 'tripled.pipeline.ts', '--set', 'tripled.fail=true', '--json'],
      { LINEA_DEBUG: '1' },
    );
    assert.equal(failing.exitCode, 1);
    assert.match(failing.stderr, /asked to fail/);
    // The stack names the TypeScript source line (inline source maps), not compiled output.
    assert.match(failing.stderr, /stages\/tripled\.ts:8/);
  });

  it('serves linea view from the bundled page, with no build tools and nothing fetched', async () => {
    // The installed bin itself, not npx: Ctrl-C (SIGINT) must reach the server's process.
    const view = execa(join(project, 'node_modules', '.bin', 'linea'), ['view', '--port', '0'], {
      cwd: project,
      reject: false,
      timeout: 120_000,
    });
    try {
      const url = await viewUrl(view);
      const script = await fetch(new URL('app.js', url));
      assert.equal(script.status, 200);
      const text = await script.text();
      assert.ok(text.length > 100_000, 'the bundle holds Vega and dagre');
      assert.doesNotMatch(text, /https?:\/\/(?:cdn|unpkg|fonts\.)/, 'nothing loaded from a CDN');
      const plan = (await (await fetch(new URL('api/plan', url))).json()) as { pipeline: string; instances: unknown[] };
      assert.equal(plan.pipeline, 'starter');
      assert.equal(plan.instances.length, 2);
    } finally {
      view.kill('SIGINT');
      await view;
    }
  });

  it('imports from plain node, without a TypeScript loader', async () => {
    const result = await execa(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('linea-engine'); console.log(typeof m.defineStage, typeof m.definePipeline)",
      ],
      { cwd: project, reject: false },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'function function');
  });

  it("type-checks a user's stage against the package's declarations", async () => {
    writeFileSync(
      join(project, 'check.ts'),
      `import { z } from 'zod';
import { defineStage, definePipeline, input } from 'linea-engine';
const a = defineStage({ name: 'a', params: z.object({ n: z.number() }), run: (ctx) => ({ n: ctx.params.n }) });
const b = defineStage({
  name: 'b', params: z.object({}), inputs: { a: input<{ n: number }>() },
  run: (ctx) => ctx.inputs.a.value.n + 1,
});
export default definePipeline({ build(p) { p.add(b, { a: p.add(a) }); } });
// @ts-expect-error: params are typed by the schema
defineStage({ name: 'c', params: z.object({ n: z.number() }), run: (ctx) => ctx.params.missing });
`,
    );
    writeFileSync(
      join(project, 'tsconfig.check.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = await execa(
      process.execPath,
      [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.check.json'],
      {
        cwd: project,
        reject: false,
      },
    );
    assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
  });
});
