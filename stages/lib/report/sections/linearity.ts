/**
 * §3, transition to linearity over the NTK width sweep: Hessian norm and tangent-kernel drift
 * against width, with their log-log slopes.
 */
import { ntkFigure } from '../figures.ts';
import type { Section } from '../render.ts';
import { judgeLinearityClaims, ntkPoints, ntkSlopes } from '../scaling.ts';
import { fmt, labelled, list, type ReportContext, rendered, type SectionOutput, sci } from './context.ts';

export async function linearitySection({ inputs }: ReportContext): Promise<SectionOutput> {
  let section: Section | undefined;
  const ntk = ntkPoints(labelled(inputs.linearity));
  const slopes = ntkSlopes(ntk);
  if (ntk.length) {
    const v0 = ntk[0]!.value;
    const ntkProvenance = `seeds ${list(ntk.map((p) => p.value.seed))}; m ∈ {${list(ntk.map((p) => p.width))}}; ${list(ntk.map((p) => p.variant))}; full-batch GD on ½·MSE, rate ${list(ntk.map((p) => p.value.lr))}; backend ${list(ntk.map((p) => p.value.backend))}`;
    section = {
      id: 'linearity',
      title: 'Transition to linearity',
      paper: 'P3 transition to linearity',
      text: [
        `NTK-parametrised tanh MLPs (weights N(0, 1), each layer scaled by 1/√fan-in, no biases) on points of the unit sphere with the target x₁x₂, trained by full-batch gradient descent; ${v0.depth} wide hidden layer(s), the bottleneck variant has a narrow layer between two wide ones.`,
      ],
      claims: judgeLinearityClaims(slopes),
      figures: await rendered([
        ntkFigure(
          'ntk-hessian',
          'Hessian spectral norm against width',
          '‖H‖₂ of the output (mean over probes)',
          ntk.flatMap((p) => [
            {
              group: p.group,
              variant: p.variant,
              width: p.width,
              value: p.value.hessian.initial,
              when: 'initialisation',
            },
            {
              group: p.group,
              variant: p.variant,
              width: p.width,
              value: p.value.hessian.final,
              when: 'after training',
            },
          ]),
          ntkProvenance,
        ),
        ntkFigure(
          'ntk-kernel',
          'Tangent-kernel drift against width',
          'relative change of the tangent kernel',
          ntk.map((p) => ({ group: p.group, variant: p.variant, width: p.width, value: p.value.kernelDrift })),
          ntkProvenance,
        ),
      ]),
      tables: linearityTables(ntk, slopes),
      notes: [
        'tfjs records no tape while it computes gradients, so there is no double backprop: each Hessian-vector product is a central difference of parameter gradients, (∇f(w + εv) − ∇f(w − εv))/2ε with ε = 1e-3 along v/‖v‖ (exact for a quadratic model, O(ε²) otherwise). ‖H‖₂ = |λ|max by power iteration (stopping at relative change < 1e-3), averaged over the Hessian probes.',
        'Kernel drift is ‖K_T − K_0‖_F / ‖K_0‖_F on training points; the linearisation gap is max |f(w_T) − f_lin(w_T)| / max |f(w_T) − f(w_0)| over the same points, with f_lin the first-order expansion around w_0 taken at the trained weights; travel is ‖w_T − w_0‖ / ‖w_0‖.',
      ],
    };
  }
  return {
    ...(section ? { section } : {}),
    results: { linearity: { slopes, networks: inputs.linearity.map((l) => ({ labels: l.labels, ...l.value })) } },
  };
}

function linearityTables(ntk: ReturnType<typeof ntkPoints>, slopes: ReturnType<typeof ntkSlopes>): Section['tables'] {
  return [
    {
      caption: 'Log-log slopes against m (least squares) with R² as the quality of the fit.',
      columns: ['sweep', 'variant', 'measure', 'slope', 'R²', 'widths'],
      rows: slopes.map((s) => [s.group, s.variant, s.measure, fmt(s.slope, 3), fmt(s.r2, 3), s.n]),
    },
    {
      caption: 'Per network.',
      columns: [
        'sweep',
        'variant',
        'm',
        'params',
        'rate',
        'loss 0',
        'loss T',
        '‖H‖ at init',
        '‖H‖ trained',
        'kernel drift',
        'lin. gap',
        'travel',
      ],
      rows: ntk.map((p) => [
        p.group,
        p.variant,
        p.width,
        p.value.params,
        p.value.lr,
        sci(p.value.loss.initial),
        sci(p.value.loss.final),
        sci(p.value.hessian.initial),
        sci(p.value.hessian.final),
        sci(p.value.kernelDrift),
        sci(p.value.linearizationGap),
        sci(p.value.travel),
      ]),
    },
  ];
}
