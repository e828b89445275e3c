// Where a run stands and its ETA (src/engine/view/eta.ts): the line `linea run` prints and the
// page of `linea view` shows, from earlier runs' times of each stage.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatStanding, stageEstimates, standing } from '../src/engine/view/eta.ts';

const instances = new Map([
  ['data', 'data'],
  ['train[a]', 'train'],
  ['train[b]', 'train'],
  ['train[c]', 'train'],
  ['report', 'report'],
]);

describe('run standing and ETA', () => {
  it('counts done, running and left, and spreads the work left over the busy slots', () => {
    const s = standing(
      {
        instances,
        finished: new Map([['data', 0]]),
        running: new Map([
          ['train[a]', { since: 0, fraction: 0.5 }],
          ['train[b]', { since: 0, fraction: 0.25 }],
        ]),
        estimates: { train: 40, report: 2 },
        startedAt: 0,
      },
      30_000,
    );
    // Left: train[a] 20 s, train[b] 30 s, train[c] 40 s, report 2 s = 92 s over 2 slots.
    assert.deepEqual(s, { done: 1, running: 2, left: 2, elapsedSeconds: 30, etaSeconds: 46 });
    assert.equal(formatStanding(s), '1/5 done · 2 running · 2 left · 30s · ETA 46s');
  });

  it("a stage never timed before is estimated from this run's finished instances of it", () => {
    const s = standing(
      {
        instances,
        finished: new Map([
          ['data', 1],
          ['train[a]', 10],
          ['train[b]', 20],
          ['train[c]', 30],
        ]),
        running: new Map(),
        estimates: {},
        startedAt: 0,
      },
      60_000,
    );
    assert.equal(s.left, 1);
    assert.equal(s.etaSeconds, undefined, 'report was never timed: no ETA rather than a wrong one');
    const timed = standing(
      {
        instances,
        finished: new Map([['data', 1]]),
        running: new Map([['train[a]', { since: 0 }]]),
        estimates: {},
        startedAt: 0,
      },
      5_000,
    );
    assert.equal(timed.etaSeconds, undefined);
  });

  it('estimates are the median of earlier runs per stage', () => {
    assert.deepEqual(
      stageEstimates([
        { stage: 'train', seconds: 10 },
        { stage: 'train', seconds: 30 },
        { stage: 'train', seconds: 11 },
        { stage: 'data', seconds: 0 },
        { stage: 'report', seconds: 2 },
        { stage: 'report', seconds: 4 },
      ]),
      { train: 11, report: 3 },
    );
    assert.deepEqual([formatDuration(12.4), formatDuration(270), formatDuration(3720)], ['12s', '4m30s', '1h02m']);
  });
});
