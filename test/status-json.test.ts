// `linea status --json` and `linea run --json`: the machine-readable contract other tools use.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeProject, type Project, type RunJson, type StatusJson } from './helpers/project.ts';

describe('status and run --json', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('before any run, every instance is missing; downstream keys are null until upstream runs', async () => {
    const status = await project.json<StatusJson>(['status']);
    assert.deepEqual(
      status.stages.map((s) => s.id),
      ['source', 'double', 'square', 'sum', 'slow'],
    );
    for (const s of status.stages) {
      assert.deepEqual(Object.keys(s).sort(), ['id', 'key', 'reasons', 'stage', 'state']);
      assert.equal(s.state, 'missing');
    }
    assert.match(status.stages[0]!.key!, /^[0-9a-f]{64}$/);
    assert.equal(status.stages[1]!.key, null);
  });

  it('run --json prints exactly one object with id, stage, key, status, seconds per stage', async () => {
    const result = await project.linea(['run', '--json']);
    assert.equal(result.code, 0);
    const run = JSON.parse(result.stdout) as RunJson;
    assert.deepEqual(Object.keys(run), ['stages', 'published']);
    assert.deepEqual(run.published, [], 'the toy pipeline publishes nothing');
    for (const s of run.stages) {
      assert.deepEqual(Object.keys(s).sort(), ['id', 'key', 'seconds', 'stage', 'status']);
      assert.ok(['ran', 'cached', 'failed'].includes(s.status));
      assert.equal(typeof s.seconds, 'number');
    }
    assert.match(result.stderr, /✓ source ran/, 'human progress goes to stderr');
  });

  it('reasons name the changed field with old and new value', async () => {
    const status = await project.json<StatusJson>(['status', '--set', 'double.factor=0.5', '--set', 'source.label=y']);
    const source = status.stages.find((s) => s.id === 'source')!;
    assert.equal(source.state, 'stale');
    assert.deepEqual(
      source.reasons.map(({ kind, field, from, to, message }) => ({ kind, field, from, to, message })),
      [{ kind: 'param', field: 'params.label', from: 'x', to: 'y', message: 'params.label "x" → "y"' }],
    );
    const double = status.stages.find((s) => s.id === 'double')!;
    assert.equal(double.state, 'stale');
    assert.equal(double.key, null);
    const param = double.reasons.find((r) => r.kind === 'param')!;
    assert.deepEqual([param.field, param.from, param.to], ['params.factor', 2, 0.5]);
    assert.ok(double.reasons.some((r) => r.kind === 'input' && /upstream source will run first/.test(r.message)));
  });

  it('diffs against the latest run of the instance, and names a changed input', async () => {
    await project.json<RunJson>(['run', '--set', 'source.n=4']);
    const status = await project.json<StatusJson>(['status']);
    assert.equal(status.stages.find((s) => s.id === 'square')!.state, 'cached', 'n=3 results are still in the store');
    const next = await project.json<StatusJson>(['status', '--set', 'source.n=5']);
    assert.equal(next.stages.find((s) => s.id === 'source')!.reasons[0]!.message, 'params.n 4 → 5');

    await project.json<RunJson>(['run', '--only', 'source', '--set', 'source.n=6']);
    const after = await project.json<StatusJson>(['status', '--set', 'source.n=6']);
    const square = after.stages.find((s) => s.id === 'square')!;
    assert.equal(square.state, 'stale');
    assert.match(square.key!, /^[0-9a-f]{64}$/, 'upstream is cached, so the key is known');
    assert.deepEqual(
      square.reasons.map((r) => [r.field, r.message]),
      [['inputs.source', 'input source: new digest']],
    );
  });

  it('status prints a readable plan', async () => {
    const result = await project.linea(['status', '--set', 'double.factor=7']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /stale\s+double\s+\w{12}\n\s+· params\.factor 2 → 7/);
    assert.match(result.stdout, /cached\s+square/);
  });

  it('an instance that never ran is explained against the nearest previous run of its stage', async () => {
    const fresh = makeProject();
    try {
      await fresh.json<RunJson>(['run', '--ablate', 'factor=2,3']);
      // Fixing the swept param drops the axis: `double` has never run under that id.
      const status = await fresh.json<StatusJson>(['status', '--set', 'double.factor=5']);
      const double = status.stages.find((s) => s.id === 'double')!;
      assert.equal(double.state, 'missing');
      const [nearest, ...diff] = double.reasons;
      assert.equal(nearest!.kind, 'nearest');
      assert.match(nearest!.instance!, /^double\[factor=[23]\]$/);
      assert.match(nearest!.message, /nearest previous run, double\[factor=[23]\] \(1 field differs\)/);
      assert.deepEqual(
        diff.map((r) => [r.field, r.to]),
        [['params.factor', 5]],
      );
      const text = await fresh.linea(['status', '--set', 'double.factor=5']);
      assert.match(
        text.stdout,
        /never ran as this instance; compared with the nearest previous run, double\[factor=[23]\]/,
      );
      assert.match(text.stdout, /params\.factor [23] → 5/);
    } finally {
      fresh.remove();
    }
  });

  it('says once per upstream that it will run first, not once per waiting input', async () => {
    const fresh = makeProject();
    try {
      await fresh.json<RunJson>(['run']);
      const text = await fresh.linea(['status', '--set', 'source.n=7']);
      assert.equal(text.stdout.match(/will run first/g)?.length, 1, text.stdout);
      assert.match(text.stdout, / {2}source: 3 instances wait on it/);
      assert.equal(text.stdout.match(/· after source/g)?.length, 3);
    } finally {
      fresh.remove();
    }
  });
});
