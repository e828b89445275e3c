// The scheduler (run.ts) driven through a fake executor, no stage code and no CLI: what runs,
// how often, in what order, and what happens around failures, interrupts and slots.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import type { Executor, StageTask, TaskOutcome } from '../src/engine/execute/executor.ts';
import { expandInstances } from '../src/engine/define/instances.ts';
import { lookup, lookupNow } from '../src/engine/schedule/lookup.ts';
import { definePipeline } from '../src/engine/define/pipeline.ts';
import { openProject } from '../src/engine/project/project.ts';
import { type RunObserver, runInstances, type StageResult } from '../src/engine/schedule/run.ts';
import { chainLengths } from '../src/engine/schedule/priority.ts';
import { defineStage, input } from '../src/engine/define/stage.ts';

// Stage bodies never run here: the fake executor answers for them.
const never = () => {
  throw new Error('the fake executor runs no stage code');
};
const source = defineStage({ name: 'sched-source', params: z.object({ n: z.number().default(1) }), run: never });
const step = defineStage({
  name: 'sched-step',
  params: z.object({ k: z.number().default(1) }),
  inputs: { from: input<unknown>() },
  run: never,
});

/** Runs tasks by a script: a value or a failure per stage name, optionally after a delay. */
class FakeExecutor implements Executor {
  readonly ran: StageTask[] = [];
  running = 0;
  maxRunning = 0;
  constructor(
    readonly slots: number,
    private readonly script: (task: StageTask) => { outcome: TaskOutcome; ms?: number } = () => ({
      outcome: { ok: true, value: 1 },
    }),
  ) {}
  async run(task: StageTask): Promise<TaskOutcome> {
    this.ran.push(task);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    const { outcome, ms = 0 } = this.script(task);
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.running--;
    return outcome;
  }
  async close(): Promise<void> {}
}

const quiet: RunObserver = { started() {}, waiting() {}, event() {}, finished() {} };
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(
  build: Parameters<typeof definePipeline>[0]['build'],
  executor: Executor,
  signal = new AbortController().signal,
  observer: RunObserver = quiet,
): Promise<StageResult[]> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'linea-sched-'));
  dirs.push(cacheDir);
  const pipeline = definePipeline({ name: 'sched', build });
  const project = await openProject({ root: import.meta.dirname, cacheDir, pipeline });
  try {
    return await runInstances(project, expandInstances(pipeline, { set: {}, ablate: {} }), {
      executor,
      observer,
      signal,
    });
  } finally {
    await project.close();
  }
}

describe('scheduler', () => {
  it('runs instances with equal keys once and reports the others as cached', async () => {
    const executor = new FakeExecutor(2);
    const results = await run((p) => {
      const a = p.add(source, {}, { id: 'a' });
      const b = p.add(source, {}, { id: 'b' }); // same stage, params and inputs: the same key
      p.add(step, { from: a }, { id: 'from-a' });
      p.add(step, { from: b }, { id: 'from-b' });
    }, executor);
    assert.deepEqual(
      executor.ran.map((t) => t.stage),
      ['sched-source', 'sched-step'],
      'one execution per distinct key',
    );
    assert.equal(results.find((r) => r.id === 'a')!.key, results.find((r) => r.id === 'b')!.key);
    assert.deepEqual(results.map((r) => r.status).sort(), ['cached', 'cached', 'ran', 'ran']);
  });

  it('blocks the dependents of a failed instance without running them', async () => {
    const executor = new FakeExecutor(1, (task) => ({
      outcome: task.instance === 'bad' ? { ok: false, error: 'boom' } : { ok: true, value: 1 },
    }));
    const results = await run((p) => {
      const bad = p.add(source, {}, { id: 'bad', params: { n: 2 } });
      const good = p.add(source, {}, { id: 'good', params: { n: 3 } });
      const child = p.add(step, { from: bad }, { id: 'child' });
      p.add(step, { from: child }, { id: 'grandchild' });
      p.add(step, { from: good }, { id: 'sibling' });
    }, executor);
    const by = new Map(results.map((r) => [r.id, r]));
    assert.equal(by.get('bad')!.status, 'failed');
    assert.equal(by.get('bad')!.error, 'boom');
    assert.match(by.get('child')!.error!, /blocked: upstream bad failed/);
    assert.match(by.get('grandchild')!.error!, /blocked: upstream child failed/);
    assert.equal(by.get('sibling')!.status, 'ran', 'an independent branch still runs');
    assert.deepEqual(executor.ran.map((t) => t.instance).sort(), ['bad', 'good', 'sibling']);
  });

  it('starts nothing after an interrupt; what was queued reports interrupted', async () => {
    const controller = new AbortController();
    const executor = new FakeExecutor(1, () => ({ outcome: { ok: true, value: 1 }, ms: 50 }));
    const observer: RunObserver = { ...quiet, started: () => controller.abort() };
    const results = await run(
      (p) => {
        for (let i = 0; i < 4; i++) p.add(source, {}, { id: `s${i}`, params: { n: i } });
      },
      executor,
      controller.signal,
      observer,
    );
    assert.equal(executor.ran.length, 1, 'only the instance that had started ran');
    assert.equal(results.filter((r) => r.status === 'failed' && r.error === 'interrupted').length, 3);
  });

  it('never runs more tasks at once than the executor has slots', async () => {
    const executor = new FakeExecutor(2, () => ({ outcome: { ok: true, value: 1 }, ms: 30 }));
    await run((p) => {
      for (let i = 0; i < 6; i++) p.add(source, {}, { id: `s${i}`, params: { n: i } });
    }, executor);
    assert.equal(executor.ran.length, 6);
    assert.equal(executor.maxRunning, 2);
  });

  // A free slot goes to the waiting instance with the longest chain below it (priority.ts): here
  // the head of a chain of four, ready beside three leaves. First come, first served ran the three
  // leaves first.
  it('gives a free slot to the instance with the longest chain of instances below it', async () => {
    const executor = new FakeExecutor(1, () => ({ outcome: { ok: true, value: 1 }, ms: 50 }));
    await run((p) => {
      for (let i = 1; i <= 3; i++) p.add(source, {}, { id: `leaf${i}`, params: { n: 10 + i } });
      const head = p.add(source, {}, { id: 'head' });
      const c1 = p.add(step, { from: head }, { id: 'c1', params: { k: 1 } });
      const c2 = p.add(step, { from: c1 }, { id: 'c2', params: { k: 2 } });
      p.add(step, { from: c2 }, { id: 'c3', params: { k: 3 } });
    }, executor);
    const order = executor.ran.map((t) => t.instance);
    // leaf1 took the free slot at once, and the other sources queued behind it: head went next.
    assert.deepEqual(order.slice(0, 2), ['leaf1', 'head'], order.join(' '));
    // c1 became ready while leaf2 ran, and went before leaf3, which had waited longer.
    assert.ok(order.indexOf('c1') < order.indexOf('leaf3'), order.join(' '));
  });

  it('measures each instance by the longest chain of instances from it to the end', () => {
    const pipeline = definePipeline({
      name: 'chains',
      build(p) {
        const a = p.add(source, {}, { id: 'a' });
        const b = p.add(step, { from: a }, { id: 'b' });
        p.add(step, { from: b }, { id: 'c', params: { k: 2 } });
        p.add(step, { from: a }, { id: 'd', params: { k: 3 } });
        p.add(source, {}, { id: 'e', params: { n: 5 } });
      },
    });
    const lengths = chainLengths(expandInstances(pipeline, { set: {}, ablate: {} }));
    assert.deepEqual(Object.fromEntries(lengths), { a: 3, b: 2, c: 1, d: 1, e: 1 });
  });

  it('orders and expands a chain of 20,000 stages (no recursion per stage to overflow the stack)', () => {
    const pipeline = definePipeline({
      name: 'chain',
      build: (p) => {
        let last = p.add(source, {}, { id: 'link0' });
        for (let i = 1; i < 20_000; i++) last = p.add(step, { from: last }, { id: `link${i}`, params: { k: i } });
      },
    });
    const instances = expandInstances(pipeline, { set: {}, ablate: {} });
    assert.equal(instances.length, 20_000);
    assert.deepEqual([instances[0]!.id, instances.at(-1)!.id], ['link0', 'link19999']);
  });

  it('spells out a cycle closed at the end of a long chain', () => {
    const build = (p: Parameters<Parameters<typeof definePipeline>[0]['build']>[0]) => {
      let last = p.add(step, { from: p.ref('link19999') }, { id: 'link0' });
      for (let i = 1; i < 20_000; i++) last = p.add(step, { from: last }, { id: `link${i}` });
    };
    assert.throws(() => definePipeline({ name: 'loop', build }), /cycle: link0 → link1 → .* → link19999 → link0;/);
  });

  it('commits each result so a second run finds every key cached', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'linea-sched-'));
    dirs.push(cacheDir);
    const pipeline = definePipeline({
      name: 'sched',
      build: (p) => {
        const s = p.add(source);
        p.add(step, { from: s });
      },
    });
    const once = async (executor: FakeExecutor) => {
      const project = await openProject({ root: import.meta.dirname, cacheDir, pipeline });
      try {
        return await runInstances(project, expandInstances(pipeline, { set: {}, ablate: {} }), {
          executor,
          observer: quiet,
          signal: new AbortController().signal,
        });
      } finally {
        await project.close();
      }
    };
    const first = new FakeExecutor(1);
    assert.deepEqual(
      (await once(first)).map((r) => r.status),
      ['ran', 'ran'],
    );
    const second = new FakeExecutor(1);
    assert.deepEqual(
      (await once(second)).map((r) => r.status),
      ['cached', 'cached'],
    );
    assert.equal(second.ran.length, 0);
  });
});

// run.ts settles what is cached in one synchronous pass (lookup.ts lookupNow) before the
// awaiting path; these check that the pass gives the answers the awaiting path would.
describe('settling cached results in one pass', () => {
  /** A store shared by several runs of one pipeline, each with a fresh fake executor. */
  function session(build: Parameters<typeof definePipeline>[0]['build']) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'linea-sched-'));
    dirs.push(cacheDir);
    const pipeline = definePipeline({ name: 'sched', build });
    return {
      cacheDir,
      // Each instance's value differs (its params), so each has an object of its own.
      async run(
        observer: RunObserver = quiet,
        value: (task: StageTask) => string = (task) => JSON.stringify(task.params),
      ) {
        const executor = new FakeExecutor(1, (task) => ({ outcome: { ok: true, value: value(task) } }));
        const project = await openProject({ root: import.meta.dirname, cacheDir, pipeline });
        try {
          const results = await runInstances(project, expandInstances(pipeline, { set: {}, ablate: {} }), {
            executor,
            observer,
            signal: new AbortController().signal,
          });
          return { results, ran: executor.ran.map((t) => t.instance), project };
        } finally {
          await project.close();
        }
      },
    };
  }
  const objectDirOf = (cacheDir: string, digest: string) =>
    join(cacheDir, 'objects', digest.slice(0, 2), digest.slice(2));

  it('reruns a result deleted in the middle of a cached chain, and what reads it only if its output changed', async () => {
    const s = session((p) => {
      let last = p.add(source, {}, { id: 'c0' });
      for (let i = 1; i < 6; i++) last = p.add(step, { from: last }, { id: `c${i}`, params: { k: i } });
    });
    await s.run();
    const { results, project } = await s.run();
    const c2 = (await project.index.get(results[2]!.key!))!;
    rmSync(objectDirOf(s.cacheDir, c2.digest), { recursive: true });
    const same = await s.run();
    assert.deepEqual(same.ran, ['c2'], 'the same value again: everything downstream stays cached');
    assert.deepEqual(
      same.results.map((r) => r.status),
      ['cached', 'cached', 'ran', 'cached', 'cached', 'cached'],
    );
    rmSync(objectDirOf(s.cacheDir, c2.digest), { recursive: true });
    const changed = await s.run(quiet, (task) => (task.instance === 'c2' ? 'changed' : JSON.stringify(task.params)));
    assert.deepEqual(changed.ran, ['c2', 'c3'], 'a new value: what reads it runs again (and gives its old value)');
    assert.deepEqual(
      changed.results.map((r) => r.status),
      ['cached', 'cached', 'ran', 'ran', 'cached', 'cached'],
    );
  });

  it('reports instances that share a key as cached, the second with no time of its own', async () => {
    const s = session((p) => {
      p.add(source, {}, { id: 'a' });
      p.add(source, {}, { id: 'b' });
    });
    await s.run();
    const { results, ran } = await s.run();
    assert.deepEqual(ran, []);
    assert.deepEqual(
      results.map((r) => [r.id, r.status]),
      [
        ['a', 'cached'],
        ['b', 'cached'],
      ],
    );
    assert.equal(results[1]!.seconds, 0);
    assert.equal(results[0]!.key, results[1]!.key);
  });

  it('names each cached result in the in-use record before reporting it (so gc keeps it)', async () => {
    const s = session((p) => {
      let last = p.add(source, {}, { id: 'c0' });
      for (let i = 1; i < 4; i++) last = p.add(step, { from: last }, { id: `c${i}`, params: { k: i } });
    });
    await s.run();
    const inUse = new Map<string, string>();
    const observer: RunObserver = {
      ...quiet,
      finished(result) {
        const active = join(s.cacheDir, 'active');
        inUse.set(
          result.id,
          readdirSync(active)
            .map((f) => readFileSync(join(active, f), 'utf8'))
            .join(''),
        );
      },
    };
    const { results, project } = await s.run(observer);
    for (const r of results) {
      assert.equal(r.status, 'cached');
      const digest = (await project.index.get(r.key!))!.digest;
      assert.ok(inUse.get(r.id)!.includes(digest), `${r.id}'s object is named while it is reported`);
    }
  });

  it('leaves a result whose manifest was touched to lookup(), which refreshes its stamp for the next pass', async () => {
    const s = session((p) => {
      p.add(source, {}, { id: 'a' });
    });
    const { results } = await s.run();
    const pipeline = definePipeline({ name: 'sched', build: (p) => void p.add(source, {}, { id: 'a' }) });
    const project = await openProject({ root: import.meta.dirname, cacheDir: s.cacheDir, pipeline });
    try {
      const key = results[0]!.key!;
      const hit = lookupNow(project, key);
      assert.ok(hit, 'untouched: answered in the pass');
      const later = new Date(Date.now() + 5_000);
      utimesSync(join(objectDirOf(s.cacheDir, hit.record.digest), 'manifest.json'), later, later);
      assert.equal(lookupNow(project, key), undefined, 'touched: left to lookup()');
      assert.equal((await lookup(project, key)).hit, true);
      assert.ok(lookupNow(project, key), 'refreshed: answered in the pass again');
      rmSync(objectDirOf(s.cacheDir, hit.record.digest), { recursive: true });
      assert.equal(lookupNow(project, key), undefined, 'gone: left to lookup(), which says why');
      const gone = await lookup(project, key);
      assert.ok(!gone.hit && gone.problem && /missing/.test(gone.problem), 'a miss that says why');
    } finally {
      await project.close();
    }
  });
});
