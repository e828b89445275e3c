/**
 * The Random Hierarchy Model (Cagnetta, Petrini, Tomasini, Favero, Wyart 2023, "How deep neural
 * networks learn compositional data"), laid out in two dimensions so that it matches a CNN's
 * convolution-and-pooling hierarchy: every symbol of level ℓ is rewritten as a 2×2 block of
 * level-(ℓ−1) symbols, so L levels give a 2^L × 2^L grid of symbols, each one-hot over the
 * vocabulary (the image's channels). The label is the root symbol.
 *
 * The grammar:
 * - the root has `classes` symbols, every lower level `vocabulary` symbols;
 * - each symbol has `rules` productions (its synonyms), each a 4-tuple of symbols one level down;
 * - no 4-tuple is produced by two symbols of the same level (the grammar is unambiguous), so
 *   the label is a function of the input, and recovering it means parsing the whole hierarchy.
 * `levels` is the difficulty knob: with one level the label is a lookup of one 2×2 block; with
 * three, it is a composition of 21 lookups that no single layer of features sees.
 */
import { deriveSeed, mulberry32, type Rng } from '../random.ts';
import type { Dataset } from './dataset.ts';

/** Children of one production: 4 symbols, row-major in their 2×2 block. */
const ARITY = 4;

export interface HierarchyOptions {
  /** L: levels of production rules between the root and the input. */
  readonly levels: number;
  /** v: symbols at every level below the root (the input's channels). */
  readonly vocabulary: number;
  /** n_c: root symbols, the classes. */
  readonly classes: number;
  /** m: productions per symbol (synonyms). */
  readonly rules: number;
  /**
   * Side of the image: the 2^L grid is enlarged by repeating each symbol into a square block
   * (a multiple of 2^L; default 2^L), so tasks of different L can share one network.
   */
  readonly size?: number;
}

/** The production rules: `rules[ℓ][symbol][k]` is the k-th 4-tuple a level-ℓ symbol rewrites to (ℓ = L − 1 is the root's). */
export interface Grammar {
  readonly options: Required<HierarchyOptions>;
  readonly rules: readonly (readonly (readonly (readonly number[])[])[])[];
}

export function checkHierarchyOptions(options: HierarchyOptions): Required<HierarchyOptions> {
  const { levels, vocabulary, classes, rules } = options;
  const grid = 2 ** levels;
  const size = options.size ?? grid;
  for (const [name, value] of Object.entries({ levels, vocabulary, classes, rules, size })) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`hierarchy: ${name} must be a positive integer, not ${value}`);
  }
  if (levels > 6) throw new Error(`hierarchy: levels = ${levels} gives a ${grid}×${grid} grid; at most 6 levels`);
  // Every level's symbols need `rules` distinct tuples each, out of v^4.
  const tuples = vocabulary ** ARITY;
  const wanted = Math.max(classes, vocabulary) * rules;
  if (wanted > tuples) {
    throw new Error(
      `hierarchy: ${Math.max(classes, vocabulary)} symbols × ${rules} rules need ${wanted} distinct 2×2 blocks, but a vocabulary of ${vocabulary} has only ${tuples}; lower rules or raise vocabulary`,
    );
  }
  if (size % grid !== 0) {
    throw new Error(
      `hierarchy: size ${size} is not a multiple of the 2^${levels} = ${grid} grid; use ${grid}, ${2 * grid}, …`,
    );
  }
  return { levels, vocabulary, classes, rules, size };
}

/** Draw `count` distinct integers below `range` (Floyd's algorithm, so v^4 need not be enumerated). */
function distinct(rand: Rng, range: number, count: number): number[] {
  const chosen = new Set<number>();
  for (let j = range - count; j < range; j++) {
    const t = Math.floor(rand() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  // A set's order follows insertion, which depends on the draws: shuffle it so the order is random too.
  const out = [...chosen];
  for (let i = out.length - 1; i > 0; i--) {
    const k = Math.floor(rand() * (i + 1));
    [out[i], out[k]] = [out[k]!, out[i]!];
  }
  return out;
}

function tupleOf(code: number, vocabulary: number): number[] {
  const out = new Array<number>(ARITY);
  for (let i = ARITY - 1; i >= 0; i--) {
    out[i] = code % vocabulary;
    code = Math.floor(code / vocabulary);
  }
  return out;
}

/** The grammar of one seed: each level's productions drawn without replacement, so no tuple has two parents. */
export function randomGrammar(options: HierarchyOptions, seed: number): Grammar {
  const o = checkHierarchyOptions(options);
  const rules: number[][][][] = [];
  for (let level = 0; level < o.levels; level++) {
    const symbols = level === o.levels - 1 ? o.classes : o.vocabulary;
    const codes = distinct(mulberry32(deriveSeed(seed, 'hierarchy', level)), o.vocabulary ** ARITY, symbols * o.rules);
    rules.push(
      Array.from({ length: symbols }, (_, s) =>
        codes.slice(s * o.rules, (s + 1) * o.rules).map((c) => tupleOf(c, o.vocabulary)),
      ),
    );
  }
  return { options: o, rules };
}

/** Write the level-0 symbols under `symbol` (at `level`) into the grid, top-left corner (row, col), block side 2^(level+1). */
function expand(
  grammar: Grammar,
  rand: Rng,
  level: number,
  symbol: number,
  grid: Int32Array,
  side: number,
  row: number,
  col: number,
): void {
  const productions = grammar.rules[level]![symbol]!;
  const children = productions[Math.floor(rand() * productions.length)]!;
  const half = 2 ** level;
  for (let k = 0; k < ARITY; k++) {
    const r = row + (k >> 1) * half;
    const c = col + (k & 1) * half;
    if (level === 0) grid[r * side + c] = children[k]!;
    else expand(grammar, rand, level - 1, children[k]!, grid, side, r, c);
  }
}

/** One example of class `label`: the 2^L × 2^L grid of input symbols. */
export function sampleHierarchy(grammar: Grammar, label: number, rand: Rng): Int32Array {
  const side = 2 ** grammar.options.levels;
  const grid = new Int32Array(side * side);
  expand(grammar, rand, grammar.options.levels - 1, label, grid, side, 0, 0);
  return grid;
}

/**
 * Parse a grid back to its root symbol, or −1 if some block has no parent (not produced by this
 * grammar). Unambiguity makes the parse unique; the tests use it to check that labels are a
 * function of the input.
 */
export function parseHierarchy(grammar: Grammar, grid: Int32Array): number {
  const { levels, vocabulary } = grammar.options;
  let side = 2 ** levels;
  let symbols = Array.from(grid);
  for (let level = 0; level < levels; level++) {
    const parent = new Map<number, number>();
    grammar.rules[level]!.forEach((productions, s) => {
      for (const t of productions)
        parent.set(
          t.reduce((code, x) => code * vocabulary + x, 0),
          s,
        );
    });
    const next: number[] = [];
    const half = side / 2;
    for (let r = 0; r < half; r++) {
      for (let c = 0; c < half; c++) {
        const block = [
          symbols[2 * r * side + 2 * c]!,
          symbols[2 * r * side + 2 * c + 1]!,
          symbols[(2 * r + 1) * side + 2 * c]!,
          symbols[(2 * r + 1) * side + 2 * c + 1]!,
        ];
        const p = parent.get(block.reduce((code, x) => code * vocabulary + x, 0));
        if (p === undefined) return -1;
        next.push(p);
      }
    }
    symbols = next;
    side = half;
  }
  return symbols[0]!;
}

/** The grid as a one-hot image of `size` × `size` × vocabulary, each symbol repeated into a square. */
function oneHot(grid: Int32Array, o: Required<HierarchyOptions>, into: Float32Array, offset: number): void {
  const side = 2 ** o.levels;
  const scale = o.size / side;
  for (let y = 0; y < o.size; y++) {
    for (let x = 0; x < o.size; x++) {
      const symbol = grid[Math.floor(y / scale) * side + Math.floor(x / scale)]!;
      into[offset + (y * o.size + x) * o.vocabulary + symbol] = 1;
    }
  }
}

/**
 * Train and test sets of one seed's grammar: labels balanced exactly (each class gets ⌊n/n_c⌋ or
 * one more, in a shuffled order), inputs drawn independently, so a test example may also occur
 * in training only by chance (there are n_c·m^((4^L−1)/3) distinct inputs).
 */
export function hierarchyTask(options: HierarchyOptions & { train: number; test: number; seed: number }): {
  train: Dataset;
  test: Dataset;
  grammar: Grammar;
} {
  const grammar = randomGrammar(options, options.seed);
  const o = grammar.options;
  const per = o.size * o.size * o.vocabulary;
  const split = (name: string, count: number): Dataset => {
    const rand = mulberry32(deriveSeed(options.seed, 'hierarchy-samples', name));
    const labels = Int32Array.from({ length: count }, (_, i) => i % o.classes);
    for (let i = count - 1; i > 0; i--) {
      const k = Math.floor(rand() * (i + 1));
      [labels[i], labels[k]] = [labels[k]!, labels[i]!];
    }
    const x = new Float32Array(count * per);
    for (let i = 0; i < count; i++) oneHot(sampleHierarchy(grammar, labels[i]!, rand), o, x, i * per);
    return { x, labels, shape: [o.size, o.size, o.vocabulary], classes: o.classes };
  };
  return { train: split('train', options.train), test: split('test', options.test), grammar };
}
