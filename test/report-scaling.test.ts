// The report's frivolous-unit and transition-to-linearity numbers: growth factors, log-log slopes,
// the knockout and bridge summaries, and the claims' verdicts, on synthetic sweeps whose answers
// are known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  FrivolousLinearizedValue,
  FrivolousValue,
  KernelDriftValue,
  LinearityValue,
} from '../stages/lib/artifacts.ts';
import {
  agreementPoints,
  bridge,
  bridgeOverSeeds,
  driftRows,
  growth,
  judgeFrivolousClaims,
  judgeKnockoutClaim,
  judgeLinearityClaims,
  knockoutRows,
  ntkPoints,
  ntkSlopes,
  widthPoints,
} from '../stages/lib/report/scaling.ts';

const widths = [0.25, 0.5, 1, 2, 4];

/** A width-sweep network whose p* and c̄ are given; counts are normalised by f/4. */
function frivolous(
  width: number,
  threshold: number,
  redundantFraction: number,
  seed = '0',
): { labels: Record<string, string>; value: FrivolousValue } {
  const share = width / 4;
  return {
    labels: { 'frivolous-width': String(width), seed },
    value: {
      width,
      widest: 4,
      params: 1000 * width,
      testAccuracy: 0.9,
      sites: ['a'],
      units: [16 * width],
      prunability: { levels: [0, 1], agreement: [[1, 0]], thresholds: [threshold], threshold },
      redundancy: [{ site: 'a', k: 1, n: 16, fraction: redundantFraction }],
      redundantFraction,
      settings: { threshold: 0.8, energy: 0.05, maxSamples: 50_000 },
      normalized: {
        prunable: threshold * share,
        nonPrunable: share - threshold * share,
        redundant: redundantFraction * share,
        nonRedundant: share - redundantFraction * share,
      },
    },
  };
}

test('g over a doubling sweep: a constant fraction grows like the width (g = 2), a rising one faster; one sweep per group', () => {
  // p* constant at 0.3: prunable ∝ f. c̄ rises ×1.5 per doubling (capped below 1): redundant grows 3× per doubling.
  const values = [
    ...widths.map((f, i) => frivolous(f, 0.3, 0.1 * 1.5 ** i)),
    ...widths.map((f) => frivolous(f, 0.3, 0.2, '1')),
  ];
  const g = growth(widthPoints(values));
  const of = (group: string, count: string) => g.find((x) => x.group === group && x.count === count)!.g;
  assert.ok(Math.abs(of('seed=0', 'prunable') - 2) < 1e-12);
  assert.ok(Math.abs(of('seed=0', 'redundant') - 3) < 1e-12);
  assert.ok(Math.abs(of('seed=1', 'redundant') - 2) < 1e-12);
  assert.ok(Math.abs(of('seed=1', 'prunable') - 2) < 1e-12);
});

test('frivolous claims over three seeds: reproduced, refuted, inconclusive, not tested', () => {
  const sweep = (seed: string, rise: number) =>
    widths.map((f, i) => frivolous(f, 0.3 * rise ** i, 0.1 * 1.5 ** i, seed));
  // p* rising ×1.25 per doubling: prunable g = 2.5 in every seed; c̄ rising ×1.5: redundant g = 3.
  const faster = judgeFrivolousClaims(
    growth(widthPoints(['0', '1', '2'].flatMap((seed, i) => sweep(seed, 1.24 + 0.01 * i)))),
  );
  // The rest of each layer then grows more slowly than the width: g < 2 for the non-prunable and non-redundant counts.
  assert.deepEqual(
    faster.map((c) => c.verdict),
    ['reproduced', 'reproduced', 'reproduced', 'reproduced'],
  );
  assert.match(faster[1]!.evidence, /over 3 seeds/);
  // p* constant: prunable g = 2 exactly, as fast as the width, so "faster" is refuted.
  const constant = judgeFrivolousClaims(growth(widthPoints(['0', '1', '2'].flatMap((seed) => sweep(seed, 1)))));
  assert.equal(constant[0]!.verdict, 'refuted');
  // Seeds that disagree: inconclusive.
  const mixed = judgeFrivolousClaims(growth(widthPoints([...sweep('0', 1.6), ...sweep('1', 0.9), ...sweep('2', 1.2)])));
  assert.equal(mixed[0]!.verdict, 'inconclusive');
  // One seed: no verdict.
  const one = judgeFrivolousClaims(growth(widthPoints(sweep('0', 1.25))));
  assert.equal(one[0]!.verdict, 'not tested');
  assert.match(one[0]!.evidence, /one seed: no verdict/);
  assert.deepEqual(
    judgeFrivolousClaims([]).map((c) => c.verdict),
    ['not tested', 'not tested', 'not tested', 'not tested'],
  );
});

test('knockout curves of two seeds at the same width stay in their own sweeps', () => {
  const points = agreementPoints([
    frivolous(1, 0.3, 0.2, '0'),
    frivolous(1, 0.3, 0.2, '1'),
    frivolous(2, 0.3, 0.2, '1'),
  ]);
  assert.deepEqual(
    points.map((p) => [p.group, p.width, p.level, p.agreement]),
    [
      ['seed=0', 1, 0, 1],
      ['seed=0', 1, 1, 0],
      ['seed=1', 1, 0, 1],
      ['seed=1', 1, 1, 0],
      ['seed=1', 2, 0, 1],
      ['seed=1', 2, 1, 0],
    ],
  );
});

function ntk(
  width: number,
  output: 'linear' | 'tanh',
  bottleneck: number,
  hessian: number,
  drift: number,
  seed = 0,
  trained = hessian,
): { labels: Record<string, string>; value: LinearityValue } {
  return {
    labels: { 'ntk-width': String(width), 'ntk-output': bottleneck ? 'bottleneck' : output, seed: String(seed) },
    value: {
      width,
      depth: 1,
      output,
      bottleneck,
      params: 11 * width,
      seed,
      backend: 'cpu',
      lr: 1,
      loss: { initial: 1, final: 0.1 },
      hessian: { initial: hessian, final: trained },
      kernelDrift: drift,
      linearizationGap: drift / 2,
      travel: 0.1,
    },
  };
}

test('log-log slopes with R², and the linearity claims: −½ for a linear output, ≈ 0 for tanh or a bottleneck', () => {
  const ms = [64, 256, 1024, 4096];
  const values = [0, 1, 2].flatMap((seed) => [
    ...ms.map((m) =>
      ntk(
        m,
        'linear',
        0,
        ((2 + 0.1 * seed) / Math.sqrt(m)) * m ** (0.01 * seed),
        (0.5 / Math.sqrt(m)) * m ** (0.01 * seed),
        seed,
      ),
    ),
    ...ms.map((m) => ntk(m, 'tanh', 0, 0.3, 0.2, seed)),
    ...ms.map((m, i) => ntk(m, 'linear', 2, 0.4 * (i % 2 ? 1.1 : 0.9), 0.3, seed)),
  ]);
  const slopes = ntkSlopes(ntkPoints(values));
  const fit = (variant: string, measure: string) =>
    slopes.find((s) => s.group === 'seed=0' && s.variant === variant && s.measure === measure)!;
  assert.ok(Math.abs(fit('linear output', 'Hessian norm at initialisation').slope + 0.5) < 1e-12);
  assert.ok(Math.abs(fit('linear output', 'kernel drift').r2 - 1) < 1e-12);
  assert.ok(Math.abs(fit('tanh output', 'Hessian norm at initialisation').slope) < 1e-12);
  assert.equal(fit('bottleneck 2', 'Hessian norm at initialisation').n, 4);
  assert.deepEqual(
    judgeLinearityClaims(slopes).map((c) => c.verdict),
    ['reproduced', 'reproduced', 'reproduced', 'reproduced'],
  );
  // A linear output whose Hessian does not fall is not the transition to linearity.
  const flat = ntkSlopes(
    ntkPoints([0, 1, 2].flatMap((seed) => ms.map((m) => ntk(m, 'linear', 0, 1 + 0.01 * seed, 1 / m, seed)))),
  );
  assert.deepEqual(
    judgeLinearityClaims(flat).map((c) => c.verdict),
    ['refuted', 'refuted', 'not tested', 'not tested'],
  );
  assert.equal(
    judgeLinearityClaims(
      ntkSlopes(ntkPoints(ms.map((m) => ntk(m, 'linear', 0, 2 / Math.sqrt(m), 0.5 / Math.sqrt(m))))),
    )[0]!.verdict,
    'not tested',
    'one seed',
  );
});

test('a tanh output judged after training too: a trained Hessian norm that falls as m^−0.34 refutes "keeps it from vanishing"', () => {
  const ms = [64, 256, 1024, 4096];
  const values = [0, 1, 2].flatMap((seed) =>
    ms.map((m) => ntk(m, 'tanh', 0, 0.3, 0.2, seed, (0.3 + 0.01 * seed) * m ** -0.34)),
  );
  const claims = judgeLinearityClaims(ntkSlopes(ntkPoints(values)));
  assert.equal(claims.find((c) => c.claim.includes('at initialisation'))!.verdict, 'reproduced');
  assert.equal(claims.find((c) => c.claim.includes('after training'))!.verdict, 'refuted');
});

function knockout(
  omega: number,
  nonlinear: number,
  targeted: number,
  randomMean: number,
  seed = 0,
): { labels: Record<string, string>; value: FrivolousLinearizedValue } {
  const k = { units: nonlinear, targeted, random: [randomMean], randomMean };
  return {
    labels: { omega: String(omega), start: 'late', seed: String(seed) },
    value: {
      omega,
      start: 'late',
      startEpoch: 8,
      nonlinear,
      units: 10,
      prunableThreshold: 0.2,
      redundantFraction: 0.4,
      knockNonlinear: k,
      knockLinear: k,
      knockNonlinearAtStart: k,
    },
  };
}

test('the nonlinear units are "non-frivolous" when knocking them out costs more agreement than random sets, over seeds', () => {
  const per = (seed: number, cost: number) => [
    knockout(0.1, 5, 0.3, 0.3 + cost, seed),
    knockout(0.2, 3, 0.2, 0.2 + cost, seed),
    knockout(0.01, 10, 0, 0, seed),
  ];
  const claim = judgeKnockoutClaim(knockoutRows([0, 1, 2].flatMap((seed) => per(seed, 0.2 + 0.01 * seed))));
  assert.equal(claim.verdict, 'reproduced');
  assert.match(claim.evidence, /over 6 partially linearised networks/);
  assert.equal(
    judgeKnockoutClaim(knockoutRows([0, 1, 2].flatMap((seed) => per(seed, -0.2 - 0.01 * seed)))).verdict,
    'refuted',
  );
  assert.equal(judgeKnockoutClaim(knockoutRows(per(0, 0.2))).verdict, 'not tested');
  assert.equal(judgeKnockoutClaim(knockoutRows([knockout(0.01, 10, 0, 0)])).verdict, 'not tested');
});

/** A kernel-drift value of a run of this start and ω; only the drift varies. */
const driftValue = (start: string, omega: number, kernelDrift: number): KernelDriftValue => ({
  omega,
  start,
  startEpoch: start === 'late' ? 8 : 0,
  hessian: { start: 1, end: 1 },
  kernelDrift,
  linearizationGap: 0.1,
  travel: 0.2,
  probes: { hessian: 4, kernel: 32 },
  epsilon: 1e-5,
});

test("the bridge: mean and median drift per start, beside the sweep's gap", () => {
  const drift = (
    start: string,
    omega: number,
    kernelDrift: number,
  ): { labels: Record<string, string>; value: KernelDriftValue } => ({
    labels: { omega: String(omega), start },
    value: driftValue(start, omega, kernelDrift),
  });
  const rows = bridge(
    driftRows([
      drift('late', 0.1, 1),
      drift('late', 0.2, 2),
      drift('late', 0.3, 30),
      drift('early', 0.1, 0.5),
      drift('early', 0.2, 0.7),
    ]),
    [{ group: 'default', sweep: 'default', seed: 0, versus: 'early', d: 1, gap: 0.02, late: 0.9, early: 0.88 }],
  );
  assert.deepEqual(
    rows.map((r) => [r.start, r.kernelDrift, r.kernelDriftMedian, r.gap]),
    [
      ['early', 0.6, 0.6, 0.02],
      ['late', 11, 2, 0.02],
    ],
  );
});

test('a width-sweep network at chance accuracy is left out of g', () => {
  const points = widthPoints(
    [frivolous(0.25, 0.3, 0.2), frivolous(0.5, 0.3, 0.2), frivolous(1, 0.3, 0.2)].map((f, i) =>
      i === 1 ? { ...f, value: { ...f.value, testAccuracy: 0.1 } } : f,
    ),
  );
  const g = growth(points, 0.1);
  assert.deepEqual(g.find((x) => x.count === 'prunable')!.widths, [0.25, 1]);
  assert.deepEqual(growth(points).find((x) => x.count === 'prunable')!.widths, [0.25, 0.5, 1]);
});

test('the bridge over seeds: per protocol, each seed’s median drift and its gap against late, with CIs', () => {
  const drift = (seed: number, protocol: string, omega: number, kernelDrift: number) => ({
    labels: { 'claims-sweep': `${protocol}@${omega}`, seed: String(seed) },
    value: driftValue(protocol === 'late' ? 'late' : 'early', omega, kernelDrift),
  });
  const values = [0, 1, 2].flatMap((seed) => [
    drift(seed, 'early', 0.1, 10 + seed),
    drift(seed, 'early', 0.2, 1000), // an outlier the median ignores
    drift(seed, 'early', 0.3, 12 + seed),
    drift(seed, 'early-short', 0.1, 3),
    drift(seed, 'late', 0.1, 0.5),
  ]);
  // The drift value cannot tell early from early-short: the protocol comes from the sparsified run.
  const protocol = (labels: Record<string, string>) => labels['claims-sweep']!.split('@')[0];
  const gap = (seed: number, versus: string, value: number) => ({
    group: `seed=${seed}`,
    sweep: 'default',
    seed,
    versus,
    d: 1,
    gap: value,
    late: 0.9,
    early: 0.9 - value,
  });
  const summary = bridgeOverSeeds(
    driftRows(values, protocol),
    [0, 1, 2].flatMap((s) => [gap(s, 'early', -0.02 * (s + 1)), gap(s, 'early-short', 0.01)]),
  );
  assert.deepEqual(
    summary.map((b) => [b.sweep, b.start, b.networks, b.kernelDrift.values, b.gap?.values]),
    [
      ['default', 'early', 9, [12, 13, 14], [-0.02, -0.04, -0.06]],
      ['default', 'early-short', 3, [3, 3, 3], [0.01, 0.01, 0.01]],
      ['default', 'late', 3, [0.5, 0.5, 0.5], undefined],
    ],
  );
  assert.ok(summary[0]!.kernelDrift.lo < 13 && summary[0]!.kernelDrift.hi > 13);
});
