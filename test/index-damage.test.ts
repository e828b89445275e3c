// A damaged or lost run index never costs intact work: a clear message names the file and the
// fix, `linea index rebuild` (or `verify --repair`) restores it from the records the store keeps,
// and an index truncated to nothing is healed on the fly.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, statuses, type Project, type RunJson } from './helpers/project.ts';

describe('a damaged run index (sqlite)', () => {
  let project: Project;
  before(async () => {
    project = makeProject();
    // The sqlite backend is the one whose file can be damaged as a whole: every command here uses it.
    process.env.LINEA_INDEX = 'sqlite';
    await project.json<RunJson>(['run']);
    project.takeExecutions();
  });
  after(() => {
    delete process.env.LINEA_INDEX;
    project.remove();
  });

  const index = () => join(project.cacheDir, 'index.sqlite');
  /** Replace the index file (and drop its WAL, as a crash or a bad copy would). */
  const damage = (bytes: Buffer) => {
    for (const suffix of ['-wal', '-shm']) rmSync(`${index()}${suffix}`, { force: true });
    writeFileSync(index(), bytes);
  };

  it('garbage in the index: status, run and verify say which file and how to fix it, without a stack trace', async () => {
    damage(Buffer.from('this is not a database '.repeat(400)));
    for (const command of [['status'], ['run'], ['verify']]) {
      const r = await project.linea(command);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /run index .*index\.sqlite is damaged/);
      assert.match(r.stderr, /linea index rebuild/);
      assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    }
  });

  it('linea index rebuild restores every intact result: the next run computes nothing', async () => {
    const r = await project.linea(['index', 'rebuild']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /runs restored/);
    const run = await project.json<RunJson>(['run']);
    assert.ok(
      Object.values(statuses(run)).every((s) => s === 'cached'),
      JSON.stringify(statuses(run)),
    );
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('half a truncated index: verify --repair rebuilds it and nothing is recomputed', async () => {
    const size = readFileSync(index()).length;
    truncateSync(index(), Math.floor(size / 2));
    for (const suffix of ['-wal', '-shm']) rmSync(`${index()}${suffix}`, { force: true });
    const verify = await project.linea(['verify', '--repair']);
    assert.equal(verify.code, 0, verify.stderr + verify.stdout);
    const run = await project.json<RunJson>(['run']);
    assert.ok(
      Object.values(statuses(run)).every((s) => s === 'cached'),
      JSON.stringify(statuses(run)),
    );
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('an index truncated to 0 bytes (or deleted) recomputes nothing: lost entries are found in the store', async () => {
    damage(Buffer.alloc(0));
    const run = await project.json<RunJson>(['run']);
    assert.ok(
      Object.values(statuses(run)).every((s) => s === 'cached'),
      JSON.stringify(statuses(run)),
    );
    rmSync(index());
    for (const suffix of ['-wal', '-shm']) rmSync(`${index()}${suffix}`, { force: true });
    assert.ok(!existsSync(index()));
    const again = await project.json<RunJson>(['run']);
    assert.ok(Object.values(statuses(again)).every((s) => s === 'cached'));
    assert.deepEqual(project.takeExecutions(), []);
  });
});

describe('a damaged run index (files, the default)', () => {
  it('garbage, truncated or deleted entries are misses refilled from the store: nothing is recomputed', async () => {
    const project = makeProject();
    try {
      await project.json<RunJson>(['run']);
      project.takeExecutions();
      const runs = join(project.cacheDir, 'index', 'run');
      const entries = readdirSync(runs);
      assert.ok(entries.length >= 5);
      writeFileSync(join(runs, entries[0]!), 'not json');
      truncateSync(join(runs, entries[1]!), 3);
      rmSync(join(runs, entries[2]!));
      const status = await project.json<{ stages: { state: string }[] }>(['status']);
      assert.ok(
        status.stages.every((s) => s.state === 'cached'),
        JSON.stringify(status.stages),
      );
      const run = await project.json<RunJson>(['run']);
      assert.ok(run.stages.every((s) => s.status === 'cached'));
      assert.deepEqual(project.takeExecutions(), []);
      rmSync(join(project.cacheDir, 'index'), { recursive: true });
      assert.ok((await project.json<RunJson>(['run'])).stages.every((s) => s.status === 'cached'));
      assert.deepEqual(project.takeExecutions(), []);
    } finally {
      project.remove();
    }
  });
});
