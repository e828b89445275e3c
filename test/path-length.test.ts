/**
 * Average path length: the Figure-1 example, a plain net, agreement with brute-force path
 * enumeration and with a Monte-Carlo backward walk on small random residual graphs, and the
 * closed form on a real ResNet.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectBackend } from '../src/models/backends.ts';
import { buildModel } from '../src/models/architectures/index.ts';
import type { Structure } from '../src/models/model.ts';
import { averagePathLength, coreNetwork, nonlinearUnits, type SiteUnits } from '../src/models/path-length.ts';
import { mulberry32, type Rng } from '../src/models/random.ts';

const site = (id: string): Structure => ({ kind: 'site', site: id });
const seq = (...items: Structure[]): Structure => ({ kind: 'seq', items });

test('Figure 1: four layers of four units skipped by one residual: normalised 2, unnormalised 256·4/257', () => {
  const structure: Structure = {
    kind: 'residual',
    branch: seq(site('a'), site('b'), site('c'), site('d')),
    shortcut: seq(),
    projection: false,
  };
  const all = averagePathLength(structure, () => ({ n: 4, k: 4 }));
  assert.equal(all.normalized, 2);
  assert.ok(Math.abs(all.unnormalized - (256 * 4) / 257) < 1e-12);
  assert.ok(Math.abs(Math.exp(all.logPaths) - 257) < 1e-9);
  const none = averagePathLength(structure, () => ({ n: 4, k: 0 }));
  assert.deepEqual([none.normalized, none.unnormalized], [0, 0]);
});

test('a plain 3-layer net with nonlinear fractions (½, 1, 0) has APL 1.5 under both definitions', () => {
  const counts: Record<string, SiteUnits> = { l1: { n: 4, k: 2 }, l2: { n: 3, k: 3 }, l3: { n: 5, k: 0 } };
  const apl = averagePathLength(seq(site('l1'), site('l2'), site('l3')), (id) => counts[id]!);
  assert.equal(apl.normalized, 1.5);
  assert.ok(Math.abs(apl.unnormalized - 1.5) < 1e-12);
});

/** The explicit unit graph of a structure: nodes with a nonlinearity flag and predecessor groups. */
interface Node {
  nonlinear: boolean;
  groups: number[][];
}

function unitGraph(structure: Structure, masks: Map<string, boolean[]>): { nodes: Node[]; output: number } {
  const nodes: Node[] = [{ nonlinear: false, groups: [] }];
  const build = (s: Structure, frontier: number[]): number[] => {
    switch (s.kind) {
      case 'site':
        return masks.get(s.site)!.map((nonlinear) => nodes.push({ nonlinear, groups: [frontier] }) - 1);
      case 'seq':
        return s.items.reduce((f, item) => build(item, f), frontier);
      case 'residual': {
        const branch = build(s.branch, frontier);
        const shortcut = build(s.shortcut, frontier);
        return [nodes.push({ nonlinear: false, groups: [branch, shortcut] }) - 1];
      }
    }
  };
  const last = build(structure, [0]);
  const output = nodes.push({ nonlinear: false, groups: [last] }) - 1;
  return { nodes, output };
}

/** Every input→output path, enumerated one by one: (number of paths, mean nonlinear count). */
function enumerate(nodes: Node[], output: number): { paths: number; mean: number } {
  let paths = 0;
  let total = 0;
  const visit = (node: number, count: number): void => {
    if (node === 0) {
      paths += 1;
      total += count;
      return;
    }
    const n = nodes[node]!;
    for (const pred of n.groups.flat()) visit(pred, count + (n.nonlinear ? 1 : 0));
  };
  visit(output, 0);
  return { paths, mean: total / paths };
}

/** Mean nonlinear count of random backward walks: junction sides ½/½, then a uniform unit. */
function monteCarlo(nodes: Node[], output: number, walks: number, rand: Rng): number {
  let total = 0;
  for (let w = 0; w < walks; w++) {
    let node = output;
    while (node !== 0) {
      const n = nodes[node]!;
      if (n.nonlinear) total += 1;
      const group = n.groups[Math.floor(rand() * n.groups.length)]!;
      node = group[Math.floor(rand() * group.length)]!;
    }
  }
  return total / walks;
}

function randomStructure(rand: Rng, depth: number, ids: { next: number }): Structure {
  const items: Structure[] = [];
  const length = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < length; i++) {
    if (depth > 0 && rand() < 0.5) {
      const shortcut = rand() < 0.3 ? site(`s${ids.next++}`) : seq();
      items.push({
        kind: 'residual',
        branch: randomStructure(rand, depth - 1, ids),
        shortcut,
        projection: shortcut.kind === 'site',
      });
    } else items.push(site(`s${ids.next++}`));
  }
  return seq(...items);
}

test('on random small residual graphs the DP matches brute-force enumeration and a Monte-Carlo backward walk', () => {
  const rand = mulberry32(2024);
  for (let trial = 0; trial < 25; trial++) {
    const ids = { next: 0 };
    const structure = randomStructure(rand, 2, ids);
    const masks = new Map<string, boolean[]>();
    for (let i = 0; i < ids.next; i++)
      masks.set(
        `s${i}`,
        Array.from({ length: 1 + Math.floor(rand() * 3) }, () => rand() < 0.6),
      );
    const units = (id: string) => ({ n: masks.get(id)!.length, k: masks.get(id)!.filter(Boolean).length });
    const apl = averagePathLength(structure, units);
    const { nodes, output } = unitGraph(structure, masks);
    const brute = enumerate(nodes, output);
    assert.ok(Math.abs(Math.exp(apl.logPaths) - brute.paths) < 1e-6 * brute.paths, `trial ${trial}: path count`);
    assert.ok(
      Math.abs(apl.unnormalized - brute.mean) < 1e-9,
      `trial ${trial}: unnormalised ${apl.unnormalized} vs enumerated ${brute.mean}`,
    );
    const mc = monteCarlo(nodes, output, 100_000, rand);
    const tolerance = Math.max(0.01 * apl.normalized, 0.01);
    assert.ok(
      Math.abs(mc - apl.normalized) <= tolerance,
      `trial ${trial}: normalised ${apl.normalized} vs Monte-Carlo ${mc}`,
    );
  }
});

test('on a real ResNet-20: ReLU gives 1 + 9·(½ + 1) = 14.5, α = 1 everywhere gives 0; core-network summary', async () => {
  await selectBackend({ force: 'cpu' });
  const m = buildModel({ kind: 'resnet', inputShape: [8, 8, 1], classes: 2, depth: 20, baseWidth: 4 }, 0);
  const count = (alphaOf: (id: string) => number[]) =>
    new Map(m.sites.map((s) => [s.id, nonlinearUnits(s, alphaOf(s.id), 1e-3)]));
  const relu = coreNetwork(
    m.structure,
    m.sites,
    count((id) => Array.from(m.get(`${id}/alpha`).dataSync())),
  );
  assert.equal(relu.pathLength.normalized, 14.5);
  assert.equal(
    relu.total,
    m.sites.reduce((a, s) => a + s.channels, 0),
  );
  const linear = coreNetwork(
    m.structure,
    m.sites,
    count((id) => new Array(m.site(id).channels).fill(1)),
  );
  assert.deepEqual(
    [linear.pathLength.normalized, linear.pathLength.unnormalized, linear.total, linear.effectiveWidth],
    [0, 0, 0, 0],
  );
  // Keep two channels of the stem and one of the first block's middle layer nonlinear.
  const sparse = coreNetwork(
    m.structure,
    m.sites,
    count((id) => {
      const n = m.site(id).channels;
      if (id === 'stem') return [0, 0.5, ...new Array(n - 2).fill(1)];
      if (id === 's0b0/mid') return [0.2, ...new Array(n - 1).fill(1)];
      return new Array(n).fill(1);
    }),
  );
  assert.equal(sparse.pathLength.normalized, 2 / 4 + 0.5 * (1 / 4));
  assert.deepEqual([sparse.total, sparse.effectiveWidth], [3, 1.5]);
  assert.deepEqual(
    sparse.fractions.slice(0, 2).map((f) => f.fraction),
    [0.5, 0.25],
  );
  assert.throws(() => nonlinearUnits(m.site('stem'), [1, 1], 1e-3), /expected 4 α values/);
  m.dispose();
});
