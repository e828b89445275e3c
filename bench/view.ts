/**
 * `linea view` at scale, in real Chromium: a 1,000-instance pipeline (the toy's stages, `double`
 * swept over 499 factors and `sum` with it), timed from navigation until the graph is drawn and
 * until a stage's 499-row results table is drawn; and the delay from a journal line being written
 * to the page showing it (an instance turning running). Each sample is printed beside the median.
 * No peer runs here: the targets are the issue's (graph and table under 2 s, live updates within
 * 1 s), on this machine.
 *
 *   node --import tsx bench/view.ts [--samples 5]
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { makeProject } from '../test/helpers/project.ts';
import { viewUrl } from '../test/helpers/view.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '5' } } });
const samples = Number(values.samples);
const CHROMIUM = process.env.LINEA_CHROMIUM ?? '/usr/bin/chromium';
const FACTORS = Array.from({ length: 499 }, (_, i) => i + 1);

const project = makeProject();
// The toy pipeline with its factor axis swept over 499 values by default: 1,001 instances.
project.edit('pipeline.ts', (text) =>
  text.replace(
    "factor: axis('double.factor', [2, 3, 4]),",
    `factor: axis('double.factor', ${JSON.stringify(FACTORS)}, { default: ${JSON.stringify(FACTORS.map(String))} }),`,
  ),
);
const view = project.spawn(['view', '--port', '0']);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
try {
  const url = await viewUrl(view);
  const graph: number[] = [];
  const table: number[] = [];
  const live: number[] = [];
  let instances = 0;
  for (let i = 0; i < samples; i++) {
    const page = await browser.newPage();
    const start = performance.now();
    await page.goto(url);
    await page.waitForSelector('g.instance[data-id="sum[factor=499]"]', { timeout: 60_000 });
    graph.push(performance.now() - start);
    instances = await page.locator('g.instance').count();
    await page.waitForSelector('body[data-ready="1"]');
    const before = performance.now();
    await page.selectOption('#stage', 'double');
    await page.waitForFunction(() => document.querySelectorAll('#table tbody tr').length === 499, undefined, {
      timeout: 60_000,
    });
    table.push(performance.now() - before);
    // A journal line as a run writes it; the page must recolour the instance.
    const events = join(project.cacheDir, 'events');
    mkdirSync(events, { recursive: true });
    const file = join(events, `bench-${i}-host-1.jsonl`);
    const id = `double[factor=${i + 1}]`;
    writeFileSync(file, '');
    const written = Date.now();
    appendFileSync(file, `${JSON.stringify({ e: 'started', t: written, run: `bench-${i}`, id })}\n`);
    await page.waitForSelector(`g.instance[data-id="${id}"][data-state="running"]`, { timeout: 30_000 });
    live.push(Date.now() - written);
    await page.close();
  }
  const show = (name: string, xs: number[]) =>
    `| ${name} | ${xs.map((x) => x.toFixed(0)).join(', ')} | **${median(xs).toFixed(0)}** |`;
  process.stdout.write(
    `${instances} instances, ${samples} samples each (ms)\n\n| measure | samples | median |\n|---|---|---|\n${[
      show('page load to graph drawn', graph),
      show('results table of 499 rows drawn', table),
      show('journal line written to instance recoloured', live),
    ].join('\n')}\n`,
  );
} finally {
  await browser.close();
  view.kill('SIGINT');
  await view.catch(() => undefined);
  project.remove();
}
