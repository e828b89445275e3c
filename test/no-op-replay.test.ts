// An all-cached `linea run` is kept as a settled record and the same command replays it without
// loading the pipeline, while nothing it read has changed (src/engine/schedule/settled.ts). What
// a user relies on: the replay says what the long way says, and anything that would change the
// answer (an edited stage, a file or variable the definition read, a damaged result, a deleted
// publication, a damaged record) takes the long way.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { makeProject, type Project, REPO, type RunJson, statuses } from './helpers/project.ts';

const REPLAYED = /answered from the settled record/;
// LINEA_DEBUG is read by the run, so it is part of what a record depends on: every command here sets it.
const DEBUG = { LINEA_DEBUG: '1' };
const ARGS = ['run', '--pipeline', 'definition.pipeline.ts', '--json'];

/** What a user reads in a run's answer (a replay looks nothing up, so its seconds are 0). */
function answer(run: RunJson & { published?: unknown }) {
  return {
    stages: run.stages.map(({ id, stage, key, status }) => ({ id, stage, key, status })),
    published: run.published,
  };
}

describe('a replayed no-op', () => {
  let project: Project;

  before(async () => {
    // The replay is the compiled engine's (the engine run from source never records one).
    const build = await execa(process.execPath, ['scripts/build-engine.mjs', '--if-stale'], {
      cwd: REPO,
      reject: false,
    });
    assert.equal(build.exitCode, 0, build.stderr);
    project = makeProject();
  });
  after(() => project.remove());

  async function run(env: Record<string, string> = {}, args = ARGS) {
    const result = await project.linea(args, { ...DEBUG, ...env });
    assert.equal(result.code, 0, result.stderr);
    return {
      json: args.includes('--json') ? (JSON.parse(result.stdout) as RunJson & { published?: unknown }) : undefined,
      stdout: result.stdout,
      stderr: result.stderr,
    };
  }

  /**
   * Files changed in the last 2 s are not trusted by stat (an edit in the same mtime tick would go
   * unseen): wait them out, then make sure the settled run is recorded. A no-op that loaded the
   * pipeline through module hooks (no module plan yet: the files were new) leaves the plan to the
   * next, which records.
   */
  async function settle(args = ARGS) {
    await sleep(2_100);
    let settled = await run({}, args);
    if (/not recorded: the run loaded the pipeline through module hooks/.test(settled.stderr))
      settled = await run({}, args);
    assert.match(settled.stderr, /settled answer recorded|answered from the settled record/);
  }

  it('says what the long way says, without loading the pipeline', async () => {
    const first = await run();
    assert.deepEqual(statuses(first.json!), { source: 'ran', double: 'ran', summary: 'ran' });
    assert.deepEqual(project.takeExecutions(), ['double', 'source', 'summary']);
    await settle();
    const replay = await run();
    assert.match(replay.stderr, REPLAYED);
    assert.doesNotMatch(
      replay.stderr,
      /loaded from its module plan|module hooks registered/,
      'the pipeline is not loaded',
    );
    const long = await run({ LINEA_REPLAY: '0' });
    assert.doesNotMatch(long.stderr, REPLAYED);
    assert.deepEqual(answer(replay.json!), answer(long.json!));
    assert.deepEqual(project.takeExecutions(), []);
    // The text form too, under a record of its own: the table and the published results.
    const TEXT = ['run', '--pipeline', 'definition.pipeline.ts'];
    await settle(TEXT);
    const text = await run({}, TEXT);
    assert.match(text.stderr, REPLAYED);
    const longText = await run({ LINEA_REPLAY: '0' }, TEXT);
    // A replay looks nothing up: its seconds column says 0.00 where the long way's says 0.00 or 0.01.
    const table = (out: string) => out.replace(/\d+\.\d\d\n/g, '\n');
    assert.equal(table(text.stdout), table(longText.stdout));
    assert.match(text.stdout, /3 cached/);
    // And status, which says the same of every instance.
    const STATUS = ['status', '--pipeline', 'definition.pipeline.ts', '--json'];
    await settle(STATUS);
    const status = await run({}, STATUS);
    assert.match(status.stderr, REPLAYED);
    assert.equal(status.stdout, (await run({ LINEA_REPLAY: '0' }, STATUS)).stdout);
  });

  it('takes the long way when a file the definition read changed', async () => {
    await settle();
    project.write('definition.json', '{ "n": 4 }\n');
    const changed = await run();
    assert.doesNotMatch(changed.stderr, REPLAYED);
    assert.deepEqual(statuses(changed.json!), { source: 'ran', double: 'ran', summary: 'ran' });
    project.takeExecutions();
  });

  it('takes the long way when a variable the definition read changed', async () => {
    await settle();
    const relabelled = await run({ TOY_LABEL: 'other' });
    assert.doesNotMatch(relabelled.stderr, REPLAYED);
    // label does not change source's output: only source reruns (early cutoff).
    assert.deepEqual(statuses(relabelled.json!), { source: 'ran', double: 'cached', summary: 'cached' });
    project.takeExecutions();
  });

  it("takes the long way when a stage's code changed", async () => {
    await settle();
    project.edit('stages/lib/scale.ts', (text) => text.replace('value * by + offset', 'value * by + offset + 1'));
    const edited = await run();
    assert.doesNotMatch(edited.stderr, REPLAYED);
    assert.equal(statuses(edited.json!).double, 'ran');
    project.takeExecutions();
  });

  it('takes the long way, and recomputes, when a result was damaged or a publication deleted', async () => {
    await settle();
    const key = (await run()).json!.stages.find((s) => s.id === 'double')!.key;
    // The index entry that names the object (files named by a hash of the entry's key).
    const entries = join(project.cacheDir, 'index', 'run');
    const { digest } = readdirSync(entries)
      .map((f) => JSON.parse(readFileSync(join(entries, f), 'utf8')) as { key: string; value: { digest: string } })
      .find((e) => e.key === `run/${key}`)!.value;
    truncateSync(join(project.cacheDir, 'objects', digest.slice(0, 2), digest.slice(2), 'manifest.json'), 1);
    const damaged = await run();
    assert.doesNotMatch(damaged.stderr, REPLAYED);
    assert.equal(statuses(damaged.json!).double, 'ran');
    project.takeExecutions();

    await settle();
    rmSync(join(project.dir, 'results'), { recursive: true, force: true });
    const unpublished = await run();
    assert.doesNotMatch(unpublished.stderr, REPLAYED);
    assert.ok(readdirSync(join(project.dir, 'results')).length > 0, 'published again');
  });

  it('takes the long way when its record is damaged, and records it again', async () => {
    await settle();
    const dir = join(project.cacheDir, 'settled');
    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), '{"version":1,"identity":');
    const damaged = await run();
    assert.doesNotMatch(damaged.stderr, REPLAYED);
    assert.match(damaged.stderr, /settled answer recorded/);
    assert.match((await run()).stderr, REPLAYED);
  });

  it('is never recorded for a definition that ran a program, nor with LINEA_REPLAY=0', async () => {
    await run({ TOY_PROGRAM: '1' });
    project.takeExecutions();
    await sleep(2_100);
    const program = await run({ TOY_PROGRAM: '1' });
    assert.match(program.stderr, /not recorded: the run started a child process/);
    assert.doesNotMatch((await run({ TOY_PROGRAM: '1' })).stderr, REPLAYED);
    await settle();
    assert.doesNotMatch((await run({ LINEA_REPLAY: '0' })).stderr, REPLAYED);
  });
});
