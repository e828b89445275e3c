/**
 * §2, frivolous units against width: prunable and redundant units of the dense width sweep, their
 * growth factor per doubling of width, and the agreement curves behind p*.
 */
import type { FrivolousValue } from '../../artifacts.ts';
import { frivolousAgreementFigure, frivolousGrowthFigure } from '../figures.ts';
import type { Section } from '../render.ts';
import { agreementPoints, FRIVOLOUS_COUNTS, growth, judgeFrivolousClaims, widthPoints } from '../scaling.ts';
import { fmt, labelled, list, pct, type ReportContext, rendered, type SectionOutput } from './context.ts';

export async function frivolousSection({ inputs }: ReportContext): Promise<SectionOutput> {
  let section: Section | undefined;
  const widths = widthPoints(labelled(inputs.frivolous));
  const firstModel = inputs.dense[0]!.value.model as { classes?: number; outputs?: number };
  const chance = 1 / (firstModel.classes ?? firstModel.outputs ?? 2);
  const growths = growth(widths, chance);
  const untrained = widths.filter((w) => w.accuracy < chance + 0.05);
  const denseSeeds = list(inputs.dense.map((d) => d.value.seed));
  const backends = list([...inputs.dense, ...inputs.sparse].map((v) => v.value.backend));
  if (widths.length) {
    const f0 = inputs.frivolous[0]!.value;
    const setting = (pick: (v: FrivolousValue) => number) => list(inputs.frivolous.map((f) => pick(f.value)));
    const threshold = setting((v) => v.settings.threshold);
    const tail = list(inputs.frivolous.map((f) => `${100 * f.value.settings.energy} %`));
    const frivolousProvenance = `seeds ${denseSeeds}; width factors f ∈ {${list(widths.map((w) => w.width))}}, F = ${f0.widest}; ${f0.prunability.thresholds.length} knockout orders, agreement threshold ${threshold}, PCA tail ${tail} (docs/science.md, "Prunable units, Redundant units"); test set; backend ${backends}`;
    section = {
      id: 'frivolous',
      title: 'Frivolous units against width',
      paper: 'P2 frivolous units',
      text: [
        `${widths.length} dense networks trained by the pretrain stage at width factors ${list(widths.map((w) => `×${w.width}`))} of the default architecture, measured on the test set in the layers the paper records (every activation layer of a plain CNN; stem and stage outputs of a ResNet).`,
        ...(untrained.length
          ? [
              `Left out of g: ${untrained.map((w) => `×${w.width} (${w.group}, ${pct(w.accuracy)} % test accuracy, chance ${pct(chance)} %)`).join(', ')}: a network that did not train has no units worth counting.`,
            ]
          : []),
      ],
      claims: judgeFrivolousClaims(growths),
      figures: await rendered([
        frivolousGrowthFigure(
          widths.flatMap((w) =>
            FRIVOLOUS_COUNTS.map((units) => ({ group: w.group, width: w.width, units, value: w.counts[units] })),
          ),
          frivolousProvenance,
        ),
        frivolousAgreementFigure(
          agreementPoints(labelled(inputs.frivolous)),
          inputs.frivolous[0]!.value.settings.threshold,
          frivolousProvenance,
        ),
      ]),
      tables: [
        {
          caption: 'Per width: p* (mean over the knockout orders), c̄ (mean over layers), and the normalised counts.',
          columns: [
            'sweep',
            'f',
            'params',
            'test acc. %',
            'p*',
            'prunable',
            'non-prunable',
            'c̄',
            'redundant',
            'non-redundant',
          ],
          rows: widths.map((w) => [
            w.group,
            w.width,
            w.params,
            pct(w.accuracy),
            fmt(w.threshold, 3),
            fmt(w.counts.prunable),
            fmt(w.counts['non-prunable']),
            fmt(w.redundantFraction, 3),
            fmt(w.counts.redundant),
            fmt(w.counts['non-redundant']),
          ]),
        },
        {
          caption: 'Growth factor g: the mean ratio of a count per doubling of width (2 = as fast as the width).',
          columns: ['sweep', 'count', 'g', 'widths'],
          rows: growths.map((g) => [g.group, g.count, fmt(g.g, 3), g.widths.join(', ')]),
        },
      ],
      notes: [
        `Knockout: in every recorded layer at once, the first ⌊p·n_l⌋ units of a random order (fixed per order) are multiplied by 0 at every position, without rescaling; p ∈ {0, 1/6, …, 1}. p* is the linear interpolation of the first crossing of agreement ${threshold}, 1 when agreement never falls below it; averaged over the orders (plot_demo.ipynb).`,
        `Redundancy: covariance of the test-set activations (conv: every spatial position a sample, at most ${list(inputs.frivolous.map((f) => f.value.settings.maxSamples.toLocaleString('en')))} rows, sampled uniformly), eigenvalues ascending, the smallest k whose lowest k carry more than ${tail} of the variance; c_l = k/n_l, averaged over layers.`,
        "g is taken per doubling, (Y(f_{i+1})/Y(f_i))^(1/log₂(f_{i+1}/f_i)), which is the paper's get_slope on a doubling grid; pairs with a zero count have no ratio and are left out.",
      ],
    };
  }
  return {
    ...(section ? { section } : {}),
    results: {
      frivolous: { widths, growth: growths, networks: inputs.frivolous.map((f) => ({ labels: f.labels, ...f.value })) },
    },
  };
}
