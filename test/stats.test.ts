// The statistics under every verdict: Student-t intervals against known quantiles, and the four
// outcomes of a claimed difference and of a claimed value within a band.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeDifference, judgeWithin, studentQuantile, tInterval } from '../stages/lib/report/stats.ts';

test('Student t quantiles match the tables (97.5 %: 12.706 at 1 df, 4.303 at 2, 2.045 at 29)', () => {
  assert.ok(Math.abs(studentQuantile(0.975, 1) - 12.706) < 1e-3);
  assert.ok(Math.abs(studentQuantile(0.975, 2) - 4.303) < 1e-3);
  assert.ok(Math.abs(studentQuantile(0.975, 29) - 2.045) < 1e-3);
});

test('the 95 % interval of 1, 2, 3 is 2 ± 4.303/√3, with SD 1', () => {
  const i = tInterval([1, 2, 3]);
  assert.equal(i.mean, 2);
  assert.equal(i.sd, 1);
  assert.ok(Math.abs(i.hi - (2 + 4.3027 / Math.sqrt(3))) < 1e-3);
  assert.ok(Math.abs(i.lo - (2 - 4.3027 / Math.sqrt(3))) < 1e-3);
});

test('a claimed difference: each of the four outcomes', () => {
  const rule = { direction: 'greater' as const, margin: 0.01 };
  assert.equal(judgeDifference([0.05, 0.06, 0.055], rule).outcome, 'reproduced');
  assert.equal(judgeDifference([-0.05, -0.06, -0.055], rule).outcome, 'refuted');
  assert.equal(judgeDifference([0.001, -0.001, 0.0005], rule).outcome, 'refuted', 'inside the equivalence band');
  assert.equal(judgeDifference([0.1, -0.05, 0.02], rule).outcome, 'inconclusive');
  assert.equal(judgeDifference([0.05, 0.06], rule).outcome, 'not tested', 'two seeds');
  assert.match(judgeDifference([0.05], rule).reason, /one seed: no verdict/);
  assert.equal(judgeDifference([], rule).outcome, 'not tested');
});

test('a claimed difference from a reference, in either direction (g > 2, g < 2)', () => {
  assert.equal(
    judgeDifference([2.5, 2.6, 2.55], { direction: 'greater', reference: 2, margin: 0.1 }).outcome,
    'reproduced',
  );
  assert.equal(judgeDifference([2.5, 2.6, 2.55], { direction: 'less', reference: 2, margin: 0.1 }).outcome, 'refuted');
  assert.equal(
    judgeDifference([1.5, 1.6, 1.55], { direction: 'less', reference: 2, margin: 0.1 }).outcome,
    'reproduced',
  );
  assert.equal(
    judgeDifference([2.02, 1.98, 2.0], { direction: 'greater', reference: 2, margin: 0.1 }).outcome,
    'refuted',
    'as fast as the width',
  );
});

test('a claimed value within a band (slope −½ ± 0.2): each of the four outcomes', () => {
  assert.equal(judgeWithin([-0.5, -0.48, -0.52], -0.5, 0.2).outcome, 'reproduced');
  assert.equal(judgeWithin([-0.9, -0.88, -0.92], -0.5, 0.2).outcome, 'refuted');
  assert.equal(judgeWithin([-0.3, -0.8, -0.5], -0.5, 0.2).outcome, 'inconclusive');
  assert.equal(judgeWithin([-0.5], -0.5, 0.2).outcome, 'not tested');
});
