// The nonlinear-advantage experiment end to end: the real pipeline.ts in its `smoke` preset, run
// by the real CLI against a temporary cache, writes the report; a second run is all cached; a new
// ω or start reruns only sparsify and what depends on it; the report renders in headless Chromium.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { chromium } from 'playwright-core';
import { REPO, statuses, type RunJson } from './helpers/project.ts';

const CHROMIUM = process.env.LINEA_CHROMIUM ?? '/usr/bin/chromium';

describe('the nonlinear-advantage experiment (smoke preset)', () => {
  let dir: string;
  const linea = async (args: string[]) => {
    const result = await execa(
      process.execPath,
      [
        '--single-threaded-gc',
        join(REPO, 'bin', 'linea.js'),
        ...args,
        '--preset',
        'smoke',
        '--cache-dir',
        join(dir, 'cache'),
        '--out',
        join(dir, 'results'),
        '--json',
      ],
      {
        cwd: REPO,
        reject: false,
        env: { CI: 'true' },
      },
    );
    if (result.exitCode !== 0) throw new Error(`linea ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
    return JSON.parse(result.stdout) as RunJson & { published: { instance: string; dir: string }[] };
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'linea-experiment-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every stage and publishes the report, results.json and the summary', async () => {
    const run = await linea(['run']);
    const byStage = new Map<string, string[]>();
    for (const s of run.stages) byStage.set(s.stage, [...(byStage.get(s.stage) ?? []), s.status]);
    assert.deepEqual([...byStage.keys()].sort(), [
      'baseline',
      'baseline-shape',
      'control',
      'frivolous',
      'frivolous-linearized',
      'kernel-drift',
      'linearity',
      'linearize',
      'path-length',
      'prepare-data',
      'pretrain',
      'report',
      'sparsify',
    ]);
    assert.equal(byStage.get('sparsify')!.length, 4, 'ω × start = 2 × 2 sparsified networks');
    assert.equal(byStage.get('frivolous')!.length, 2, 'frivolous-width ×1 and ×2');
    assert.equal(byStage.get('frivolous-linearized')!.length, 4, 'one per linearised network');
    assert.equal(byStage.get('kernel-drift')!.length, 4, 'one per sparsified run');
    assert.equal(byStage.get('linearity')!.length, 6, 'ntk-width × ntk-output = 2 × 3');
    assert.equal(byStage.get('control')!.length, 2, "the task gate's linear and D = 1 networks");
    // The width sweep's ×1 network is the main dense run: the same key, trained once.
    assert.equal(run.stages.filter((s) => s.stage === 'pretrain' && s.status === 'ran').length, 2);
    // ...and its row reports none of that training time as its own.
    assert.deepEqual(
      run.stages.filter((s) => s.stage === 'pretrain' && s.status === 'cached').map((s) => s.seconds),
      [0],
    );
    assert.ok(run.stages.every((s) => s.status !== 'failed'));
    assert.deepEqual(run.published, [{ instance: 'report', dir: join(dir, 'results') }]);
    for (const file of ['report.html', 'results.json', 'summary.md'])
      assert.ok(existsSync(join(dir, 'results', file)), file);
    assert.equal(readdirSync(join(dir, 'results', 'figures')).length, 12);
    const results = JSON.parse(readFileSync(join(dir, 'results', 'results.json'), 'utf8'));
    assert.equal(results.rows.length, 4);
    for (const r of results.rows) {
      assert.ok(r.apl >= 0 && r.apl <= 2 + 1e-9, `APL ${r.apl} of a 2-layer network`);
      assert.ok(r.accuracyLinearized > 0 && r.accuracyLinearized <= 1);
    }
    for (const l of results.linearized) assert.ok(l.folded.maxRelativeError <= 1e-4);
    // 7 nonlinear-advantage claims (2 of them the task gate), 4 frivolous, 1 knockout, 4 linearity.
    assert.equal(results.claims.length, 16);
    // One seed supports no verdict, whatever the numbers say.
    for (const c of results.claims) assert.equal(c.verdict, 'not tested', `${c.claim}: ${c.verdict}`);
    const summary = readFileSync(join(dir, 'results', 'summary.md'), 'utf8');
    assert.match(summary, /\| claim \| verdict \| evidence \|/);
    // Verdicts first: one table of every claim, which says that this run cannot judge.
    assert.ok(summary.indexOf('## Verdicts') < summary.indexOf('## Nonlinear advantage'));
    assert.match(
      summary,
      /This run cannot judge \(one seed; a verdict needs 3 paired seeds, as `linea run --preset claims`/,
    );
    // The shipped claims run's verdicts (docs/results/claims/verdicts.json) stand beside this run's.
    assert.match(summary, /Beside it, marked as such, the verdicts of the shipped claims run \(docs\/results\/claims/);
    assert.doesNotMatch(summary, new RegExp(REPO), 'the page names no path of this machine');
    const verdicts = JSON.parse(readFileSync(join(dir, 'results', 'verdicts.json'), 'utf8'));
    assert.equal(verdicts.verdicts.length, results.claims.length);
    assert.deepEqual(
      [...new Set(verdicts.verdicts.map((v: { paper: string }) => v.paper))],
      ['P1 nonlinear advantage', 'P2 frivolous units', 'P1 × P2 bridge', 'P3 transition to linearity'],
    );
    for (const section of [
      'Frivolous units against width',
      'Frivolous units of the linearised networks',
      'Transition to linearity',
      'Bridge',
    ])
      assert.ok(summary.includes(`## ${section}`), section);

    // Frivolous units: counts at both widths, normalised by f/F, and a growth factor per count.
    assert.deepEqual(
      results.frivolous.widths.map((w: { width: number }) => w.width),
      [1, 2],
    );
    for (const w of results.frivolous.widths) {
      assert.ok(w.threshold >= 0 && w.threshold <= 1 && w.redundantFraction > 0 && w.redundantFraction <= 1);
      assert.ok(Math.abs(w.counts.prunable + w.counts['non-prunable'] - w.width / 4) < 1e-12);
    }
    // g is computed over the width-sweep networks that trained (above chance + 5 points); a
    // network at chance is named in the section instead.
    const trained = results.frivolous.widths.filter((w: { accuracy: number }) => w.accuracy >= 0.1 + 0.05);
    if (trained.length >= 2)
      assert.deepEqual(
        results.frivolous.growth.map((g: { count: string }) => g.count),
        ['prunable', 'non-prunable', 'redundant', 'non-redundant'],
      );
    else {
      assert.deepEqual(results.frivolous.growth, []);
      assert.match(summary, /Left out of g: ×/);
    }
    for (const k of results.frivolousLinearized) {
      for (const knock of [k.knockNonlinear, k.knockLinear, k.knockNonlinearAtStart])
        assert.ok(knock.targeted >= 0 && knock.targeted <= 1 && knock.random.length === 3);
      assert.equal(k.knockNonlinear.units + k.knockLinear.units, k.units);
    }
    // Transition to linearity: with a linear output the Hessian norm at initialisation falls with width.
    const hessian = (variant: string, m: number) =>
      results.linearity.networks.find(
        (n: { output: string; bottleneck: number; width: number }) =>
          `${n.bottleneck ? 'bottleneck' : n.output}` === variant && n.width === m,
      ).hessian.initial;
    assert.ok(
      hessian('linear', 64) < hessian('linear', 16),
      `‖H‖ ${hessian('linear', 16)} at m = 16, ${hessian('linear', 64)} at m = 64`,
    );
    assert.equal(
      results.linearity.slopes.filter((s: { measure: string }) => s.measure === 'Hessian norm at initialisation')
        .length,
      3,
    );
    for (const k of results.kernelDrift.networks)
      assert.ok(k.kernelDrift > 0 && Number.isFinite(k.hessian.start) && Number.isFinite(k.hessian.end));
    assert.deepEqual(
      results.kernelDrift.bridge.map((b: { start: string }) => b.start),
      ['early', 'late'],
    );
    // The report states the settings the stages ran with (the smoke preset's probe counts), not the defaults.
    const html = readFileSync(join(dir, 'results', 'report.html'), 'utf8');
    assert.match(html, /power iteration as above, over 2 test images/);
    assert.match(html, /tangent kernel of logit 0 \(8 test images\)/);
  });

  it('a second run is all cached and republishes the report', async () => {
    rmSync(join(dir, 'results'), { recursive: true });
    const run = await linea(['run']);
    assert.ok(
      run.stages.every((s) => s.status === 'cached'),
      JSON.stringify(statuses(run)),
    );
    assert.ok(existsSync(join(dir, 'results', 'report.html')));
  });

  it('a wider NTK network reruns only its linearity instances and the report', async () => {
    const status = statuses(await linea(['run', '--ablate', 'ntk-width=16,64,128']));
    const ran = Object.entries(status)
      .filter(([, s]) => s === 'ran')
      .map(([id]) => id)
      .sort();
    assert.deepEqual(ran, [
      'linearity[ntk-width=128,ntk-output=bottleneck]',
      'linearity[ntk-width=128,ntk-output=linear]',
      'linearity[ntk-width=128,ntk-output=tanh]',
      'report',
    ]);
  });

  it('--set sparsify.omega and sparsify.start rerun sparsify and what follows, never the data or the dense run', async () => {
    const run = await linea(['run', '--set', 'sparsify.omega=0.03']);
    const status = statuses(run);
    assert.equal(status['prepare-data'], 'cached');
    assert.equal(status['pretrain'], 'cached');
    assert.deepEqual(
      Object.keys(status)
        .filter((id) => id.startsWith('sparsify'))
        .sort(),
      ['sparsify[start=early]', 'sparsify[start=late]'],
    );
    for (const id of ['sparsify[start=early]', 'linearize[start=early]', 'path-length[start=early]', 'report'])
      assert.equal(status[id], 'ran', id);
    const mid = statuses(await linea(['run', '--set', 'sparsify.start=mid', '--set', 'sparsify.omega=0.03']));
    assert.equal(mid['pretrain'], 'cached');
    assert.equal(mid['sparsify'], 'ran');
  });

  it('the report renders in headless Chromium: every figure is drawn and the console has no errors', async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set LINEA_CHROMIUM`,
    );
    await linea(['run']);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`file://${join(dir, 'results', 'report.html')}`);
      const figures = await page.$$eval('figure.plot', (els) =>
        els.map((el) => {
          const svg = el.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: el.id,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            marks: svg ? svg.querySelectorAll('path, rect, line, circle').length : 0,
            caption: el.querySelector('figcaption')?.textContent ?? '',
          };
        }),
      );
      const mainFigures = [
        'accuracy-vs-apl',
        'gap',
        'core-network',
        'layer-fractions',
        'training-curves',
        'baseline',
        'nonlinear-knockout',
        'kernel-drift',
      ];
      assert.deepEqual(
        figures.map((f) => f.id),
        [
          ...mainFigures.slice(0, 6),
          'frivolous-growth',
          'frivolous-agreement',
          'nonlinear-knockout',
          'ntk-hessian',
          'ntk-kernel',
          'kernel-drift',
        ],
      );
      for (const f of figures) {
        assert.ok(f.width > 100 && f.height > 100, `${f.id} is drawn at ${f.width}×${f.height}`);
        assert.ok(f.marks > 10, `${f.id} has ${f.marks} marks`);
        const facts = mainFigures.includes(f.id) ? ['seeds', 'ω', 'ε_lin', 'APL', 'backend'] : ['seeds', 'backend'];
        for (const fact of facts) assert.ok(f.caption.includes(fact), `${f.id}'s caption states ${fact}`);
      }
      const sections = await page.$$eval('section', (els) => els.map((el) => el.id));
      assert.deepEqual(sections, [
        'verdicts',
        'nonlinear-advantage',
        'frivolous',
        'frivolous-linearized',
        'linearity',
        'bridge',
      ]);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
