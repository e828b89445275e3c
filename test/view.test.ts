// `linea view` in real Chromium: the page shows the toy pipeline's graph, follows a run started
// in another process (the node turns running, its progress bar and loss curve move, it turns
// cached), explains a stale node, tabulates a stage's results; the server refuses paths outside
// the cache, writes, and (off loopback) requests without the token. Waits are on conditions, with
// bounds; no sleep is an assertion.
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { makeProject, type Project, type StatusJson } from './helpers/project.ts';
import { viewUrl } from './helpers/view.ts';

const CHROMIUM = process.env.LINEA_CHROMIUM ?? '/usr/bin/chromium';

/** Start `linea view` and return its URL once it prints it. */
async function startView(project: Project, args: string[] = []) {
  const child = project.spawn(['view', '--port', '0', ...args]);
  const url = await viewUrl(child);
  return { child, url };
}

/** A raw GET (no client-side normalisation of `..`), for the traversal checks. */
function rawGet(url: string, path: string, method = 'GET'): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('linea view', () => {
  let project: Project;
  let view: Awaited<ReturnType<typeof startView>>;
  let browser: Browser;
  let page: Page;
  const stateOf = (id: string) => page.getAttribute(`g.instance[data-id="${id}"]`, 'data-state');

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set LINEA_CHROMIUM`,
    );
    project = makeProject();
    await project.linea(['run', '--ablate', 'factor=2,3']);
    view = await startView(project);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.goto(view.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    view?.child.kill('SIGINT');
    await view?.child.catch(() => undefined);
    project.remove();
  });

  it('draws every planned instance in its state', async () => {
    const status = await project.json<StatusJson>(['status']);
    assert.equal(await page.locator('g.instance').count(), status.stages.length);
    for (const s of status.stages) assert.equal(await stateOf(s.id), s.state, s.id);
  });

  it('follows a run in another process: running, progress and curve, then cached', async () => {
    const run = project.spawn(['run', '--set', 'slow.steps=40', '--set', 'slow.stepMs=100']);
    await page.waitForSelector('g.instance[data-id="slow"][data-state="running"]', { timeout: 30_000 });
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLProgressElement>('.running[data-id="slow"] progress')?.value) > 0,
      undefined,
      { timeout: 30_000 },
    );
    await page.waitForSelector('[data-metric="loss"][data-points]', { timeout: 30_000 });
    const first = Number(await page.getAttribute('[data-metric="loss"]', 'data-points'));
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-metric="loss"]')?.getAttribute('data-points')) > n,
      first,
      { timeout: 30_000 },
    );
    assert.match((await page.textContent('#whole-text')) ?? '', /\d+\/\d+ done · 1 running/);
    await page.waitForSelector('g.instance[data-id="slow"][data-state="cached"]', { timeout: 60_000 });
    assert.equal((await run).exitCode, 0);
  });

  it("a stale node's panel names the param that changed", async () => {
    await page.fill('#set', 'source.n=7');
    await page.fill('#ablate', '');
    await page.click('#selection button');
    await page.waitForSelector('g.instance[data-id="source"][data-state="stale"]', { timeout: 30_000 });
    await page.click('g.instance[data-id="source"]');
    await page.waitForSelector('#panel .reasons li', { timeout: 30_000 });
    assert.match((await page.textContent('#panel .reasons')) ?? '', /params\.n 3 → 7/);
    assert.match((await page.textContent('#panel tr.overridden')) ?? '', /^n\s*7\s*3$/);
  });

  it('the results table has one row per instance, with its values', async () => {
    await page.fill('#set', '');
    await page.fill('#ablate', 'factor=2,3');
    await page.click('#selection button');
    await page.waitForSelector('g.instance[data-id="double[factor=3]"]', { timeout: 30_000 });
    await page.selectOption('#stage', 'double');
    await page.waitForSelector('tr[data-row="double[factor=3]"]', { timeout: 30_000 });
    const rows = await page.$$eval('#table tbody tr', (trs) =>
      trs.map((tr) => ({
        id: tr.getAttribute('data-row'),
        factor: tr.querySelector('td[data-column="factor"]')?.textContent,
        value: tr.querySelector('td[data-column="value"]')?.textContent,
      })),
    );
    // source.n defaults to 3 and double returns n × factor.
    assert.deepEqual(
      rows.sort((a, b) => a.id!.localeCompare(b.id!)),
      [
        { id: 'double[factor=2]', factor: '2', value: '6' },
        { id: 'double[factor=3]', factor: '3', value: '9' },
      ],
    );
    await page.click('th[data-sort="value"]');
    const sorted = await page.$$eval('#table tbody td[data-column="value"]', (tds) =>
      tds.map((td) => Number(td.textContent)),
    );
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => a - b),
    );
  });

  it('serves files inside the cache and results only, and nothing but reads', async () => {
    assert.equal(await rawGet(view.url, '/cache/..%2f..%2f..%2f..%2fetc%2fpasswd'), 403);
    assert.equal(await rawGet(view.url, '/results/..%2fpipeline.ts'), 403);
    symlinkSync('/etc', join(project.cacheDir, 'escape'));
    assert.equal(await rawGet(view.url, '/cache/escape/passwd'), 403);
    assert.equal(await rawGet(view.url, '/api/plan', 'POST'), 405);
    assert.equal(await rawGet(view.url, '/api/plan', 'DELETE'), 405);
  });

  it('off loopback, every request needs the printed token', async () => {
    const wide = await startView(project, ['--host', '0.0.0.0']);
    try {
      const token = new URL(wide.url).searchParams.get('token');
      assert.match(token ?? '', /^[0-9a-f]{32}$/);
      assert.equal(await rawGet(wide.url, '/api/plan'), 401);
      assert.equal(await rawGet(wide.url, '/'), 401);
      assert.equal(await rawGet(wide.url, `/api/plan?token=${'0'.repeat(32)}`), 401);
      assert.equal(await rawGet(wide.url, `/api/plan?token=${token}`), 200);
    } finally {
      wide.child.kill('SIGINT');
      await wide.child.catch(() => undefined);
    }
  });
});
