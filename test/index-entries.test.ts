// Index entries a crash, a person or another version damaged: every read is validated, a bad entry
// is a miss named once and refilled from the store's records, verify counts it and exits 1, and
// verify --repair rebuilds the index (a lost index directory included). No intact result is
// recomputed because its index entry was wrong.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freshProjects, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

const entryFile = (project: Project, name: string) =>
  join(
    project.cacheDir,
    'index',
    name.slice(0, name.indexOf('/')),
    `${createHash('sha256').update(name).digest('hex')}.json`,
  );

async function keyOf(project: Project, instance: string): Promise<string> {
  const log = await project.json<{ runs: { key: string }[] }>(['log', instance]);
  return log.runs[0]!.key;
}

async function ranProject(fresh: () => Project): Promise<Project> {
  const project = fresh();
  await project.json<RunJson>(['run']);
  project.takeExecutions();
  return project;
}

describe('damaged index entries', () => {
  const fresh = freshProjects();

  it('an entry of the wrong shape is a miss named once, refilled from the store: nothing recomputed', async () => {
    const project = await ranProject(fresh);
    const name = `run/${await keyOf(project, 'square')}`;
    writeFileSync(entryFile(project, name), JSON.stringify({ key: name, value: 'oops' }));
    const status = await project.linea(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.ok((JSON.parse(status.stdout) as StatusJson).stages.every((s) => s.state === 'cached'));
    const mentions = status.stderr.split('\n').filter((l) => l.includes(name));
    assert.equal(mentions.length, 1, status.stderr);
    assert.match(mentions[0]!, /^linea: run index entry run\/[0-9a-f]{64} is unreadable \(the value: /);
    const run = await project.linea(['run', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(project.takeExecutions(), []);
    // The lookup put the store's record back: the entry reads again.
    assert.equal(JSON.parse(readFileSync(entryFile(project, name), 'utf8')).value.key, name.slice(4));
  });

  it('verify counts unreadable entries and exits 1; verify --repair rebuilds the index', async () => {
    const project = await ranProject(fresh);
    const name = `run/${await keyOf(project, 'double')}`;
    writeFileSync(entryFile(project, name), JSON.stringify({ key: name, value: null }));
    const verify = await project.linea(['verify', '--json']);
    assert.equal(verify.code, 1, verify.stderr);
    const report = JSON.parse(verify.stdout) as { unreadable: number; problems: string[] };
    assert.equal(report.unreadable, 1);
    assert.ok(
      report.problems.some((p) => p.includes(name) && p.includes('unreadable')),
      report.problems.join('\n'),
    );
    const repair = await project.linea(['verify', '--repair']);
    assert.equal(repair.code, 0, `${repair.stdout}${repair.stderr}`);
    assert.match(repair.stderr, /rebuilt from the store/);
    assert.equal((await project.linea(['verify'])).code, 0);
  });

  it('verify on a lost index directory says what the index lacks and exits 1; --repair restores it', async () => {
    const project = await ranProject(fresh);
    rmSync(join(project.cacheDir, 'index'), { recursive: true, force: true });
    const verify = await project.linea(['verify']);
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(verify.stdout, /the index lacks \d+ runs/);
    assert.equal((await project.linea(['verify', '--repair'])).code, 0);
    const again = await project.linea(['verify']);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /all intact/);
  });

  it("an entry naming the wrong object: the store's record of the key wins, nothing recomputed", async () => {
    const project = await ranProject(fresh);
    const name = `run/${await keyOf(project, 'sum')}`;
    const entry = JSON.parse(readFileSync(entryFile(project, name), 'utf8')) as { value: { digest: string } };
    entry.value.digest = 'f'.repeat(64);
    writeFileSync(entryFile(project, name), JSON.stringify(entry));
    const run = await project.linea(['run', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('half-written index files that killed writers left are swept by the next run', async () => {
    const project = await ranProject(fresh);
    // Entries are written under index/.tmp/ and renamed into place (index-store.ts).
    const dir = join(project.cacheDir, 'index', '.tmp');
    mkdirSync(dir, { recursive: true });
    const old = join(dir, `${'a'.repeat(64)}.json.4242-deadbeef.tmp`);
    const recent = join(dir, `${'b'.repeat(64)}.json.4243-deadbeef.tmp`);
    writeFileSync(old, '{"key":');
    writeFileSync(recent, '{"key":');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(old, hourAgo, hourAgo);
    assert.equal((await project.linea(['run'])).code, 0);
    assert.ok(!existsSync(old), 'an hour-old temporary file is left');
    // One written a moment ago may belong to a writer still at work.
    assert.ok(existsSync(recent));
    assert.ok(readdirSync(join(project.cacheDir, 'index', 'run')).some((n) => n.endsWith('.json')));
  });
});
