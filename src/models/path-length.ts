/**
 * Average path length (docs/science.md, "Average path length"): how many nonlinear units a path from input to output
 * meets on average, over the unit graph of a network whose activation sites and residual
 * structure `Model.structure` describes.
 *
 * The graph: one node per unit (activation site × channel), consecutive sites fully connected
 * (through the linear layer between them), one junction node per residual addition joining the
 * branch's last units and the shortcut's. A unit is nonlinear when its α is not (near) 1.
 *
 * - Unnormalised APL: every input→output path weighted equally. Units of one layer are
 *   interchangeable, so a layer of n units with k nonlinear turns (paths N, mean count R) into
 *   (n·N, R + k/n), and a junction mixes its two sides weighted by their path counts. Counts are
 *   kept as logarithms: they grow like the product of the widths.
 * - Normalised APL: the expected count along a random backward walk from the output that takes
 *   each side of a junction with probability ½ and steps to a uniformly random unit of the layer
 *   below: a layer adds k/n, a residual block ½·(branch + shortcut).
 */
import type { ModelConfig } from './architectures/index.ts';
import type { ActivationSite, Model, Structure } from './model.ts';

/** Units of a site and how many of them are nonlinear. */
export interface SiteUnits {
  readonly n: number;
  readonly k: number;
}

export interface PathLength {
  /** Expected nonlinear units on a random backward walk (junctions ½/½): the effective depth. */
  readonly normalized: number;
  /** Mean nonlinear units over all input→output paths, each weighted equally. */
  readonly unnormalized: number;
  /** log of the number of input→output paths. */
  readonly logPaths: number;
}

interface Frontier {
  /** log of the number of paths from the input to the current frontier. */
  logN: number;
  /** Mean nonlinear count over those paths. */
  r: number;
  /** Normalised (backward-walk) expectation of the structure so far. */
  e: number;
}

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

function walk(structure: Structure, from: Frontier, units: (site: string) => SiteUnits): Frontier {
  switch (structure.kind) {
    case 'site': {
      const { n, k } = units(structure.site);
      if (n <= 0 || k < 0 || k > n)
        throw new Error(`site '${structure.site}': ${k} nonlinear of ${n} units is impossible`);
      return { logN: from.logN + Math.log(n), r: from.r + k / n, e: from.e + k / n };
    }
    case 'seq':
      return structure.items.reduce((f, item) => walk(item, f, units), from);
    case 'residual': {
      const branch = walk(structure.branch, from, units);
      const shortcut = walk(structure.shortcut, from, units);
      const logN = logAddExp(branch.logN, shortcut.logN);
      const wb = Math.exp(branch.logN - logN);
      const ws = Math.exp(shortcut.logN - logN);
      return {
        logN,
        r: wb * branch.r + ws * shortcut.r,
        e: from.e + 0.5 * (branch.e - from.e) + 0.5 * (shortcut.e - from.e),
      };
    }
  }
}

/** APL of a structure given each site's unit counts. */
export function averagePathLength(structure: Structure, units: (site: string) => SiteUnits): PathLength {
  const end = walk(structure, { logN: 0, r: 0, e: 0 }, units);
  return { normalized: end.e, unnormalized: end.r, logPaths: end.logN };
}

/** A unit is linear when |1 − α| < ε (docs/science.md, "Linearisation and folding"); ReLU/tanh sites are all nonlinear. */
export function nonlinearUnits(site: ActivationSite, alpha: ArrayLike<number> | undefined, epsilon: number): SiteUnits {
  switch (site.nonlinearity) {
    case 'linear':
      return { n: site.channels, k: 0 };
    case 'relu':
    case 'tanh':
      return { n: site.channels, k: site.channels };
    case 'prelu': {
      if (!alpha || alpha.length !== site.channels)
        throw new Error(`site '${site.id}': expected ${site.channels} α values`);
      let k = 0;
      for (let i = 0; i < alpha.length; i++) if (Math.abs(1 - alpha[i]!) >= epsilon) k += 1;
      return { n: site.channels, k };
    }
  }
}

/** Units and nonlinear units of every activation site of a model, with ε as the linearity threshold. */
export function siteUnits(model: Model<ModelConfig>, epsilon: number): Map<string, SiteUnits> {
  return new Map(
    model.sites.map((site) => [
      site.id,
      nonlinearUnits(site, site.alpha ? model.get(site.alpha).dataSync() : undefined, epsilon),
    ]),
  );
}

/** Σ over sites of nonlinear units, and of all units. */
export function countUnits(units: ReadonlyMap<string, SiteUnits>): SiteUnits {
  let n = 0;
  let k = 0;
  for (const u of units.values()) {
    n += u.n;
    k += u.k;
  }
  return { n, k };
}

export interface CoreNetwork {
  readonly pathLength: PathLength;
  /** k_l / n_l per site, in forward order. */
  readonly fractions: readonly { site: string; n: number; k: number; fraction: number }[];
  /** Σ k_l: nonlinear units left. */
  readonly total: number;
  /** D_eff = normalised APL. */
  readonly effectiveDepth: number;
  /** W_eff = Σ k_l / #{l : k_l > 0} (0 when no unit is nonlinear). */
  readonly effectiveWidth: number;
}

/** Everything docs/science.md, "Average path length" reports about the nonlinear units of one network. */
export function coreNetwork(
  structure: Structure,
  sites: readonly ActivationSite[],
  units: ReadonlyMap<string, SiteUnits>,
): CoreNetwork {
  const get = (id: string) => {
    const u = units.get(id);
    if (!u) throw new Error(`no unit counts for activation site '${id}'`);
    return u;
  };
  const pathLength = averagePathLength(structure, get);
  const fractions = sites.map((s) => ({ site: s.id, ...get(s.id), fraction: get(s.id).k / get(s.id).n }));
  const total = fractions.reduce((a, f) => a + f.k, 0);
  const active = fractions.filter((f) => f.k > 0).length;
  return {
    pathLength,
    fractions,
    total,
    effectiveDepth: pathLength.normalized,
    effectiveWidth: active ? total / active : 0,
  };
}
