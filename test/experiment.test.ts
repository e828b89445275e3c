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
    const result = await execa(process.execPath, ['--single-threaded-gc', join(REPO, 'bin', 'linea.js'), ...args, '--preset', 'smoke', '--cache-dir', join(dir, 'cache'), '--out', join(dir, 'results'), '--json'], {
      cwd: REPO,
      reject: false,
      env: { CI: 'true' },
    });
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
    assert.deepEqual([...byStage.keys()].sort(), ['baseline', 'baseline-shape', 'linearize', 'path-length', 'prepare-data', 'pretrain', 'report', 'sparsify']);
    assert.equal(byStage.get('sparsify')!.length, 4, 'ω × start = 2 × 2 sparsified networks');
    assert.ok(run.stages.every((s) => s.status !== 'failed'));
    assert.deepEqual(run.published, [{ instance: 'report', dir: join(dir, 'results') }]);
    for (const file of ['report.html', 'results.json', 'summary.md']) assert.ok(existsSync(join(dir, 'results', file)), file);
    assert.equal(readdirSync(join(dir, 'results', 'figures')).length, 6);
    const results = JSON.parse(readFileSync(join(dir, 'results', 'results.json'), 'utf8'));
    assert.equal(results.rows.length, 4);
    for (const r of results.rows) {
      assert.ok(r.apl >= 0 && r.apl <= 2 + 1e-9, `APL ${r.apl} of a 2-layer network`);
      assert.ok(r.accuracyLinearized > 0 && r.accuracyLinearized <= 1);
    }
    for (const l of results.linearized) assert.ok(l.folded.maxRelativeError <= 1e-4);
    assert.equal(results.claims.length, 5);
    assert.match(readFileSync(join(dir, 'results', 'summary.md'), 'utf8'), /\| claim \| verdict \| evidence \|/);
  });

  it('a second run is all cached and republishes the report', async () => {
    rmSync(join(dir, 'results'), { recursive: true });
    const run = await linea(['run']);
    assert.ok(run.stages.every((s) => s.status === 'cached'), JSON.stringify(statuses(run)));
    assert.ok(existsSync(join(dir, 'results', 'report.html')));
  });

  it('--set sparsify.omega and sparsify.start rerun sparsify and what follows, never the data or the dense run', async () => {
    const run = await linea(['run', '--set', 'sparsify.omega=0.03']);
    const status = statuses(run);
    assert.equal(status['prepare-data'], 'cached');
    assert.equal(status['pretrain'], 'cached');
    assert.deepEqual(Object.keys(status).filter((id) => id.startsWith('sparsify')).sort(), ['sparsify[start=early]', 'sparsify[start=late]']);
    for (const id of ['sparsify[start=early]', 'linearize[start=early]', 'path-length[start=early]', 'report']) assert.equal(status[id], 'ran', id);
    const mid = statuses(await linea(['run', '--set', 'sparsify.start=mid', '--set', 'sparsify.omega=0.03']));
    assert.equal(mid['pretrain'], 'cached');
    assert.equal(mid['sparsify'], 'ran');
  });

  it('the report renders in headless Chromium: every figure is drawn and the console has no errors', async () => {
    assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does) or set LINEA_CHROMIUM`);
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
          return { id: el.id, width: box?.width ?? 0, height: box?.height ?? 0, marks: svg ? svg.querySelectorAll('path, rect, line, circle').length : 0, caption: el.querySelector('figcaption')?.textContent ?? '' };
        }),
      );
      assert.deepEqual(figures.map((f) => f.id), ['accuracy-vs-apl', 'gap', 'core-network', 'layer-fractions', 'training-curves', 'baseline']);
      for (const f of figures) {
        assert.ok(f.width > 100 && f.height > 100, `${f.id} is drawn at ${f.width}×${f.height}`);
        assert.ok(f.marks > 10, `${f.id} has ${f.marks} marks`);
        for (const fact of ['seeds', 'ω', 'ε_lin', 'APL', 'backend']) assert.ok(f.caption.includes(fact), `${f.id}'s caption states ${fact}`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
