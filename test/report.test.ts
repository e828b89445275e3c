// The report's numbers and verdicts: the early/late gap at matched APL, the task gate, and every
// claim's four outcomes (reproduced, refuted, inconclusive, not tested) on synthetic sweeps over
// paired seeds whose answers are known, written before any real run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracyAt,
  gaps,
  groupOf,
  judgeClaims,
  judgeDifficulty,
  taskGate,
  taskOf,
  type Gate,
  type Row,
} from '../stages/lib/report/rows.ts';

function row(start: string, omega: number, apl: number, accuracy: number, extra: Partial<Row> = {}): Row {
  const seed = extra.seed ?? 0;
  return {
    labels: { omega: String(omega), start, seed: String(seed) },
    group: `seed=${seed}`,
    sweep: 'default',
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
    seed,
    sourceLayers: 6,
    chance: 0.25,
    ...extra,
  };
}

/** An open gate: the claims are judged. */
const open: Gate = { open: true, claims: [], seeds: [] };
const verdictOf = (claims: readonly { claim: string; verdict: string }[], name: string) =>
  claims.find((c) => c.claim.includes(name))!.verdict;

/** Late and early sweeps over APL 1…5 for each seed, late ahead of early by `gap(seed)`. */
function sweeps(
  gap: (seed: number) => number,
  seeds = [0, 1, 2],
  extra: (seed: number) => Partial<Row> = () => ({}),
): Row[] {
  return seeds.flatMap((seed) =>
    [1, 2, 3, 4, 5].flatMap((apl, i) => [
      row('late', i, apl, 0.7 + 0.03 * apl, { seed, ...extra(seed) }),
      row('early', i, apl + 0.1, 0.7 + 0.03 * (apl + 0.1) - gap(seed), { seed, ...extra(seed) }),
    ]),
  );
}

test('accuracy at an APL is interpolated linearly between the sweep points and undefined outside them', () => {
  const points = [
    { apl: 1, accuracy: 0.5 },
    { apl: 3, accuracy: 0.9 },
    { apl: 2, accuracy: 0.8 },
  ];
  assert.equal(accuracyAt(points, 2), 0.8);
  assert.ok(Math.abs(accuracyAt(points, 1.5)! - 0.65) < 1e-12);
  assert.ok(Math.abs(accuracyAt(points, 2.5)! - 0.85) < 1e-12);
  assert.equal(accuracyAt(points, 0.5), undefined);
  assert.equal(accuracyAt(points, 3.5), undefined);
});

test('Δ(d) is late minus early on the overlap of the two sweeps, per seed and per early protocol', () => {
  const rows = [
    row('late', 1, 1, 0.8),
    row('late', 2, 3, 0.9),
    row('early', 1, 2, 0.6),
    row('early', 2, 4, 0.7),
    row('early-short', 1, 1, 0.7),
    row('early-short', 2, 3, 0.8),
  ];
  const early = gaps(rows, 0.5).filter((p) => p.versus === 'early');
  assert.deepEqual(
    early.map((p) => p.d),
    [2, 2.5, 3],
  );
  // late at 2: 0.85; early at 2: 0.6 → 0.25; at 3: 0.9 − 0.65 = 0.25.
  for (const p of early) assert.ok(Math.abs(p.gap - 0.25) < 1e-9, `Δ(${p.d}) = ${p.gap}`);
  assert.ok(
    gaps(rows, 0.5)
      .filter((p) => p.versus === 'early-short')
      .every((p) => Math.abs(p.gap - 0.1) < 1e-9),
  );
});

test('late beats early: reproduced, refuted, inconclusive and not tested on synthetic sweeps', () => {
  const claim = 'late beats early at';
  assert.equal(
    verdictOf(
      judgeClaims(
        sweeps(() => 0.05),
        [],
        open,
      ),
      claim,
    ),
    'reproduced',
    'a 5-point gap in every seed',
  );
  assert.equal(
    verdictOf(
      judgeClaims(
        sweeps((s) => 0.001 * (s - 1)),
        [],
        open,
      ),
      claim,
    ),
    'refuted',
    'a gap within ±1 point',
  );
  assert.equal(
    verdictOf(
      judgeClaims(
        sweeps(() => -0.05),
        [],
        open,
      ),
      claim,
    ),
    'refuted',
    'early ahead',
  );
  assert.equal(
    verdictOf(
      judgeClaims(
        sweeps((s) => [0.12, -0.04, 0.02][s]!),
        [],
        open,
      ),
      claim,
    ),
    'inconclusive',
    'seeds disagree',
  );
  const one = judgeClaims(
    sweeps(() => 0.05, [0]),
    [],
    open,
  ).find((c) => c.claim.includes(claim))!;
  assert.equal(one.verdict, 'not tested');
  assert.match(one.evidence, /one seed: no verdict/);
});

test('late beats early is "not tested", not "not reproduced", when no late point lies in the early range', () => {
  const rows = [0, 1, 2].flatMap((seed) => [
    row('late', 1, 5, 0.9, { seed }),
    row('late', 2, 6, 0.9, { seed }),
    row('early', 1, 1, 0.7, { seed }),
    row('early', 2, 2, 0.7, { seed }),
  ]);
  assert.equal(verdictOf(judgeClaims(rows, [], open), 'late beats early'), 'not tested');
});

test('grid points at chance accuracy never make late beat early (10 % vs 8.5 % on 10 classes)', () => {
  const rows = [0, 1, 2].flatMap((seed) =>
    [0.5, 1, 1.5, 2].flatMap((apl, i) => [
      row('late', i, apl, 0.1, { seed, chance: 0.1 }),
      row('early', i, apl, 0.085, { seed, chance: 0.1 }),
    ]),
  );
  assert.equal(gaps(rows).length, 0);
  assert.equal(verdictOf(judgeClaims(rows, [], open), 'late beats early'), 'not tested');
});

test('a closed task gate marks the advantage claims "not testable on this task"', () => {
  const gate = taskGate(
    [0, 1, 2].map((seed) => ({ sweep: 'default', seed, accuracy: 0.8 })),
    [0, 1, 2].flatMap((seed) => [
      { sweep: 'default', seed, network: 'linear' as const, depth: 0, accuracy: 0.79 },
      { sweep: 'default', seed, network: 'plain' as const, depth: 1, accuracy: 0.7 },
    ]),
  );
  assert.equal(gate.open, false);
  assert.equal(verdictOf(gate.claims, 'made linear'), 'refuted');
  assert.equal(verdictOf(gate.claims, 'D = 1'), 'reproduced');
  const claims = judgeClaims(
    sweeps(() => 0.05),
    [],
    gate,
  );
  const late = claims.find((c) => c.claim.includes('late beats early'))!;
  assert.equal(late.verdict, 'not tested');
  assert.match(late.evidence, /not testable on this task/);
  const passed = taskGate(
    [0, 1, 2].map((seed) => ({ sweep: 'default', seed, accuracy: 0.8 + 0.01 * seed })),
    [0, 1, 2].flatMap((seed) => [
      { sweep: 'default', seed, network: 'linear' as const, depth: 0, accuracy: 0.6 },
      { sweep: 'default', seed, network: 'plain' as const, depth: 1, accuracy: 0.7 },
    ]),
  );
  assert.equal(passed.open, true);
  assert.equal(
    taskGate(
      [{ sweep: 'default', seed: 0, accuracy: 0.8 }],
      [{ sweep: 'default', seed: 0, network: 'linear', depth: 0, accuracy: 0.3 }],
    ).open,
    false,
    'one seed opens no gate',
  );
});

test('the baseline claim ignores baselines as deep as the source network (the source retrained)', () => {
  const rows = [0, 1, 2].flatMap((seed) => [
    row('late', 1, 2, 0.8, { seed, baselineDepth: 2, baselineAccuracy: 0.7 + 0.005 * seed }),
    row('late', 2, 6, 0.9, { seed, baselineDepth: 6, baselineAccuracy: 0.99 }),
  ]);
  assert.equal(verdictOf(judgeClaims(rows, [], open), 'baseline'), 'reproduced');
  const onlySourceDepth = rows.filter((r) => r.baselineDepth === 6);
  assert.equal(verdictOf(judgeClaims(onlySourceDepth, [], open), 'baseline'), 'not tested');
  const worse = rows.map((r) => ({ ...r, baselineAccuracy: r.baselineDepth === 2 ? 0.9 : r.baselineAccuracy }));
  assert.equal(verdictOf(judgeClaims(worse, [], open), 'baseline'), 'refuted');
});

test('decay then collapse, and middle concentration, over seeds', () => {
  const decaying = [0, 1, 2].flatMap((seed) => [
    row('late', 1e-3, 4, 0.9, { seed }),
    row('late', 1e-2, 2, 0.895 - 0.002 * seed, { seed }),
    row('late', 3e-2, 1, 0.85, { seed }),
    row('late', 1e-1, 0.1, 0.4 + 0.01 * seed, { seed }),
  ]);
  assert.equal(verdictOf(judgeClaims(decaying, [], open), 'decays slowly'), 'reproduced');
  const flat = decaying.map((r) => ({ ...r, accuracyLinearized: 0.9 }));
  assert.equal(verdictOf(judgeClaims(flat, [], open), 'decays slowly'), 'refuted');
  assert.equal(
    verdictOf(
      judgeClaims(
        decaying.filter((r) => r.omega < 3e-2),
        [],
        open,
      ),
      'decays slowly',
    ),
    'not tested',
    'fewer than 3 grid points per seed',
  );
  const layers = (middle: number) =>
    [0, 1, 2].map((seed) => ({
      group: `seed=${seed}`,
      seed,
      omega: 1,
      start: 'late',
      fractions: [0.1, middle + 0.01 * seed, middle, 0.2],
    }));
  assert.equal(verdictOf(judgeClaims(decaying, layers(0.8), open), 'middle'), 'reproduced');
  assert.equal(verdictOf(judgeClaims(decaying, layers(0.05), open), 'middle'), 'refuted');
  assert.equal(verdictOf(judgeClaims(decaying, layers(0.8).slice(0, 1), open), 'middle'), 'not tested');
});

test('rows of a (protocol, ω) sweep axis form one sweep per seed, so Δ(d) is computed across them', () => {
  const rows = [0, 1, 2].flatMap((seed) =>
    [1, 2, 3, 4].flatMap((apl, i) => [
      row('late', i, apl, 0.8, {
        seed,
        labels: { 'claims-sweep': `late@${i}`, seed: String(seed) },
        group: groupOf({ 'claims-sweep': `late@${i}`, seed: String(seed) }),
      }),
      row('early', i, apl, 0.7, {
        seed,
        labels: { 'claims-sweep': `early@${i}`, seed: String(seed) },
        group: groupOf({ 'claims-sweep': `early@${i}`, seed: String(seed) }),
      }),
    ]),
  );
  assert.equal(new Set(rows.map((r) => r.group)).size, 3, 'one group per seed');
  assert.ok(gaps(rows).length > 0);
});

test('hard against easy: each (hard, easy) pair of one family is judged on its own; the hard task needs its gate', () => {
  /** Late − early gap per task: rows of sweep `task=<name>` for three seeds. */
  const task = (name: string, gap: (seed: number) => number) =>
    sweeps(gap, [0, 1, 2], (seed) => ({
      sweep: `task=${name}`,
      group: `seed=${seed}, task=${name}`,
      labels: { seed: String(seed), task: name },
    }));
  const pairs = [
    { hard: 'rhm-3', easy: 'rhm-1' },
    { hard: 'hard', easy: 'easy' },
  ];
  const rows = [...task('rhm-3', (s) => 0.06 + 0.005 * s), ...task('rhm-1', () => 0)];
  const judged = judgeDifficulty(rows, pairs, new Map([['task=rhm-3', open]]));
  assert.equal(judged.length, 1, 'only the pair present in the run');
  assert.equal(judged[0]!.verdict, 'reproduced');
  assert.equal(judged[0]!.task, 'task=rhm-3 vs task=rhm-1');
  assert.match(judged[0]!.effect!, /^6\.50 pt \[/);
  // The same gap on both tasks: the claim is refuted (within ±1 point).
  const same = [...task('rhm-3', () => 0.03), ...task('rhm-1', (s) => 0.03 + 0.001 * (s - 1))];
  assert.equal(judgeDifficulty(same, pairs, new Map())[0]!.verdict, 'refuted');
  // A closed gate on the hard task: not testable, whatever the gaps.
  const closed: Gate = {
    open: false,
    claims: [{ claim: 'the dense network beats D = 2', verdict: 'refuted', evidence: '' }],
    seeds: [],
  };
  const notTestable = judgeDifficulty(rows, pairs, new Map([['task=rhm-3', closed]]))[0]!;
  assert.equal(notTestable.verdict, 'not tested');
  assert.match(notTestable.evidence, /the hard task's gate is not passed \(the dense network beats D = 2: refuted\)/);
  // No partner in the run: one "not tested" that names the flags to add.
  const alone = judgeDifficulty(
    task('rhm-3', () => 0.05),
    pairs,
    new Map(),
  );
  assert.equal(alone.length, 1);
  assert.equal(alone[0]!.verdict, 'not tested');
  assert.match(alone[0]!.evidence, /task=rhm-3,rhm-1 or task=hard,easy/);
  assert.equal(taskOf('arch=resnet, task=rhm-3'), 'rhm-3');
});
