/**
 * The table a report opens with: every claim of the three papers, its verdict, the effect with
 * its 95 % CI, the task it was judged on, and where its section is. A run that cannot judge (fewer
 * than three seeds) shows, beside its own numbers, the verdicts of the shipped claims run
 * (docs/results/claims/verdicts.json), marked as not this run's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Section } from './render.ts';

export const verdictRow = z.object({
  paper: z.string(),
  claim: z.string(),
  verdict: z.enum(['reproduced', 'refuted', 'inconclusive', 'not tested']),
  effect: z.string().optional(),
  task: z.string().optional(),
  section: z.object({ id: z.string(), title: z.string() }),
});
export type VerdictRow = z.output<typeof verdictRow>;

/** What a report writes as verdicts.json, and what the shipped claims run's file holds. */
export const verdictsFile = z.object({
  format: z.literal('linea-verdicts'),
  provenance: z.string(),
  seeds: z.number().int(),
  verdicts: z.array(verdictRow),
});
export type VerdictsFile = z.output<typeof verdictsFile>;

/** The shipped claims run's verdicts: in the repository, beside its summary. */
export const SHIPPED_VERDICTS = fileURLToPath(new URL('../../../docs/results/claims/verdicts.json', import.meta.url));

/**
 * One row per claim and task. A claim that has a verdict on some task is not listed again as
 * "not tested" on a task whose gate is closed (an easy partner that only serves hard vs easy):
 * the table answers each claim once where it can, and the section keeps every task's row.
 */
export function verdictRows(sections: readonly Section[]): VerdictRow[] {
  const rows: VerdictRow[] = sections.flatMap((s) =>
    s.claims.map((c) => ({
      paper: s.paper ?? s.title,
      claim: c.claim,
      verdict: c.verdict,
      ...(c.effect ? { effect: c.effect } : {}),
      ...(c.task ? { task: c.task } : {}),
      section: { id: s.id, title: s.title },
    })),
  );
  const tested = new Set(rows.filter((r) => r.verdict !== 'not tested').map((r) => `${r.paper}\u0000${r.claim}`));
  return rows.filter((r) => r.verdict !== 'not tested' || !tested.has(`${r.paper}\u0000${r.claim}`));
}

/**
 * The shipped verdicts, or why there are none. A damaged file is reported, never a crash: the
 * report is still worth having without the comparison.
 */
export function readShipped(
  path = SHIPPED_VERDICTS,
  /** How the report names the file: relative to the repository, so a page names no machine's paths. */
  shown = path === SHIPPED_VERDICTS ? 'docs/results/claims/verdicts.json' : path,
): { file: VerdictsFile } | { missing: string } {
  if (!existsSync(path)) return { missing: `no shipped claims verdicts at ${shown}` };
  try {
    return { file: verdictsFile.parse(JSON.parse(readFileSync(path, 'utf8'))) };
  } catch (error) {
    return { missing: `${shown} is not a verdicts file (${(error as Error).message.split('\n')[0]})` };
  }
}

/** The shipped run's verdicts of the same paper and claim, one line per task. */
export function shippedFor(row: Pick<VerdictRow, 'paper' | 'claim'>, shipped: VerdictsFile): string {
  const same = shipped.verdicts.filter((v) => v.paper === row.paper && v.claim === row.claim);
  if (same.length === 0) return '–';
  return same.map((v) => `${v.task ? `${v.task}: ` : ''}${v.verdict}${v.effect ? `, ${v.effect}` : ''}`).join('; ');
}
