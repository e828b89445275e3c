// How the compiled engine (the linea-engine package's CLI) loads a user's TypeScript: the first
// command through its module hooks, later ones from the compiled graph planned then
// (src/engine/load/module-plan.ts), as long as nothing that decided it has changed. Each test drives
// the package's bin against a project outside the repository, with its own compiled-file cache.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { execa } from 'execa';
import { linkNodeModules, REPO, type RunJson } from './helpers/project.ts';

const BIN = join(REPO, 'packages', 'engine', 'bin', 'linea.js');

before(async () => {
  const build = await execa(process.execPath, ['scripts/build-engine.mjs', '--if-stale'], { cwd: REPO, reject: false });
  assert.equal(build.exitCode, 0, build.stderr);
});

/** A project with a pipeline of one stage whose value is `factor` from a NodeNext-style import. */
function project(): { dir: string; tsCache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'linea-ts-loading-'));
  mkdirSync(join(dir, 'stages'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(dir, 'stages', 'factor.ts'), 'export const factor: number = 3;\n');
  writeFileSync(
    join(dir, 'stages', 'scaled.ts'),
    `import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineStage } from 'linea-engine';
import { factor } from './factor.js';
// Read beside this module: import.meta.url must be the .ts file's, however it was loaded.
const offset = Number(readFileSync(new URL('./offset.txt', import.meta.url), 'utf8'));
export const scaled = defineStage({
  name: 'scaled',
  params: z.object({ n: z.number(), fail: z.boolean().default(false) }),
  run: (ctx) => {
    if (ctx.params.fail) throw new Error('asked to fail');
    return { value: ctx.params.n * factor + offset };
  },
});
`,
  );
  writeFileSync(join(dir, 'stages', 'offset.txt'), '0\n');
  writeFileSync(
    join(dir, 'pipeline.ts'),
    `import { definePipeline } from 'linea-engine';
import { factor } from './stages/factor.js';
import { scaled } from './stages/scaled';
// Printed by every command, so a test sees which code loaded.
process.stderr.write(\`factor \${factor}\\n\`);
export default definePipeline({
  build(p) {
    p.add(scaled, {}, { id: 'a', params: { n: 2 } });
  },
});
`,
  );
  // Written a minute ago, as a project's files usually are: a file saved in the last two seconds
  // is not planned (an edit within the same mtime tick would go unseen).
  const past = new Date(Date.now() - 60_000);
  for (const file of ['package.json', 'pipeline.ts', 'stages/factor.ts', 'stages/scaled.ts', 'stages/offset.txt'])
    utimesSync(join(dir, file), past, past);
  linkNodeModules(dir);
  symlinkSync(join(REPO, 'packages', 'engine'), join(dir, 'node_modules', 'linea-engine'));
  return { dir, tsCache: join(dir, '.ts-cache') };
}

/** Run `use` in a fresh project, removed afterwards whatever happens. */
async function inProject(use: (p: { dir: string; tsCache: string }) => Promise<void>): Promise<void> {
  const p = project();
  try {
    await use(p);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
}

async function linea(p: { dir: string; tsCache: string }, args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [BIN, ...args], {
    cwd: p.dir,
    reject: false,
    env: { CI: 'true', LINEA_TS_CACHE: p.tsCache, ...env },
  });
}

/** `linea run`: whether the one stage ran or was cached, and the factor the pipeline loaded. */
async function run(p: { dir: string; tsCache: string }): Promise<{ status: string; factor: string | undefined }> {
  const result = await linea(p, ['run', '--json']);
  assert.equal(result.exitCode, 0, result.stderr);
  return {
    status: (JSON.parse(result.stdout) as RunJson).stages[0]!.status,
    factor: /^factor (\S+)$/m.exec(result.stderr)?.[1],
  };
}

function plans(tsCache: string): string[] {
  return existsSync(join(tsCache, 'plans')) ? readdirSync(join(tsCache, 'plans')) : [];
}

function mirrors(tsCache: string): string[] {
  return readdirSync(join(tsCache, 'mirrors')).map((name) => join(tsCache, 'mirrors', name));
}

describe('loading TypeScript from the compiled engine', () => {
  it('plans the graph on the first command, and a later one loads the plan', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      assert.equal(plans(p.tsCache).length, 1, 'one plan for pipeline.ts');
      assert.equal(mirrors(p.tsCache).length, 3, 'a mirror for pipeline.ts, scaled.ts and factor.ts');
      const planned = await linea(p, ['status'], { LINEA_DEBUG: '1' });
      assert.equal(planned.exitCode, 0, planned.stderr);
      assert.match(planned.stderr, /pipeline\.ts loaded from its module plan, without hooks/);
      assert.match(planned.stderr, /^factor 3$/m);
    }));

  it('does not import a mirror altered since it was planned, nor a damaged plan', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      for (const mirror of mirrors(p.tsCache)) writeFileSync(mirror, "throw new Error('an altered mirror ran');\n");
      const altered = await linea(p, ['status'], { LINEA_DEBUG: '1' });
      assert.equal(altered.exitCode, 0, altered.stderr);
      assert.doesNotMatch(altered.stderr, /altered mirror ran|loaded from its module plan/);
      assert.match(altered.stderr, /^factor 3$/m);
      // Planned again by that command; now a plan file that is not a plan.
      for (const plan of plans(p.tsCache)) writeFileSync(join(p.tsCache, 'plans', plan), '{"version":2,"modules":7}');
      const damaged = await linea(p, ['status']);
      assert.equal(damaged.exitCode, 0, damaged.stderr);
      assert.match(damaged.stderr, /^factor 3$/m);
    }));

  it('does not plan a graph with a file saved in the last two seconds', () =>
    inProject(async (p) => {
      const now = new Date();
      utimesSync(join(p.dir, 'stages', 'factor.ts'), now, now);
      assert.equal((await run(p)).status, 'ran');
      assert.deepEqual(plans(p.tsCache), [], 'no plan');
    }));

  it('loads an edited module, not the plan made before the edit', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      // Same size, so only the file's stamp (mtime, inode) tells the plan is stale.
      assert.deepEqual(await run(p), { status: 'cached', factor: '3' });
      writeFileSync(join(p.dir, 'stages', 'factor.ts'), 'export const factor: number = 4;\n');
      assert.deepEqual(await run(p), { status: 'ran', factor: '4' });
      // Planned again from the edited file.
      assert.deepEqual(await run(p), { status: 'cached', factor: '4' });
    }));

  /** `linea status` with LINEA_DEBUG: the factor loaded, and what the loader said of the plan. */
  async function loaded(p: { dir: string; tsCache: string }): Promise<{ factor?: string; plan?: string }> {
    const result = await linea(p, ['status'], { LINEA_DEBUG: '1' });
    assert.equal(result.exitCode, 0, result.stderr);
    return {
      factor: /^factor (\S+)$/m.exec(result.stderr)?.[1],
      plan: /pipeline\.ts loaded from its module plan, without hooks(.*)$/m.exec(result.stderr)?.[1],
    };
  }

  /** Rewrite a project file (`edit` of its text), dated `at` (a minute ago unless told). */
  function rewrite(p: { dir: string }, file: string, edit: (text: string) => string, at = Date.now() - 60_000): void {
    const path = join(p.dir, file);
    writeFileSync(path, edit(readFileSync(path, 'utf8')));
    utimesSync(path, new Date(at), new Date(at));
  }

  it('compiles an edited module again alone, with its importers, and keeps the patched plan', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      const before = mirrors(p.tsCache);
      rewrite(p, 'pipeline.ts', (t) => t.replace(`factor \${factor}`, `factor \${factor * 10}`));
      assert.deepEqual(await loaded(p), { factor: '30', plan: '; compiled again: pipeline.ts' });
      assert.deepEqual(await loaded(p), { factor: '30', plan: '' }, 'the patched plan was kept');
      const after = mirrors(p.tsCache);
      assert.equal(after.length, 3, 'the replaced mirror is removed');
      assert.equal(after.filter((m) => before.includes(m)).length, 2, "scaled.ts's and factor.ts's mirrors are kept");
      // A module deeper down: every module that imports it names its new mirror.
      rewrite(p, 'stages/factor.ts', (t) => t.replace('= 3', '= 7'));
      const deep = await loaded(p);
      assert.equal(deep.factor, '70');
      assert.deepEqual(deep.plan?.replace('; compiled again: ', '').split(', ').sort(), [
        'factor.ts',
        'pipeline.ts',
        'scaled.ts',
      ]);
      assert.equal((await run(p)).status, 'ran', 'the stage sees the new factor');
    }));

  it('keeps the mirror of a file saved again unchanged, and of a package.json rewritten as it was', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      const before = mirrors(p.tsCache).sort();
      rewrite(p, 'stages/factor.ts', (t) => t);
      rewrite(p, 'package.json', (t) => t);
      assert.deepEqual(await loaded(p), { factor: '3', plan: '' }, 'from the plan, nothing compiled');
      assert.deepEqual(mirrors(p.tsCache).sort(), before);
      // A package.json whose bytes changed may resolve differently: the hooks decide.
      rewrite(p, 'package.json', (t) => t.replace('"private": true', '"private": true, "imports": {}'));
      assert.deepEqual(await loaded(p), { factor: '3', plan: undefined });
    }));

  it('patches the plan for one command only when the edit is in the last two seconds', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      const before = mirrors(p.tsCache).sort();
      const plan = readFileSync(join(p.tsCache, 'plans', plans(p.tsCache)[0]!), 'utf8');
      rewrite(p, 'pipeline.ts', (t) => t.replace(`factor \${factor}`, `factor \${factor + 1}`), Date.now());
      assert.deepEqual(await loaded(p), { factor: '4', plan: '; compiled again: pipeline.ts (for this command)' });
      assert.deepEqual(mirrors(p.tsCache).sort(), before, 'its mirror is not left behind');
      assert.equal(readFileSync(join(p.tsCache, 'plans', plans(p.tsCache)[0]!), 'utf8'), plan, 'the plan is as it was');
    }));

  it('loads an edit that imports something new through the hooks', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      writeFileSync(join(p.dir, 'stages', 'extra.ts'), 'export const extra: number = 100;\n');
      utimesSync(join(p.dir, 'stages', 'extra.ts'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      rewrite(
        p,
        'pipeline.ts',
        (t) =>
          `import { extra } from './stages/extra.ts';\n${t.replace(`factor \${factor}`, `factor \${factor + extra}`)}`,
      );
      assert.deepEqual(await loaded(p), { factor: '103', plan: undefined });
      assert.deepEqual(await loaded(p), { factor: '103', plan: '' }, 'and planned again');
    }));

  it('resolves ./factor.js to a .js file created after the plan, as the hooks would', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      assert.equal((await run(p)).factor, '3');
      writeFileSync(join(p.dir, 'stages', 'factor.js'), 'export const factor = 5;\n');
      assert.equal((await run(p)).factor, '5');
    }));

  it('falls back on the hooks when a mirror is gone, and keeps stage identity and stack traces', () =>
    inProject(async (p) => {
      assert.equal((await run(p)).status, 'ran');
      // A stage loaded from its mirror is still defined by its .ts file: same code, same key.
      assert.deepEqual(await run(p), { status: 'cached', factor: '3' });
      for (const mirror of mirrors(p.tsCache)) unlinkSync(mirror);
      assert.deepEqual(await run(p), { status: 'cached', factor: '3' });
      const failing = await linea(p, ['run', '--set', 'scaled.fail=true'], { LINEA_DEBUG: '1' });
      assert.equal(failing.exitCode, 1);
      assert.match(failing.stderr, /asked to fail/);
      assert.match(failing.stderr, /stages\/scaled\.ts:11/, 'the stack names the .ts line');
      assert.doesNotMatch(failing.stderr, /mirrors\//);
    }));

  it('does not use a compiled-file cache in the temporary directory that others can write', () =>
    inProject(async (p) => {
      const tmp = join(p.dir, 'tmp');
      const squatted = join(tmp, `linea-ts-${userInfo().uid}`);
      mkdirSync(squatted, { recursive: true });
      chmodSync(squatted, 0o777);
      const result = await execa(process.execPath, [BIN, 'run', '--json'], {
        cwd: p.dir,
        reject: false,
        env: { CI: 'true', TMPDIR: tmp, LINEA_TS_CACHE: '' },
      });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.deepEqual(readdirSync(squatted), [], 'nothing read from or written to it');
    }));

  /**
   * The project's stage imports what it runs with lazily (heavy.ts, and zod), as the stages of
   * the repository do; factor.ts counts its own evaluations, and the stage fails unless it was
   * evaluated once (a module instantiated twice, as a mirror and through the hooks, counts 2).
   */
  function lazyProject(p: { dir: string }): void {
    writeFileSync(
      join(p.dir, 'stages', 'factor.ts'),
      'const g = globalThis as { loads?: number };\ng.loads = (g.loads ?? 0) + 1;\nexport const factor: number = 3;\nexport const loads = () => g.loads;\n',
    );
    writeFileSync(
      join(p.dir, 'stages', 'heavy.ts'),
      "import { factor, loads } from './factor.js';\nexport const compute = (n: number) => ({ product: n * factor, loads: loads() });\n",
    );
    const scaled = join(p.dir, 'stages', 'scaled.ts');
    writeFileSync(
      scaled,
      readFileSync(scaled, 'utf8')
        .replace(
          'return { value: ctx.params.n * factor + offset };',
          "const [{ compute }, zod] = await Promise.all([import('./heavy.js'), import('zod')]);\n    const { product, loads } = compute(ctx.params.n);\n    if (loads !== 1 || typeof zod.z.object !== 'function') throw new Error(String(loads) + ' evaluations of factor.ts');\n    return { value: product };",
        )
        .replace('run: (ctx) => {', 'run: async (ctx) => {'),
    );
    const past = new Date(Date.now() - 60_000);
    for (const file of ['stages/factor.ts', 'stages/heavy.ts', 'stages/scaled.ts'])
      utimesSync(join(p.dir, file), past, past);
  }

  it("plans a graph whose stage imports what it runs with lazily, and that import shares the graph's modules", () =>
    inProject(async (p) => {
      lazyProject(p);
      assert.equal((await run(p)).status, 'ran');
      assert.equal(plans(p.tsCache).length, 1, 'pipeline.ts is planned, its lazy imports left lazy');
      assert.equal(mirrors(p.tsCache).length, 3, 'heavy.ts is not in the plan: it was never imported at definition');
      // Run again with another n, the pipeline loaded from its plan: the lazy imports resolve as
      // the hooks would, and factor.ts (a mirror now) is not loaded a second time.
      const again = await linea(p, ['run', '--set', 'scaled.n=5'], { LINEA_DEBUG: '1' });
      assert.equal(again.exitCode, 0, again.stderr);
      assert.match(again.stderr, /pipeline\.ts loaded from its module plan, without hooks/);
      assert.match(again.stdout, /1 ran/);
    }));

  it('plans what lazy imports reached, so that later commands run the stage with no hooks at all', () =>
    inProject(async (p) => {
      lazyProject(p);
      assert.equal((await run(p)).status, 'ran');
      // The plan holds the definition's graph; the stage's lazy import goes through the hooks,
      // and the plan is written again with what it reached.
      const lazy = await linea(p, ['run', '--set', 'scaled.n=5'], { LINEA_DEBUG: '1' });
      assert.equal(lazy.exitCode, 0, lazy.stderr);
      assert.match(lazy.stderr, /module hooks registered/);
      assert.equal(mirrors(p.tsCache).length, 4, 'heavy.ts is planned now');
      const planned = await linea(p, ['run', '--set', 'scaled.n=6'], { LINEA_DEBUG: '1' });
      assert.equal(planned.exitCode, 0, planned.stderr);
      assert.match(planned.stdout, /1 ran/, 'the stage ran, factor.ts evaluated once');
      assert.doesNotMatch(planned.stderr, /module hooks registered/);
      // A lazily imported mirror gone since the plan was read (another command planned again
      // meanwhile): the hooks load it, and the plan is written again.
      const plan = JSON.parse(readFileSync(join(p.tsCache, 'plans', plans(p.tsCache)[0]!), 'utf8')) as {
        modules: { url: string; mirror: string }[];
      };
      unlinkSync(new URL(plan.modules.find((m) => m.url.endsWith('/heavy.ts'))!.mirror));
      const gone = await linea(p, ['run', '--set', 'scaled.n=7'], { LINEA_DEBUG: '1' });
      assert.equal(gone.exitCode, 0, gone.stderr);
      assert.match(gone.stdout, /1 ran/);
      assert.match(gone.stderr, /module hooks registered/);
      const healed = await linea(p, ['run', '--set', 'scaled.n=8'], { LINEA_DEBUG: '1' });
      assert.equal(healed.exitCode, 0, healed.stderr);
      assert.doesNotMatch(healed.stderr, /module hooks registered/);
    }));

  it('evaluates a module two stage modules share once in a worker that runs both, whatever their plans', () =>
    inProject(async (p) => {
      // Each stage module is an entry of its own in a worker, with a plan of its own: both plans
      // have a mirror of shared.ts, and only one may be evaluated.
      writeFileSync(
        join(p.dir, 'stages', 'shared.ts'),
        'const g = globalThis as { shared?: number };\ng.shared = (g.shared ?? 0) + 1;\nexport const evaluations = () => g.shared;\n',
      );
      for (const name of ['first', 'second'])
        writeFileSync(
          join(p.dir, 'stages', `${name}.ts`),
          `import { z } from 'zod';
import { defineStage } from 'linea-engine';
import { evaluations } from './shared.ts';
export const ${name} = defineStage({
  name: '${name}',
  params: z.object({ n: z.number() }),
  run: () => {
    if (evaluations() !== 1) throw new Error(\`shared.ts evaluated \${evaluations()} times\`);
    return { n: 1 };
  },
});
`,
        );
      writeFileSync(
        join(p.dir, 'pipeline.ts'),
        `import { definePipeline } from 'linea-engine';
import { first } from './stages/first.ts';
import { second } from './stages/second.ts';
export default definePipeline({
  build(p) {
    p.add(first, {}, { id: 'f', params: { n: 1 } });
    p.add(second, {}, { id: 's', params: { n: 1 } });
  },
});
`,
      );
      const past = new Date(Date.now() - 60_000);
      for (const file of ['pipeline.ts', 'stages/shared.ts', 'stages/first.ts', 'stages/second.ts'])
        utimesSync(join(p.dir, file), past, past);
      // One worker runs both tasks: the first run plans each stage module, the second loads them.
      for (const n of [1, 2]) {
        const result = await linea(p, [
          'run',
          '--executor',
          'pool',
          '--jobs',
          '1',
          '--set',
          `first.n=${n}`,
          '--set',
          `second.n=${n}`,
        ]);
        assert.equal(result.exitCode, 0, result.stderr);
        assert.match(result.stdout, /2 ran/);
      }
    }));

  it('loads a graph it cannot plan (a computed import) through the hooks every time', () =>
    inProject(async (p) => {
      writeFileSync(
        join(p.dir, 'pipeline.ts'),
        readFileSync(join(p.dir, 'pipeline.ts'), 'utf8').replace(
          "import { scaled } from './stages/scaled';",
          "const { scaled } = await import(['./stages', 'scaled.ts'].join('/'));",
        ),
      );
      assert.equal((await run(p)).status, 'ran');
      assert.deepEqual(plans(p.tsCache), [], 'no plan');
      assert.deepEqual(await run(p), { status: 'cached', factor: '3' });
    }));

  /** A package `offsets` exporting `shift = offset`, in `dir`, written a minute ago (so it can be planned). */
  function offsetsPackage(dir: string, offset: number): string {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "name": "offsets", "type": "module", "exports": "./index.js" }\n');
    writeFileSync(join(dir, 'index.js'), `export const shift = ${offset};\n`);
    const past = new Date(Date.now() - 60_000);
    for (const file of ['package.json', 'index.js']) utimesSync(join(dir, file), past, past);
    return dir;
  }

  /** The project, with `file` (pipeline.ts by default) printing `offsets <n>` from the package. */
  function importingOffsets(p: { dir: string }, file = 'pipeline.ts'): void {
    const path = join(p.dir, file);
    writeFileSync(
      path,
      `import { shift } from 'offsets';\nprocess.stderr.write(\`offsets \${shift}\\n\`);\n${readFileSync(path, 'utf8')}`,
    );
    const past = new Date(Date.now() - 60_000);
    utimesSync(path, past, past);
  }
  const offsetsLoaded = async (p: { dir: string; tsCache: string }) => {
    const result = await linea(p, ['status'], { LINEA_DEBUG: '1' });
    assert.equal(result.exitCode, 0, result.stderr);
    return {
      offsets: /^offsets (\S+)$/m.exec(result.stderr)?.[1],
      planned: /loaded from its module plan/.test(result.stderr),
    };
  };

  it('loads the version a re-pointed package symlink leads to, not the one planned (pnpm, npm link)', () =>
    inProject(async (p) => {
      // pnpm keeps each version in its store and links node_modules/<name> to one: an upgrade
      // re-points the link and leaves the old version, package.json and all, where it was.
      const v1 = offsetsPackage(join(p.dir, 'store', 'offsets@1'), 1);
      const v2 = offsetsPackage(join(p.dir, 'store', 'offsets@2'), 2);
      symlinkSync(v1, join(p.dir, 'node_modules', 'offsets'));
      importingOffsets(p);
      assert.deepEqual(await offsetsLoaded(p), { offsets: '1', planned: false });
      assert.deepEqual(await offsetsLoaded(p), { offsets: '1', planned: true });
      unlinkSync(join(p.dir, 'node_modules', 'offsets'));
      symlinkSync(v2, join(p.dir, 'node_modules', 'offsets'));
      assert.equal((await offsetsLoaded(p)).offsets, '2');
      assert.deepEqual(await offsetsLoaded(p), { offsets: '2', planned: true }, 'and planned again');
    }));

  it('loads a package installed nearer the importer after the plan, as Node would', () =>
    inProject(async (p) => {
      offsetsPackage(join(p.dir, 'node_modules', 'offsets'), 1);
      importingOffsets(p, 'stages/scaled.ts');
      await offsetsLoaded(p);
      assert.deepEqual(await offsetsLoaded(p), { offsets: '1', planned: true });
      // For stages/scaled.ts, stages/node_modules comes before the project's node_modules.
      offsetsPackage(join(p.dir, 'stages', 'node_modules', 'offsets'), 3);
      assert.equal((await offsetsLoaded(p)).offsets, '3');
    }));
});
