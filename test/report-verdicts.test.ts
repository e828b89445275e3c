// The verdict table a report opens with: every claim with its paper, verdict, effect and CI, task
// and a link to its section; and, in a run that cannot judge, the shipped claims run's verdicts
// beside its own, marked as not this run's. A damaged shipped file is named, never a crash.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { headingSlug, html, markdown, type Section } from '../stages/lib/report/render.ts';
import { readShipped, verdictRows, type VerdictsFile } from '../stages/lib/report/verdicts.ts';

const dir = mkdtempSync(join(tmpdir(), 'linea-verdicts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const section = (id: string, title: string, paper: string, claims: Section['claims']): Section => ({
  id,
  title,
  paper,
  text: [],
  claims,
  figures: [],
  tables: [],
  notes: [],
});

const sections = [
  section('nonlinear-advantage', 'Nonlinear advantage', 'P1 nonlinear advantage', [
    {
      claim: 'late beats early at matched APL (Δ(d) > 0)',
      verdict: 'reproduced',
      evidence: '…',
      effect: '3.10 pt [1.50 pt, 4.70 pt]',
      task: 'task=rhm-3',
    },
  ]),
  section('linearity', 'Transition to linearity', 'P3 transition to linearity', [
    { claim: 'with a linear output, the kernel drift falls as m^−½', verdict: 'not tested', evidence: 'one seed' },
  ]),
  section('bridge', 'Bridge: kernel drift across the sparsified runs', 'P1 × P3 bridge', []),
];

test('the verdict table lists every claim with its paper, effect, task and a link to its section, before the sections', () => {
  const rows = verdictRows(sections);
  assert.deepEqual(
    rows.map((r) => [r.paper, r.verdict, r.effect ?? '–', r.task ?? '–', r.section.id]),
    [
      ['P1 nonlinear advantage', 'reproduced', '3.10 pt [1.50 pt, 4.70 pt]', 'task=rhm-3', 'nonlinear-advantage'],
      ['P3 transition to linearity', 'not tested', '–', '–', 'linearity'],
    ],
  );
  const page = { title: 'T', intro: ['intro'], verdicts: { rows, note: 'judged on 3 seeds' }, sections };
  const md = markdown(page);
  assert.ok(md.indexOf('## Verdicts') < md.indexOf('## Nonlinear advantage'), 'the table comes first');
  assert.match(
    md,
    /\| P1 nonlinear advantage \| late beats early at matched APL \(Δ\(d\) > 0\) \| \*\*reproduced\*\* \| 3\.10 pt \[1\.50 pt, 4\.70 pt\] \| task=rhm-3 \| \[Nonlinear advantage\]\(#nonlinear-advantage\) \|/,
  );
  assert.doesNotMatch(md, /shipped claims run/, 'no shipped column in a run that judges');
  const page2 = html(page);
  assert.match(page2, /<a href="#linearity">Transition to linearity<\/a>/);
  assert.ok(page2.indexOf('id="verdicts"') < page2.indexOf('id="nonlinear-advantage"'));
  assert.equal(
    headingSlug('Bridge: kernel drift across the sparsified runs'),
    'bridge-kernel-drift-across-the-sparsified-runs',
  );
});

test('a claim judged on one task is not listed again as not tested on a task whose gate is closed', () => {
  const claim = 'late beats early at matched APL (Δ(d) > 0)';
  const rows = verdictRows([
    section('nonlinear-advantage', 'Nonlinear advantage', 'P1 nonlinear advantage', [
      { claim, verdict: 'not tested', evidence: 'gate closed', task: 'task=rhm-1-m8' },
      { claim, verdict: 'refuted', evidence: '…', effect: '-10.75 pt [-16.42 pt, -5.07 pt]', task: 'task=rhm-3-m8' },
      {
        claim: 'the linearised network beats its baseline',
        verdict: 'not tested',
        evidence: 'gate closed',
        task: 'task=rhm-1-m8',
      },
    ]),
  ]);
  assert.deepEqual(
    rows.map((r) => [r.claim, r.verdict, r.task]),
    [
      [claim, 'refuted', 'task=rhm-3-m8'],
      ['the linearised network beats its baseline', 'not tested', 'task=rhm-1-m8'],
    ],
  );
});

test('a run that cannot judge shows the shipped verdicts of the same claims beside its own', () => {
  const shipped: VerdictsFile = {
    format: 'linea-verdicts',
    provenance: 'seeds 0, 1, 2',
    seeds: 3,
    verdicts: [
      {
        paper: 'P1 nonlinear advantage',
        claim: 'late beats early at matched APL (Δ(d) > 0)',
        verdict: 'refuted',
        effect: '-2.00 pt [-3.00 pt, -1.00 pt]',
        task: 'task=rhm-3',
        section: { id: 'nonlinear-advantage', title: 'Nonlinear advantage' },
      },
    ],
  };
  const rows = verdictRows(sections).map((r) => ({ ...r, verdict: 'not tested' as const }));
  const md = markdown({ title: 'T', intro: [], verdicts: { rows, note: 'cannot judge', shipped }, sections });
  assert.match(md, /\| shipped claims run \(not this run\) \|/);
  assert.match(md, /\| task=rhm-3: refuted, -2\.00 pt \[-3\.00 pt, -1\.00 pt\] \|/);
  assert.match(
    md,
    /\| \[Transition to linearity\]\(#transition-to-linearity\) \| – \|/,
    'a claim the shipped run lacks',
  );
});

test('the shipped verdicts file: missing or damaged is a reason to show, a valid one is read', () => {
  assert.match((readShipped(join(dir, 'none.json')) as { missing: string }).missing, /no shipped claims verdicts at/);
  writeFileSync(join(dir, 'bad.json'), '{"format": "something else"}');
  assert.match((readShipped(join(dir, 'bad.json')) as { missing: string }).missing, /bad\.json is not a verdicts file/);
  writeFileSync(join(dir, 'cut.json'), '{"format": "linea-ver');
  assert.match((readShipped(join(dir, 'cut.json')) as { missing: string }).missing, /cut\.json is not a verdicts file/);
  const good: VerdictsFile = { format: 'linea-verdicts', provenance: 'p', seeds: 3, verdicts: [] };
  writeFileSync(join(dir, 'good.json'), JSON.stringify(good));
  assert.deepEqual(readShipped(join(dir, 'good.json')), { file: good });
});
