/**
 * The report stage's run (report.ts defines the stage): the sections, built from the gathered
 * inputs, and the files written from them. A module of its own so that defining the pipeline
 * loads none of it (the sections' statistics, the models' fits, Vega).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { provenanceLine } from './figures.ts';
import { html, markdown } from './render.ts';
import { type Claim, type DifficultyPair, gaps, joinRows } from './rows.ts';
import { advantageSection } from './sections/advantage.ts';
import { bridgeSection } from './sections/bridge.ts';
import { labelled, type ReportContext, type ReportInputs, type SectionOutput } from './sections/context.ts';
import { frivolousSection } from './sections/frivolous.ts';
import { frivolousLinearizedSection } from './sections/frivolous-linearized.ts';
import { linearitySection } from './sections/linearity.ts';
import { readShipped, verdictRows, type VerdictsFile } from './verdicts.ts';

/** The report's sections in page order; each also contributes its fields to results.json. */
const SECTIONS: readonly ((context: ReportContext) => Promise<SectionOutput>)[] = [
  advantageSection,
  frivolousSection,
  frivolousLinearizedSection,
  linearitySection,
  bridgeSection,
];

/** What the report stage's run is given. */
export interface ReportRun {
  readonly inputs: ReportInputs;
  readonly params: { readonly title: string; readonly difficulty: readonly DifficultyPair[] };
  readonly outDir: string;
  log(message: string): void;
}

/** Build every section and write report.html, figures/, verdicts.json, results.json and summary.md. */
export async function writeReport(ctx: ReportRun) {
  const context = reportContext(ctx.inputs, ctx.params.difficulty);
  const { rows, provenance } = context;
  const outputs: SectionOutput[] = [];
  for (const build of SECTIONS) outputs.push(await build(context));
  const sections = outputs.flatMap((o) => (o.section ? [o.section] : []));
  await mkdir(join(ctx.outDir, 'figures'), { recursive: true });
  for (const section of sections)
    for (const { figure, svg } of section.figures)
      await writeFile(join(ctx.outDir, 'figures', `${figure.id}.svg`), svg);
  const seedCount = new Set(rows.map((r) => r.seed)).size;
  const intro = [
    provenance,
    'Definitions, protocols, defaults and the rules behind every verdict: docs/science.md (it ships with linea). A verdict rests on paired seeds and a 95 % confidence interval: reproduced, refuted, inconclusive, or not tested with the reason.',
  ];
  const verdictList = verdictRows(sections);
  const judged = seedCount >= 3;
  const shipped = judged ? undefined : readShipped();
  const verdicts = {
    rows: verdictList,
    note: judged
      ? `Every claim of the three papers as this run judged it (${seedCount} paired seeds); the evidence and the rule are in each section. A claim judged on one task is not listed again as "not tested" on a task whose gate is closed; its section shows every task.`
      : `This run cannot judge (${seedCount === 1 ? 'one seed' : `${seedCount} seeds`}; a verdict needs 3 paired seeds, as \`linea run --preset claims\` runs them): its own column says "not tested" with its numbers. ${shipped && 'file' in shipped ? `Beside it, marked as such, the verdicts of the shipped claims run (docs/results/claims, \`linea run --preset claims\`: ${shipped.file.provenance}).` : `The shipped claims run's verdicts cannot be shown: ${shipped?.missing}.`}`,
    ...(shipped && 'file' in shipped ? { shipped: shipped.file } : {}),
  };
  const page = { title: ctx.params.title, intro, verdicts, sections };
  await writeFile(join(ctx.outDir, 'report.html'), html(page));
  const file: VerdictsFile = { format: 'linea-verdicts', provenance, seeds: seedCount, verdicts: verdictList };
  await writeFile(join(ctx.outDir, 'verdicts.json'), `${JSON.stringify(file, null, 1)}\n`);
  const claims: Claim[] = sections.flatMap((s) => s.claims);
  const results = { provenance, claims, ...Object.assign({}, ...outputs.map((o) => o.results)) };
  await writeFile(join(ctx.outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  await writeFile(join(ctx.outDir, 'summary.md'), markdown(page));
  ctx.log(claims.map((c) => `${c.claim}: ${c.verdict}`).join('\n'));
  return {
    networks: rows.length,
    claims: claims.map((c) => ({ claim: c.claim, verdict: c.verdict })),
    figures: sections.flatMap((s) => s.figures.map((f) => f.figure.id)),
  };
}

/** What several sections share: the joined rows, the provenance line and the early/late gaps. */
function reportContext(inputs: ReportInputs, difficulty: readonly DifficultyPair[]): ReportContext {
  const rows = joinRows({
    dense: labelled(inputs.dense),
    sparse: labelled(inputs.sparse),
    linearized: labelled(inputs.linearized),
    pathLength: labelled(inputs.pathLength),
    baseline: labelled(inputs.baseline),
  });
  if (rows.length === 0)
    throw new Error(
      "stage 'report': no sparsified network reached the report; check that sparsify, linearize and path-length ran",
    );
  const epsilon = inputs.linearized[0]!.value.epsilon;
  const provenance = provenanceLine({
    seeds: [...new Set(rows.map((r) => r.seed))],
    omegas: [...new Set(rows.map((r) => r.omega))].sort((a, b) => a - b),
    epsilon,
    backends: [...new Set([...inputs.dense, ...inputs.sparse].map((v) => v.value.backend))],
    sparse: {
      lr: inputs.sparse.map((s) => s.value.penaltyLr).sort((a, b) => a - b),
      clipNorm: inputs.sparse.map((s) => s.value.clipNorm),
      fineTune: inputs.sparse.map((s) => s.value.fineTuneEpochs),
    },
  });
  return { inputs, rows, provenance, gapPoints: gaps(rows), difficulty };
}
