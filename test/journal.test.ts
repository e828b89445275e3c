// The run journal (src/engine/view/journal.ts) that linea view follows (view/tail.ts): a run that computes
// something writes one, with every instance's finish (cached ones too, so the page's counts add
// up) and the metrics of its progress; a rerun that finds everything cached writes nothing.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JournalTail } from '../src/engine/view/tail.ts';
import type { JournalEvent } from '../src/engine/view/wire.ts';
import { makeProject, type Project } from './helpers/project.ts';

describe('run journal', () => {
  let project: Project;
  const journals = () => readdirSync(join(project.cacheDir, 'events')).sort();
  const read = (name: string) =>
    readFileSync(join(project.cacheDir, 'events', name), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JournalEvent);
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('a run tells its instances, starts, progress with metrics, finishes and end', async () => {
    assert.equal((await project.linea(['run'])).code, 0);
    const [first] = journals();
    const events = read(first!);
    assert.equal(events[0]!.e, 'run');
    assert.equal(events.at(-1)!.e, 'end');
    const finished = events.filter((e) => e.e === 'finished').map((e) => (e.e === 'finished' ? e.id : ''));
    assert.deepEqual(finished.sort(), ['double', 'slow', 'source', 'square', 'sum']);
    const losses = events.flatMap((e) => (e.e === 'progress' && e.id === 'slow' ? [e.metrics?.loss] : []));
    assert.deepEqual(losses, [1, 0.5, 1 / 3]);
  });

  it('an all-cached rerun writes no journal', async () => {
    const before = journals();
    assert.equal((await project.linea(['run'])).code, 0);
    assert.deepEqual(journals(), before);
  });

  it("a partial rerun's journal has the cached instances' finishes too", async () => {
    const before = journals();
    assert.equal((await project.linea(['run', '--set', 'slow.steps=2'])).code, 0);
    const added = journals().filter((j) => !before.includes(j));
    assert.equal(added.length, 1);
    const events = read(added[0]!);
    const status = Object.fromEntries(events.flatMap((e) => (e.e === 'finished' ? [[e.id, e.status]] : [])));
    assert.deepEqual(status, { source: 'cached', double: 'cached', square: 'cached', sum: 'cached', slow: 'ran' });
  });

  it('a follower started before any run sees the journal directory appear, and each line once', async () => {
    const dir = join(project.dir, 'later-events');
    const seen: JournalEvent[] = [];
    const tail = new JournalTail(dir, (event) => seen.push(event), { since: 0, scanMs: 50 });
    tail.start();
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'a.jsonl'), '{"e":"started","t":1,"run":"a","id":"x"}\n{"e":"end",');
      appendFileSync(join(dir, 'a.jsonl'), '"t":2,"run":"a"}\n');
      for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 200)); // more scans, to catch a line read twice
      assert.deepEqual(
        seen.map((e) => e.e),
        ['started', 'end'],
      );
    } finally {
      tail.stop();
    }
  });
});
