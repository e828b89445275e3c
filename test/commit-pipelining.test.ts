// Commits are pipelined (run.ts commitRun, store/durability.ts): a stage's dependents start on its
// sealed result while its object is made durable and its run recorded on the disk thread. What
// a user relies on: a result recorded is never lost or partial, and the recording does not wait
// for the main thread, which the next stage may hold for minutes in a synchronous computation.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { syncThenWrite, writeFilesAtomically } from '../src/engine/store/durability.ts';
import { freshProjects, parseExecution, type RunJson, statuses, waitFor } from './helpers/project.ts';

describe('pipelined commits', () => {
  const fresh = freshProjects();

  it('a result sealed before a stage that holds the main thread is recorded meanwhile: a kill then loses nothing', async () => {
    const project = fresh();
    // In process: `slow` holds the main thread for 30 s (a synchronous training step would).
    const args = ['run', '--executor', 'local', '--set', 'slow.blockMs=30000', '--set', 'slow.steps=1'];
    const child = project.spawn(args);
    await waitFor(() => project.executions().some((line) => line.startsWith('slow ')), 'slow to start');
    const before = project
      .executions()
      .map(parseExecution)
      .map((e) => e.instance)
      .filter((id) => id !== 'slow');
    assert.ok(before.includes('source'), `source ran before slow: ${before}`);
    // Every stage that finished before slow started is recorded while slow holds the thread.
    await waitFor(
      async () => {
        const status = await project.json<{ stages: { id: string; state: string }[] }>(['status']);
        return before.every((id) => status.stages.find((s) => s.id === id)?.state === 'cached');
      },
      'the results sealed before slow to be recorded',
      20,
    );
    child.kill('SIGKILL');
    await child;
    project.takeExecutions();
    const rerun = await project.json<RunJson>(['run', '--executor', 'local', '--set', 'slow.steps=1', '--json']);
    for (const id of before) assert.equal(statuses(rerun)[id], 'cached', `${id} was redone after the kill`);
    const again = project.takeExecutions().map((line) => parseExecution(line).instance);
    assert.ok(again.includes('slow'), 'the stage killed mid-way runs again');
    for (const id of before) assert.ok(!again.includes(id), `${id} finished before the kill and ran again`);
  });
});

describe('the disk thread', () => {
  it('writes a file only once every path before it is on disk; a failed fsync writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linea-disk-'));
    try {
      const object = join(dir, 'object.bin');
      writeFileSync(object, 'bytes');
      const record = join(dir, 'records', 'ab', 'key.json');
      await syncThenWrite([object, dir], [{ path: record, content: '{"ok":1}', tmp: `${record}.1-a.tmp` }]);
      assert.equal(readFileSync(record, 'utf8'), '{"ok":1}', 'written, its folders made');

      const lost = join(dir, 'lost.json');
      await assert.rejects(
        syncThenWrite([join(dir, 'no-such-object')], [{ path: lost, content: '{}', tmp: `${lost}.1-b.tmp` }]),
        /no-such-object/,
      );
      assert.ok(!existsSync(lost), 'a record must not name what is not on disk');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lands writes of one path in the order they were asked, batched or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linea-disk-'));
    try {
      const path = join(dir, 'latest.json');
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          writeFilesAtomically([{ path, content: String(i), tmp: `${path}.1-${i.toString(16)}.tmp` }]),
        ),
      );
      assert.equal(readFileSync(path, 'utf8'), '49');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reporting a commit while stages hold the main thread', () => {
  const fresh = freshProjects();

  it('says a quick stage finished once it is committed, not after every stage queued behind it', async () => {
    const project = fresh();
    const run = await project.linea(['run', '--pipeline', 'blocking.pipeline.ts', '--executor', 'local']);
    assert.equal(run.code, 0, run.stderr);
    // The run's journal (what the live view and `linea view` read), in the order it was written.
    const [journal] = readdirSync(join(project.dir, 'cache', 'events')).filter((f) => f.endsWith('.jsonl'));
    const events = readFileSync(join(project.dir, 'cache', 'events', journal!), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { e: string; id?: string })
      .map((event) => `${event.e} ${event.id ?? ''}`.trim());
    const at = (what: string) => {
      assert.ok(events.includes(what), `'${what}' in the journal: ${events.join(', ')}`);
      return events.indexOf(what);
    };
    // source's commit is one answer from the disk thread, taken at the turn of the event loop
    // between two blocking stages: it is reported while block2 or block3 waits, not at the end.
    assert.ok(at('finished source') < at('started block3'), `source reported late: ${events.join(', ')}`);
  });
});
