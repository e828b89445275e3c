/**
 * §3.4, the bridge: kernel drift, Hessian norm and travel across each sparsified run, beside the
 * early/late gap of its sweep.
 */
import type { KernelDriftValue } from '../../artifacts.ts';
import { driftFigure } from '../figures.ts';
import type { Section } from '../render.ts';
import { protocolOf, sameLabels } from '../rows.ts';
import { bridge, bridgeOverSeeds, driftRows } from '../scaling.ts';
import type { Interval } from '../stats.ts';
import { fmt, labelled, list, type ReportContext, rendered, type SectionOutput, sci } from './context.ts';

export async function bridgeSection({ inputs, provenance, gapPoints }: ReportContext): Promise<SectionOutput> {
  let section: Section | undefined;
  const drifts = driftRows(labelled(inputs.kernelDrift), (labels) => {
    const run = inputs.sparse.find((s) => sameLabels(s.labels, labels));
    return run ? protocolOf(run.value) : undefined;
  });
  const bridgeRows = bridge(drifts, gapPoints);
  const overSeeds = bridgeOverSeeds(drifts, gapPoints);
  const ci = (i: Interval, scale = 1, digits = 3) =>
    i.n > 1
      ? `${(scale * i.mean).toFixed(digits)} [${(scale * i.lo).toFixed(digits)}, ${(scale * i.hi).toFixed(digits)}]`
      : (scale * i.mean).toFixed(digits);
  if (drifts.length) {
    const driftSetting = (pick: (v: KernelDriftValue) => number) => list(inputs.kernelDrift.map((k) => pick(k.value)));
    section = {
      id: 'bridge',
      title: 'Bridge: kernel drift across the sparsified runs',
      paper: 'P1 × P3 bridge',
      text: [
        'Linear in the parameters is not linear in the input: a network whose PReLUs are all at α = 1 still has a Hessian with respect to its weights. Does the tangent kernel move more when the penalty starts early, and does that go with the early/late gap Δ? This is an open question (docs/science.md, "The bridge"); the numbers are reported without a verdict.',
      ],
      claims: [],
      figures: await rendered([
        driftFigure(
          drifts.flatMap((d) => [
            { group: d.group, start: d.start, omega: d.omega, measure: 'kernel drift', value: d.value.kernelDrift },
            { group: d.group, start: d.start, omega: d.omega, measure: 'weight travel', value: d.value.travel },
          ]),
          driftSetting((v) => v.probes.kernel),
          provenance,
        ),
      ]),
      tables: [
        {
          caption:
            "Over seeds, per protocol: the median kernel drift of each seed's ω sweep, and each seed's mean gap Δ = late − this protocol at matched APL (accuracy points), as mean [95 % CI] over seeds. A described result, not a verdict.",
          columns: ['sweep', 'protocol', 'networks', 'seeds', 'kernel drift (median per seed)', 'Δ late − protocol'],
          rows: overSeeds.map((b) => [
            b.sweep,
            b.start,
            b.networks,
            b.kernelDrift.n,
            ci(b.kernelDrift),
            b.gap ? ci(b.gap, 100, 2) : '–',
          ]),
        },
        {
          caption:
            "Per start, over the ω sweep: kernel drift (mean and median) and mean travel, beside the sweep's mean early/late gap Δ (accuracy points, over the APL overlap).",
          columns: ['sweep', 'start', 'networks', 'kernel drift (mean)', 'kernel drift (median)', 'travel', 'Δ'],
          rows: bridgeRows.map((b) => [
            b.group,
            b.start,
            b.networks,
            fmt(b.kernelDrift),
            fmt(b.kernelDriftMedian),
            fmt(b.travel),
            b.gap === undefined ? '–' : fmt(100 * b.gap, 2),
          ]),
        },
        {
          caption:
            'Per network: Hessian norm of logit 0 (mean over probe images) at the start epoch and at the end, kernel drift, linearisation gap and travel between them.',
          columns: ['sweep', 'start', 'epoch', 'ω', '‖H‖ start', '‖H‖ end', 'kernel drift', 'lin. gap', 'travel'],
          rows: drifts.map((d) => [
            d.group,
            d.start,
            d.value.startEpoch,
            d.omega,
            sci(d.value.hessian.start),
            sci(d.value.hessian.end),
            fmt(d.value.kernelDrift),
            fmt(d.value.linearizationGap),
            fmt(d.value.travel),
          ]),
        },
      ],
      notes: [
        "The start network is the dense snapshot with PReLUs at α = 0, the same function and parameter layout as the run's start. The parameters here are the weights without α, each network at its own α: at α = 0 a max-pool over a window of ReLU zeros breaks its tie one way for α > 0 and the other for α < 0, so the gradient in α jumps and H does not exist there.",
        `These networks are piecewise linear in their input, and for a fixed pattern of active units polynomial in their weights: ‖H‖ is that piecewise Hessian. Its Hessian-vector products are central differences with a step of ${list(inputs.kernelDrift.map((k) => k.value.epsilon.toExponential()))}, small enough that a step rarely crosses a kink (kernel-drift.ts gives the measured sensitivity); power iteration as above, over ${driftSetting((v) => v.probes.hessian)} test images.`,
        'A kernel drift above 1 means the kernel grew: as units turn linear, gradients flow through both sides of every unit and logit 0 grows.',
      ],
    };
  }
  return {
    ...(section ? { section } : {}),
    results: {
      kernelDrift: {
        bridge: bridgeRows,
        overSeeds,
        networks: inputs.kernelDrift.map((k) => ({ labels: k.labels, ...k.value })),
      },
    },
  };
}
