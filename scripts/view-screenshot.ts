/**
 * The README's picture of `linea view`: the real page during a real run of this repository's
 * default pipeline. Starts `linea view`, then `linea run` (whatever is not cached runs; with
 * `--attach`, none: the page follows a run already going), waits until sparsify instances are
 * training and their penalty curves have a few epochs, opens the running instance's panel, and
 * writes a PNG of the window. The run is then left to finish (`--stop` interrupts it instead).
 *
 *   node --import tsx scripts/view-screenshot.ts [--out docs/view.png] [--attach] [--stop] [-- <run flags>]
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { viewUrl } from '../test/helpers/view.ts';

const REPO = resolve(import.meta.dirname, '..');
const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/view.png' },
    attach: { type: 'boolean', default: false },
    stop: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const linea = (args: string[]) =>
  spawn(process.execPath, ['--single-threaded-gc', join(REPO, 'bin', 'linea.js'), ...args], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

const view = linea(['view', '--port', '0']);
const url = await viewUrl(view);
const run = values.attach ? undefined : linea(['run', ...positionals]);
run?.stderr.resume();
const browser = await chromium.launch({
  executablePath: process.env.LINEA_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1250 }, deviceScaleFactor: 1 });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]');
  // Mid-run: a sparsify instance training, and curves with a few epochs on them.
  await page.waitForSelector('g.instance[data-state="running"][data-id^="sparsify"]', { timeout: 3_600_000 });
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-metric]')].some((c) => Number(c.getAttribute('data-points')) >= 6),
    undefined,
    { timeout: 3_600_000 },
  );
  const running = await page.getAttribute('g.instance[data-state="running"][data-id^="sparsify"]', 'data-id');
  await page.click(`g.instance[data-id="${running}"]`);
  await page.waitForSelector('#panel h2');
  await page.selectOption('#stage', 'sparsify').catch(() => undefined);
  await page.waitForTimeout(1500); // let the charts finish drawing: a picture, not an assertion
  await page.screenshot({ path: resolve(REPO, values.out!) });
  process.stdout.write(`wrote ${values.out} (${running} running)\n`);
} finally {
  await browser.close();
  view.kill('SIGINT');
  if (values.stop) run?.kill('SIGINT');
}
if (run) await new Promise((done) => run.on('exit', done));
