/**
 * The frivolous measures of the linearised networks: are the units that stay nonlinear the
 * non-frivolous ones? Knockouts of the nonlinear units against random sets of the same sizes.
 */
import { knockoutFigure } from '../figures.ts';
import type { Section } from '../render.ts';
import { judgeKnockoutClaim, knockoutRows } from '../scaling.ts';
import { fmt, labelled, pct, type ReportContext, rendered, type SectionOutput } from './context.ts';

export async function frivolousLinearizedSection({ inputs, provenance }: ReportContext): Promise<SectionOutput> {
  let section: Section | undefined;
  const knockouts = knockoutRows(labelled(inputs.frivolousLinearized));
  if (knockouts.length) {
    const point = (k: (typeof knockouts)[number], units: string, which: 'knockNonlinear' | 'knockLinear') => [
      {
        group: k.group,
        start: k.start,
        omega: k.omega,
        units,
        set: 'these units',
        agreement: k.value[which].targeted,
      },
      {
        group: k.group,
        start: k.start,
        omega: k.omega,
        units,
        set: 'random, same sizes',
        agreement: k.value[which].randomMean,
      },
    ];
    const pair = (x: { targeted: number; randomMean: number; units: number }) =>
      x.units === 0 ? '–' : `${pct(x.targeted)} / ${pct(x.randomMean)}`;
    section = {
      id: 'frivolous-linearized',
      title: 'Frivolous units of the linearised networks',
      paper: 'P1 × P2 bridge',
      text: [
        "Are the units that stay nonlinear the non-frivolous ones? Each linearised network's nonlinear units are knocked out in every layer at once and the agreement with the intact network compared with random sets of the same per-layer sizes; the same for its linear units, and for the to-stay-nonlinear units in the dense snapshot the run started from.",
      ],
      claims: [judgeKnockoutClaim(knockouts)],
      figures: await rendered([
        knockoutFigure(
          knockouts.flatMap((k) => [...point(k, 'nonlinear', 'knockNonlinear'), ...point(k, 'linear', 'knockLinear')]),
          provenance,
        ),
      ]),
      tables: [
        {
          caption:
            'Agreement % with the intact network: chosen units knocked out / random sets of the same sizes (mean of the orders). p* and c̄ as in the width sweep.',
          columns: [
            'sweep',
            'start',
            'ω',
            'nonlinear',
            'p*',
            'c̄',
            'nonlinear out',
            'linear out',
            'nonlinear out, at the start epoch',
          ],
          rows: knockouts.map((k) => [
            k.group,
            k.start,
            k.omega,
            `${k.value.nonlinear}/${k.value.units}`,
            fmt(k.value.prunableThreshold, 3),
            fmt(k.value.redundantFraction, 3),
            pair(k.value.knockNonlinear),
            pair(k.value.knockLinear),
            pair(k.value.knockNonlinearAtStart),
          ]),
        },
      ],
      notes: [
        'Knocking out a linear unit (α = 1, the identity) removes its channel as it does for a nonlinear one. At the early start the start-epoch network is the initialisation, whose predictions are those of random weights.',
      ],
    };
  }
  return {
    ...(section ? { section } : {}),
    results: { frivolousLinearized: inputs.frivolousLinearized.map((f) => ({ labels: f.labels, ...f.value })) },
  };
}
