/**
 * report: gathers every variant of the sweep and writes a self-contained HTML page (figures
 * rendered to SVG in Node with Vega-Lite), results.json with every number behind it, and a
 * Markdown summary that judges docs/science.md's qualitative claims by rules fixed in advance. One
 * section per analysis: the nonlinear advantage (§1), frivolous units against width (§2), the
 * frivolous units of the linearised networks, transition to linearity (§3) and the bridge (§3.4).
 * Each section is its own module in lib/report/sections/ (inputs → page section + results.json
 * fields); lib/report/write.ts builds what they share, runs them and writes the files, loaded
 * only when the report is built.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { defineStage, fileDigest } from '../src/index.ts';
import type { DifficultyPair } from './lib/report/rows.ts';
import { REPORT_INPUTS } from './lib/report/sections/context.ts';
import { SHIPPED_VERDICTS } from './lib/report/verdicts.ts';

/** Task pairs of one family whose gaps the hard-vs-easy claim compares (task axis values). */
const DIFFICULTY: DifficultyPair[] = [
  { hard: 'hard', easy: 'easy' },
  { hard: 'rhm-3', easy: 'rhm-1' },
  { hard: 'rhm-3-m8', easy: 'rhm-1-m8' },
  { hard: 'teacher-6', easy: 'teacher-2' },
];

export const reportStage = defineStage({
  name: 'report',
  description: 'HTML report with Vega-Lite figures, results.json, summary.md',
  publish: true,
  // Reads every gathered result and renders figures: seconds, and it needs no node of its own.
  resources: { local: true },
  params: z.object({
    title: z.string().default('Nonlinear advantage: how much nonlinearity does the network use?'),
    difficulty: z.array(z.object({ hard: z.string(), easy: z.string() }).strict()).default(DIFFICULTY),
  }),
  inputs: REPORT_INPUTS,
  // A run that cannot judge shows the shipped claims run's verdicts: new ones make a new report.
  env: () => ({ shippedVerdicts: existsSync(SHIPPED_VERDICTS) ? fileDigest(SHIPPED_VERDICTS) : null }),
  // The sections and what renders them are loaded when the report is built (lib/report/write.ts).
  run: async (ctx) => (await import('./lib/report/write.ts')).writeReport(ctx),
});
