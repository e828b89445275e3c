// The report's numbers: the early/late gap at matched APL and the claims' verdicts follow the
// stated rules on synthetic sweeps whose answers are known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracyAt, gaps, judgeClaims, type Row } from '../stages/lib/report/rows.ts';

function row(start: string, omega: number, apl: number, accuracy: number, extra: Partial<Row> = {}): Row {
  return {
    labels: { omega: String(omega), start },
    group: 'default',
    omega,
    start,
    startEpoch: start === 'late' ? 8 : 0,
    apl,
    aplUnnormalized: apl,
    nonlinear: Math.round(apl * 10),
    units: 40,
    effectiveWidth: 1,
    accuracySparse: accuracy,
    accuracyLinearized: accuracy,
    params: 1000,
    backend: 'cpu',
    seed: 0,
    ...extra,
  };
}

test('accuracy at an APL is interpolated linearly between the sweep points and undefined outside them', () => {
  const points = [{ apl: 1, accuracy: 0.5 }, { apl: 3, accuracy: 0.9 }, { apl: 2, accuracy: 0.8 }];
  assert.equal(accuracyAt(points, 2), 0.8);
  assert.ok(Math.abs(accuracyAt(points, 1.5)! - 0.65) < 1e-12);
  assert.ok(Math.abs(accuracyAt(points, 2.5)! - 0.85) < 1e-12);
  assert.equal(accuracyAt(points, 0.5), undefined);
  assert.equal(accuracyAt(points, 3.5), undefined);
});

test('Δ(d) is late minus early on the overlap of the two sweeps', () => {
  const rows = [row('late', 1, 1, 0.8), row('late', 2, 3, 0.9), row('early', 1, 2, 0.6), row('early', 2, 4, 0.7)];
  const points = gaps(rows, 0.5);
  assert.deepEqual(points.map((p) => p.d), [2, 2.5, 3]);
  // late at 2: 0.85; early at 2: 0.6 → 0.25; at 3: 0.9 − 0.65 = 0.25.
  for (const p of points) assert.ok(Math.abs(p.gap - 0.25) < 1e-9, `Δ(${p.d}) = ${p.gap}`);
});

test('a sweep that holds its accuracy to half its depth and then collapses reproduces the decay claim; a flat one does not', () => {
  const decaying = [row('late', 1e-3, 4, 0.9), row('late', 1e-2, 2, 0.89), row('late', 3e-2, 1, 0.85), row('late', 1e-1, 0.1, 0.4)];
  assert.equal(judgeClaims(decaying, [])[0]!.verdict, 'reproduced');
  const flat = decaying.map((r) => ({ ...r, accuracyLinearized: 0.9 }));
  assert.equal(judgeClaims(flat, [])[0]!.verdict, 'not reproduced');
  assert.equal(judgeClaims(decaying.slice(0, 2), [])[0]!.verdict, 'not tested');
});

test('late-beats-early, baseline and middle-concentration claims follow their rules', () => {
  const late = [row('late', 1, 1, 0.8, { baselineAccuracy: 0.7 }), row('late', 2, 3, 0.9, { baselineAccuracy: 0.95 })];
  const early = [row('early', 1, 1, 0.7, { baselineAccuracy: 0.6 }), row('early', 2, 3, 0.8, { baselineAccuracy: 0.6 })];
  const claims = judgeClaims([...late, ...early], [
    { group: 'default', omega: 1, start: 'late', fractions: [0.1, 0.8, 0.9, 0.2] },
    { group: 'default', omega: 2, start: 'late', fractions: [1, 1, 1, 1] },
  ]);
  const verdict = (name: string) => claims.find((c) => c.claim.includes(name))!.verdict;
  assert.equal(verdict('late beats early'), 'reproduced');
  assert.equal(verdict('hard task'), 'not tested');
  assert.equal(verdict('baseline'), 'reproduced', '3 of 4 beat their baseline');
  assert.equal(verdict('middle'), 'reproduced', 'the fully nonlinear profile does not count; the partial one peaks in the middle');
  const reversed = judgeClaims(
    [...late, ...early].map((r) => ({ ...r, accuracyLinearized: r.start === 'early' ? r.accuracyLinearized + 0.2 : r.accuracyLinearized })),
    [{ group: 'default', omega: 1, start: 'late', fractions: [0.9, 0.1, 0.1, 0.8] }],
  );
  assert.equal(reversed.find((c) => c.claim.includes('late beats early'))!.verdict, 'not reproduced');
  assert.equal(reversed.find((c) => c.claim.includes('middle'))!.verdict, 'not reproduced');
});
