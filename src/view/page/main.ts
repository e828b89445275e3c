/**
 * The page of `linea view`. It asks the server for the plan of a selection (what `linea status`
 * says), draws the graph, and follows the runs' journals over server-sent events: instances turn
 * queued, running and cached as the events arrive, progress bars and metric curves move, the
 * open instance's log grows. Nothing here writes: the page can look, not act.
 */
import { formatDuration, formatStanding, standing } from '../../engine/view/eta.ts';
import { curveSpec, draw, scatterSpec } from './charts.ts';
import { esc, renderGraph, setInstanceState } from './graph.ts';
import { STYLE } from './style.ts';
import type { InstanceJson, InstanceSummary, Json, JournalEvent, PlanJson, ResultsJson } from './types.ts';

interface LiveRun {
  readonly instances: Map<string, string>;
  readonly finished: Map<string, number>;
  readonly running: Map<string, { since: number; fraction?: number; message?: string }>;
  estimates: Record<string, number>;
  readonly startedAt: number;
}

const state = {
  plan: undefined as PlanJson | undefined,
  /** The plan's instances by id. */
  planned: new Map<string, InstanceSummary>(),
  /** Live states from the journals, over the plan's: queued, running, cached, failed. */
  live: new Map<string, string>(),
  runs: new Map<string, LiveRun>(),
  metrics: new Map<string, Map<string, [number, number][]>>(),
  logs: new Map<string, string[]>(),
  selected: undefined as string | undefined,
  resultsStage: undefined as string | undefined,
};

const $ = <T extends Element = HTMLElement>(selector: string) => document.querySelector(selector) as T;

function selectionQuery(): URLSearchParams {
  const query = new URLSearchParams();
  const preset = $<HTMLSelectElement>('#preset').value;
  if (preset) query.set('preset', preset);
  for (const name of ['set', 'ablate', 'only'] as const)
    for (const word of $<HTMLInputElement>(`#${name}`).value.split(/\s+/).filter(Boolean)) query.append(name, word);
  return query;
}

async function getJson<T>(path: string, extra: Record<string, string> = {}): Promise<T> {
  const query = selectionQuery();
  for (const [k, v] of Object.entries(extra)) query.set(k, v);
  const response = await fetch(`${path}?${query}`);
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? response.statusText);
  return body;
}

function stateOf(inst: InstanceSummary): string {
  return state.live.get(inst.id) ?? inst.state;
}

async function loadPlan(): Promise<void> {
  const message = $('#message');
  try {
    const plan = await getJson<PlanJson>('/api/plan');
    message.textContent = '';
    state.plan = plan;
    state.planned = new Map(plan.instances.map((i) => [i.id, i]));
    if (!$<HTMLSelectElement>('#preset').options.length) {
      $('#preset').innerHTML = ['', ...plan.presets]
        .map((p) => `<option value="${esc(p)}">${p ? esc(p) : '(no preset)'}</option>`)
        .join('');
      $('#axes').textContent = plan.axes.map((a) => `${a.name}: ${a.values.join(', ')}`).join(' · ');
    }
    $('#title').textContent = `linea view · ${plan.pipeline}`;
    drawGraph();
    fillStages();
    counts();
    if (state.selected) await showInstance(state.selected);
    if (state.resultsStage) await showResults();
  } catch (error) {
    message.textContent = (error as Error).message;
  }
}

function drawGraph(): void {
  if (!state.plan) return;
  $('#graph').innerHTML = renderGraph(state.plan, stateOf);
}

function counts(): void {
  if (!state.plan) return;
  const tally = new Map<string, number>();
  for (const inst of state.plan.instances) tally.set(stateOf(inst), (tally.get(stateOf(inst)) ?? 0) + 1);
  $('#counts').textContent = [...tally].map(([s, n]) => `${n} ${s}`).join(' · ');
}

async function showInstance(id: string): Promise<void> {
  state.selected = id;
  const panel = $('#panel');
  let inst: InstanceJson;
  try {
    inst = await getJson<InstanceJson>('/api/instance', { id });
  } catch (error) {
    panel.innerHTML = `<p class="error">${esc((error as Error).message)}</p>`;
    return;
  }
  const current = state.planned.get(id);
  const shownState = current ? stateOf(current) : inst.state;
  const params = inst.params
    .map(
      (p) =>
        `<tr class="${p.overridden ? 'overridden' : ''}"><td>${esc(p.path)}</td><td>${esc(JSON.stringify(p.value))}</td><td>${
          p.default === undefined ? '' : esc(JSON.stringify(p.default))
        }</td></tr>`,
    )
    .join('');
  const files = (inst.output?.files ?? [])
    .map(
      (f) =>
        `<li><a href="${esc(f.url)}" target="_blank">${esc(f.path)}</a> <span class="dim">${bytes(f.size)}</span></li>`,
    )
    .join('');
  const runs = inst.runs
    .map(
      (r) =>
        `<tr><td>${esc(r.startedAt.replace('T', ' ').slice(0, 19))}</td><td>${r.seconds.toFixed(1)} s</td><td>${esc(r.host)}</td><td><code>${r.key.slice(0, 12)}</code>${r.current ? ' (current)' : ''}</td></tr>`,
    )
    .join('');
  const log = [...inst.log, ...(state.logs.get(id) ?? [])];
  panel.innerHTML = `
    <h2>${esc(id)}</h2>
    <p><span class="badge" data-state="${shownState}">${shownState}</span> <code>${esc(inst.key?.slice(0, 16) ?? 'key after its inputs')}</code></p>
    ${inst.reasons.length ? `<h3>Why</h3><ul class="reasons">${inst.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : ''}
    <h3>Params</h3><table class="params"><tr><th>param</th><th>value</th><th>default</th></tr>${params}</table>
    <h3>Inputs</h3><ul>${inst.inputsDetail.map((i) => `<li>${esc(i.name)} ← <a href="#" data-open="${esc(i.instance)}">${esc(i.instance)}</a></li>`).join('') || '<li class="dim">none</li>'}</ul>
    ${inst.output ? `<h3>Output</h3><pre class="value">${esc(JSON.stringify(inst.output.value, null, 2).slice(0, 4000))}</pre><ul class="files">${files}</ul>` : ''}
    <h3>Runs</h3>${runs ? `<table class="runs">${runs}</table>` : '<p class="dim">never ran</p>'}
    <h3>Log</h3><pre class="log" id="panel-log">${esc(log.join('\n'))}</pre>`;
  for (const [name, series] of Object.entries(inst.metrics)) {
    const known = state.metrics.get(id) ?? new Map<string, [number, number][]>();
    if (!known.has(name))
      known.set(
        name,
        series.map(([s, v]) => [s, v]),
      );
    state.metrics.set(id, known);
  }
  later('curves', drawCurves, 300);
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`;
}

// --- live events -------------------------------------------------------------------------------

function apply(event: JournalEvent): void {
  const run = state.runs.get(event.run);
  switch (event.e) {
    case 'run': {
      const instances = new Map(event.instances.map(([id, stage]) => [id, stage] as [string, string]));
      state.runs.set(event.run, {
        instances,
        finished: new Map(),
        running: new Map(),
        estimates: {},
        startedAt: event.t,
      });
      for (const [id] of instances) {
        const planned = state.planned.get(id);
        if (planned && planned.state !== 'cached') mark(id, 'queued');
      }
      break;
    }
    case 'estimates':
      if (run) run.estimates = event.seconds;
      break;
    case 'started':
      run?.running.set(event.id, { since: event.t });
      mark(event.id, 'running');
      break;
    case 'progress': {
      const r = run?.running.get(event.id);
      if (r && event.total > 0) {
        r.fraction = event.done / event.total;
        if (event.message !== undefined) r.message = event.message;
      }
      for (const [name, value] of Object.entries(event.metrics ?? {})) {
        const byName = state.metrics.get(event.id) ?? new Map<string, [number, number][]>();
        const series = byName.get(name) ?? [];
        series.push([event.done, value]);
        byName.set(name, series);
        state.metrics.set(event.id, byName);
      }
      if (event.metrics) later('curves', drawCurves, 300);
      break;
    }
    case 'log': {
      const lines = state.logs.get(event.id) ?? [];
      lines.push(event.message);
      state.logs.set(event.id, lines);
      if (state.selected === event.id) {
        const pre = document.getElementById('panel-log');
        if (pre) pre.textContent += `${pre.textContent ? '\n' : ''}${event.message}`;
      }
      break;
    }
    case 'finished':
      run?.running.delete(event.id);
      run?.finished.set(event.id, event.status === 'ran' ? event.seconds : 0);
      mark(event.id, event.status === 'failed' ? 'failed' : 'cached');
      if (state.selected === event.id) later('instance', () => showInstance(state.selected ?? event.id));
      if (state.resultsStage && run?.instances.get(event.id) === state.resultsStage) later('results', showResults);
      break;
    case 'end':
      // The run's instances go back to what the plan says now: it may have run another
      // selection's instance of the same id, or left some undone.
      for (const id of run?.instances.keys() ?? []) state.live.delete(id);
      state.runs.delete(event.run);
      void loadPlan();
      break;
    case 'waiting':
      break;
  }
  later(
    'progress',
    async () => {
      progress();
      counts();
    },
    100,
  );
}

/**
 * Run `work` once soon, however many events ask for it meanwhile: a page that connects mid-run
 * replays hundreds of events at once, and each finish of the results table's stage would
 * otherwise ask the server for a new plan.
 */
const pending = new Set<string>();
function later(name: string, work: () => Promise<void>, ms = 1000): void {
  if (pending.has(name)) return;
  pending.add(name);
  window.setTimeout(() => {
    pending.delete(name);
    void work().catch(() => undefined);
  }, ms);
}

function mark(id: string, s: string): void {
  state.live.set(id, s);
  setInstanceState($('#graph'), id, s);
}

function progress(): void {
  const now = Date.now();
  const active = [...state.runs.values()].at(-1);
  const bars: string[] = [];
  for (const r of state.runs.values())
    for (const [id, run] of r.running)
      bars.push(
        `<div class="running" data-id="${esc(id)}"><span>${esc(id)}</span><progress max="1" value="${run.fraction ?? 0}"></progress><span class="dim">${esc(run.message ?? '')} ${formatDuration((now - run.since) / 1000)}</span></div>`,
      );
  if (!active) {
    $('#whole').innerHTML = '<span class="dim">no run in progress</span>';
    $('#bars').innerHTML = '';
    return;
  }
  const s = standing(active, now);
  const total = s.done + s.running + s.left;
  $('#whole').innerHTML =
    `<progress id="whole-bar" max="${total}" value="${s.done}"></progress> <span id="whole-text">${esc(formatStanding(s))}</span>`;
  $('#bars').innerHTML = bars.join('');
}

// --- curves -------------------------------------------------------------------------------------

async function drawCurves(): Promise<void> {
  const byMetric = new Map<string, { instance: string; step: number; value: number }[]>();
  for (const [instance, metrics] of state.metrics)
    for (const [name, series] of metrics)
      byMetric.set(name, [
        ...(byMetric.get(name) ?? []),
        ...series.map(([step, value]) => ({ instance, step, value })),
      ]);
  const box = $('#curves');
  if (byMetric.size === 0) {
    box.innerHTML =
      '<p class="dim">No metrics yet: stages report them with ctx.progress({ …, metrics: { loss } }).</p>';
    return;
  }
  for (const [name, points] of byMetric) {
    let chart = box.querySelector<HTMLElement>(`[data-metric="${CSS.escape(name)}"]`);
    if (!chart) {
      box.querySelector('p.dim')?.remove();
      chart = document.createElement('div');
      chart.className = 'chart';
      chart.dataset.metric = name;
      // The newest metric first: what the stage running now reports.
      box.prepend(chart);
    }
    await draw(chart, curveSpec(name, points));
    chart.dataset.points = String(points.length);
  }
}

// --- results ------------------------------------------------------------------------------------

let results: ResultsJson | undefined;
let sortBy: { column: string; descending: boolean } | undefined;

function fillStages(): void {
  const select = $<HTMLSelectElement>('#stage');
  const names = state.plan?.stages.map((s) => s.name) ?? [];
  if ([...select.options].map((o) => o.value).join() === names.join()) return;
  select.innerHTML = names.map((n) => `<option>${esc(n)}</option>`).join('');
  if (state.resultsStage && names.includes(state.resultsStage)) select.value = state.resultsStage;
}

async function showResults(): Promise<void> {
  state.resultsStage = $<HTMLSelectElement>('#stage').value;
  results = await getJson<ResultsJson>('/api/results', { stage: state.resultsStage });
  const options = results.columns.map((c) => `<option>${esc(c.name)}</option>`).join('');
  for (const axis of ['#x', '#y']) {
    const select = $<HTMLSelectElement>(axis);
    const before = select.value;
    select.innerHTML = options;
    if (before && results.columns.some((c) => c.name === before)) select.value = before;
  }
  if (!$<HTMLSelectElement>('#y').dataset.chosen) {
    const output = results.columns.find((c) => c.kind === 'output');
    if (output) $<HTMLSelectElement>('#y').value = output.name;
    const label = results.columns.find((c) => c.kind === 'label' || c.kind === 'param');
    if (label) $<HTMLSelectElement>('#x').value = label.name;
  }
  renderTable();
}

function renderTable(): void {
  if (!results) return;
  const filter = $<HTMLInputElement>('#filter').value.toLowerCase();
  let rows = results.rows.filter((r) => !filter || JSON.stringify(r).toLowerCase().includes(filter));
  if (sortBy) {
    const { column, descending } = sortBy;
    rows = [...rows].sort((a, b) => compare(a[column], b[column]) * (descending ? -1 : 1));
  }
  const head = results.columns
    .map(
      (c) =>
        `<th data-sort="${esc(c.name)}" class="${c.kind}">${esc(c.name)}${sortBy?.column === c.name ? (sortBy.descending ? ' ▼' : ' ▲') : ''}</th>`,
    )
    .join('');
  const body = rows
    .map(
      (r) =>
        `<tr data-row="${esc(String(r.instance))}">${results!.columns.map((c) => `<td data-column="${esc(c.name)}">${cell(r[c.name])}</td>`).join('')}</tr>`,
    )
    .join('');
  $('#table').innerHTML = `<table class="results"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  void draw($('#scatter'), scatterSpec(rows, $<HTMLSelectElement>('#x').value, $<HTMLSelectElement>('#y').value));
}

function cell(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  return esc(typeof value === 'string' ? value : JSON.stringify(value));
}

function compare(a: Json | undefined, b: Json | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a ?? '').localeCompare(String(b ?? ''), undefined, { numeric: true });
}

// --- start --------------------------------------------------------------------------------------

function layout(): void {
  document.head.insertAdjacentHTML('beforeend', `<style>${STYLE}</style>`);
  $('#app').innerHTML = `
    <header>
      <h1 id="title">linea view</h1>
      <form id="selection">
        <label>preset <select id="preset"></select></label>
        <label>--set <input id="set" placeholder="sparsify.omega=0.02" size="22"></label>
        <label>--ablate <input id="ablate" placeholder="omega=1e-3,1e-2" size="20"></label>
        <label>--only <input id="only" placeholder="report" size="10"></label>
        <button type="submit">plan</button>
        <span id="message" class="error"></span>
      </form>
      <div id="axes" class="dim"></div>
      <div id="whole"></div><div id="bars"></div>
      <div id="counts" class="dim"></div>
    </header>
    <main><section id="graph"></section><aside id="panel"><p class="dim">Click an instance.</p></aside></main>
    <section id="lower">
      <div><h2>Curves</h2><div id="curves"></div></div>
      <div><h2>Results <select id="stage"></select> <input id="filter" placeholder="filter" size="14"></h2>
        <div id="table"></div>
        <p>x <select id="x"></select> y <select id="y"></select> · <a href="/results/report.html" target="_blank">the last report</a></p>
        <div id="scatter"></div></div>
    </section>`;
  $('#selection').addEventListener('submit', (e) => {
    e.preventDefault();
    state.live.clear();
    void loadPlan();
  });
  $('#graph').addEventListener('click', (e) => {
    const g = (e.target as Element).closest('g.instance');
    if (g) void showInstance(g.getAttribute('data-id')!);
  });
  $('#panel').addEventListener('click', (e) => {
    const a = (e.target as Element).closest('a[data-open]');
    if (!a) return;
    e.preventDefault();
    void showInstance(a.getAttribute('data-open')!);
  });
  $('#stage').addEventListener('change', () => void showResults());
  $('#filter').addEventListener('input', () => renderTable());
  for (const axis of ['#x', '#y'])
    $(axis).addEventListener('change', (e) => {
      (e.target as HTMLSelectElement).dataset.chosen = '1';
      renderTable();
    });
  $('#table').addEventListener('click', (e) => {
    const th = (e.target as Element).closest('th[data-sort]');
    if (!th) return;
    const column = th.getAttribute('data-sort')!;
    sortBy = { column, descending: sortBy?.column === column ? !sortBy.descending : false };
    renderTable();
  });
}

async function start(): Promise<void> {
  layout();
  await loadPlan();
  await showResults().catch(() => undefined);
  void drawCurves();
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (e) => {
    for (const event of JSON.parse((e as MessageEvent).data) as JournalEvent[]) apply(event);
  });
  source.onmessage = (e) => apply(JSON.parse(e.data) as JournalEvent);
  window.setInterval(progress, 1000);
  document.body.dataset.ready = '1';
}

void start();
