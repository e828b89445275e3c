// graph, log (lineage), pin and gc: the cache stays bounded without losing what is still needed.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { touchIfOld } from '../src/engine/load/compiled-cache.ts';
import { makeProject, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

interface GcJson {
  kept: number;
  evicted: { digest: string }[];
  droppedIndexEntries: number;
  dryRun: boolean;
}

describe('housekeeping', () => {
  let project: Project;
  before(async () => {
    project = makeProject();
    await project.json<RunJson>(['run']);
  });
  after(() => project.remove());

  it('graph prints the DAG as Mermaid and as DOT, with ablation variants', async () => {
    const mermaid = await project.linea(['graph']);
    assert.equal(mermaid.code, 0);
    assert.match(mermaid.stdout, /^flowchart LR/);
    assert.match(mermaid.stdout, /n0\["source"\]/);
    assert.match(mermaid.stdout, /n0 -->\|source\| n1/);
    const dot = await project.linea(['graph', '--format', 'dot', '--ablate', 'factor=2,3']);
    assert.match(dot.stdout, /^digraph linea \{/);
    assert.match(dot.stdout, /label="double\[factor=3\]"/);
    assert.equal((await project.linea(['graph', '--format', 'png'])).code, 2);
  });

  it('log shows past runs of a stage with params, lineage and code', async () => {
    await project.json<RunJson>(['run', '--set', 'double.factor=3']);
    const result = await project.linea(['log', 'double']);
    assert.equal(result.code, 0);
    const entries = result.stdout.split('\n').filter((l) => /^\d{4}-/.test(l));
    assert.equal(entries.length, 2);
    assert.match(result.stdout, /params\s+\{"delayMs":0,"factor":3,"meetIn":""\}/);
    assert.match(result.stdout, /input\s+source ← source [0-9a-f]{12}/);
    assert.match(result.stdout, /code\s+.*stages\/lib\/deep\.ts/);
    assert.match(result.stdout, /npm\s+zod@\d/);
  });

  it('gc --dry-run reports without deleting; gc keeps the current plan and evicts the rest', async () => {
    const dry = await project.json<GcJson>(['gc', '--grace', '0', '--dry-run']);
    assert.equal(dry.dryRun, true);
    assert.ok(dry.evicted.length >= 2, 'the factor=3 results are not reached by the current plan');
    const sameAgain = await project.json<GcJson>(['gc', '--grace', '0', '--dry-run']);
    assert.equal(sameAgain.evicted.length, dry.evicted.length, 'dry run deleted nothing');

    const gc = await project.json<GcJson>(['gc', '--grace', '0']);
    assert.equal(gc.evicted.length, dry.evicted.length);
    assert.equal(gc.droppedIndexEntries, dry.evicted.length);
    const status = await project.json<StatusJson>(['status']);
    assert.ok(
      status.stages.every((s) => s.state === 'cached'),
      'the current plan survives gc',
    );
    const old = await project.json<StatusJson>(['status', '--set', 'double.factor=3']);
    assert.notEqual(old.stages.find((s) => s.id === 'double')!.state, 'cached', 'evicted');
    assert.equal((await project.linea(['verify'])).code, 0);
  });

  it('a pinned result survives gc; unpinned, it is evicted', async () => {
    await project.json<RunJson>(['run', '--set', 'double.factor=9']);
    const pin = await project.linea(['pin', 'double', '--set', 'double.factor=9']);
    assert.equal(pin.code, 0, pin.stderr);
    await project.json<GcJson>(['gc', '--grace', '0']);
    const pinned = await project.json<StatusJson>(['status', '--set', 'double.factor=9']);
    assert.equal(pinned.stages.find((s) => s.id === 'double')!.state, 'cached');
    await project.linea(['unpin', 'double', '--set', 'double.factor=9']);
    await project.json<GcJson>(['gc', '--grace', '0']);
    const gone = await project.json<StatusJson>(['status', '--set', 'double.factor=9']);
    assert.notEqual(gone.stages.find((s) => s.id === 'double')!.state, 'cached');
  });

  it('a pin outlives its index: a rebuild restores it, and gc keeps the pinned result', async () => {
    await project.json<RunJson>(['run', '--set', 'double.factor=11']);
    assert.equal((await project.linea(['pin', 'double', '--set', 'double.factor=11'])).code, 0);
    rmSync(join(project.cacheDir, 'index'), { recursive: true, force: true });
    const rebuild = await project.linea(['index', 'rebuild']);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    assert.match(rebuild.stdout, /1 pins restored/);
    await project.json<GcJson>(['gc', '--grace', '0']);
    const status = await project.json<StatusJson>(['status', '--set', 'double.factor=11']);
    assert.equal(status.stages.find((s) => s.id === 'double')!.state, 'cached', 'the pinned result was evicted');
    assert.match((await project.linea(['unpin', 'double', '--set', 'double.factor=11'])).stdout, /unpinned/);
    await project.json<GcJson>(['gc', '--grace', '0']);
    const gone = await project.json<StatusJson>(['status', '--set', 'double.factor=11']);
    assert.notEqual(gone.stages.find((s) => s.id === 'double')!.state, 'cached', 'unpinned, it goes');
  });

  it('gc sweeps what only accumulates: old indexes but the newest, job directories, journals and settled answers left a week', async () => {
    const cache = project.cacheDir;
    for (const t of [1000, 2000, 3000]) mkdirSync(join(cache, `index.old-${t}`));
    const old = join(cache, 'jobs', 'host-old-job');
    const recent = join(cache, 'jobs', 'host-recent-job');
    for (const dir of [old, recent]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'slurm.log'), 'log');
    }
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600_000);
    for (const path of [join(old, 'slurm.log'), old]) utimesSync(path, eightDaysAgo, eightDaysAgo);
    // Run journals: one a week old goes, this project's fresh ones (from its runs above) stay.
    const oldJournal = join(cache, 'events', '2026-01-01T00-00-00-000Z-host-1.jsonl');
    writeFileSync(oldJournal, '{"e":"end","t":0,"run":"x"}\n');
    utimesSync(oldJournal, eightDaysAgo, eightDaysAgo);
    // A settled answer not recorded again for a week goes too.
    const oldSettled = join(cache, 'settled', 'old-command.json');
    mkdirSync(dirname(oldSettled), { recursive: true });
    writeFileSync(oldSettled, '{}');
    utimesSync(oldSettled, eightDaysAgo, eightDaysAgo);
    const expected = [join(cache, 'index.old-1000'), join(cache, 'index.old-2000'), old, oldJournal, oldSettled].sort();
    // An empty compiled-file cache: the user's real one is not this test's to judge.
    const env = { LINEA_TS_CACHE: mkdtempSync(join(tmpdir(), 'linea-ts-empty-')) };
    const dry = await project.json<GcJson & { swept: string[] }>(['gc', '--dry-run'], env);
    assert.deepEqual([...dry.swept].sort(), expected);
    assert.ok(
      expected.every((p) => existsSync(p)),
      'a dry run removes nothing',
    );
    const gc = await project.json<GcJson & { swept: string[] }>(['gc'], env);
    assert.deepEqual([...gc.swept].sort(), expected);
    assert.ok(!expected.some((p) => existsSync(p)));
    assert.ok(
      existsSync(join(cache, 'index.old-3000')) && existsSync(recent),
      'the newest old index and a live job stay',
    );
    assert.ok(readdirSync(join(cache, 'events')).length > 0, "the recent runs' journals stay");
  });

  it('gc sweeps the compiled-file cache: unused compiled files and plans, orphan mirrors, debris', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linea-ts-sweep-'));
    const at = (path: string, text: string, ageMs: number) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      const then = new Date(Date.now() - ageMs);
      utimesSync(path, then, then);
      return path;
    };
    const hour = 3600_000;
    const day = 24 * hour;
    const plan = (entry: string, mirror: string) =>
      JSON.stringify({ entry: pathToFileURL(entry).href, modules: [{ mirror: pathToFileURL(mirror).href }] });
    const liveMirror = at(join(dir, 'mirrors', 'live-0.mjs'), 'export {}', 40 * day);
    const goneMirror = at(join(dir, 'mirrors', 'gone-0.mjs'), 'export {}', hour);
    const kept = [
      at(join(dir, 'plans', 'live.json'), plan(join(project.dir, 'pipeline.ts'), liveMirror), day),
      liveMirror,
      at(join(dir, 'mirrors', 'being-written-0.mjs'), 'export {}', 0),
      at(join(dir, 'ab', `ab${'1'.repeat(62)}.js`), 'compiled', 20 * day),
    ];
    const swept = [
      at(join(dir, 'plans', 'gone.json'), plan(join(project.dir, 'deleted.ts'), goneMirror), hour),
      goneMirror,
      at(join(dir, 'mirrors', 'orphan-0.mjs'), 'export {}', hour),
      at(join(dir, 'ab', `ab${'2'.repeat(62)}.js`), 'compiled', 40 * day),
      at(join(dir, 'ab', `ab${'3'.repeat(62)}.js.123-ab.tmp`), 'half', hour),
    ].sort();
    const env = { LINEA_TS_CACHE: dir };
    const dry = await project.json<GcJson & { swept: string[] }>(['gc', '--dry-run'], env);
    assert.deepEqual([...dry.swept].sort(), swept);
    assert.ok(
      [...kept, ...swept].every((p) => existsSync(p)),
      'a dry run removes nothing',
    );
    const gc = await project.json<GcJson & { swept: string[] }>(['gc'], env);
    assert.deepEqual([...gc.swept].sort(), swept);
    assert.deepEqual(
      swept.filter((p) => existsSync(p)),
      [],
    );
    assert.deepEqual(
      kept.filter((p) => !existsSync(p)),
      [],
      'a used plan, its mirrors, a mirror being written and a compiled file used this month stay',
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('a use of a compiled file or plan marks it, at most once a day', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linea-touch-'));
    const old = join(dir, 'old.js');
    const recent = join(dir, 'recent.js');
    writeFileSync(old, '');
    writeFileSync(recent, '');
    const twoDays = new Date(Date.now() - 2 * 24 * 3600_000);
    const twoHours = new Date(Date.now() - 2 * 3600_000);
    utimesSync(old, twoDays, twoDays);
    utimesSync(recent, twoHours, twoHours);
    touchIfOld(old);
    touchIfOld(recent);
    assert.ok(Date.now() - statSync(old).mtimeMs < 60_000, 'a file unused for two days is marked used now');
    assert.equal(
      Math.round(statSync(recent).mtimeMs),
      Math.round(twoHours.getTime()),
      'a file used today is not written',
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('gc --max-size evicts least recently used first and stops within budget', async () => {
    for (const n of [10, 11, 12]) await project.json<RunJson>(['run', '--only', 'source', '--set', `source.n=${n}`]);
    const dry = await project.json<GcJson & { evictedBytes: number; keptBytes: number }>([
      'gc',
      '--grace',
      '0',
      '--dry-run',
    ]);
    assert.ok(dry.evicted.length >= 3);
    const budget = dry.keptBytes + dry.evictedBytes - 1; // one byte over budget: evict exactly the oldest
    const gc = await project.json<GcJson>(['gc', '--grace', '0', '--max-size', String(budget)]);
    assert.equal(gc.evicted.length, 1);
    const oldest = await project.json<StatusJson>(['status', '--only', 'source', '--set', 'source.n=10']);
    assert.notEqual(oldest.stages[0]!.state, 'cached', 'the least recently used (n=10) went first');
    const newest = await project.json<StatusJson>(['status', '--only', 'source', '--set', 'source.n=12']);
    assert.equal(newest.stages[0]!.state, 'cached');
  });

  it("gc drops the checkpoints of a key whose lease was left by a dead process, and keeps a live holder's", async () => {
    const { hostname } = await import('node:os');
    const { existsSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const orphan = 'd'.repeat(64);
    const held = 'e'.repeat(64);
    for (const [key, pid] of [
      [orphan, 2 ** 22 + 4321],
      [held, process.pid],
    ] as const) {
      mkdirSync(join(project.cacheDir, 'checkpoints', key), { recursive: true });
      writeFileSync(join(project.cacheDir, 'checkpoints', key, 'state.json'), '{"epoch":3}');
      writeFileSync(
        join(project.cacheDir, 'leases', `${key}.lease`),
        JSON.stringify({ host: hostname(), pid, nonce: `n${pid}`, acquiredAt: '' }),
      );
    }
    const gc = await project.json<GcJson & { droppedCheckpoints: number }>(['gc', '--grace', '0']);
    assert.ok(gc.droppedCheckpoints >= 1);
    assert.equal(
      existsSync(join(project.cacheDir, 'checkpoints', orphan)),
      false,
      "the dead holder's checkpoints are collected",
    );
    assert.equal(existsSync(join(project.cacheDir, 'checkpoints', held)), true, "a live holder's are kept");
    assert.equal(existsSync(join(project.cacheDir, 'leases', `${orphan}.lease`)), false, 'the dead lease is swept');
    assert.equal(existsSync(join(project.cacheDir, 'leases', `${held}.lease`)), true, 'the live one is kept');
  });
});
