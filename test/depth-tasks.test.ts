/**
 * Tasks that need depth (docs/science.md, "Tasks"): the random hierarchy model, Fashion-MNIST
 * mosaics labelled by a relation between items, and the deep teacher as the pipeline prepares it.
 * Each generator is deterministic per seed, balanced across classes, and labels what it claims to.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { classCounts, type RawImages } from '../src/models/data/dataset.ts';
import {
  checkHierarchyOptions,
  hierarchyTask,
  parseHierarchy,
  randomGrammar,
  sampleHierarchy,
} from '../src/models/data/hierarchy.ts';
import { mosaicLabel, mosaicTask } from '../src/models/data/mosaic.ts';
import { prepareData } from '../src/models/data/prepare.ts';
import { mulberry32 } from '../src/models/random.ts';
import { REPO, type RunJson } from './helpers/project.ts';

const HIERARCHY = { levels: 3, vocabulary: 6, classes: 3, rules: 4 } as const;

describe('random hierarchy model', () => {
  test('production rules: m distinct 2×2 blocks per symbol, none produced by two symbols of a level', () => {
    const grammar = randomGrammar(HIERARCHY, 5);
    assert.equal(grammar.rules.length, 3);
    grammar.rules.forEach((level, l) => {
      assert.equal(level.length, l === 2 ? HIERARCHY.classes : HIERARCHY.vocabulary, `symbols at level ${l}`);
      const seen = new Map<string, number>();
      level.forEach((productions, symbol) => {
        assert.equal(productions.length, HIERARCHY.rules);
        for (const tuple of productions) {
          assert.equal(tuple.length, 4);
          assert.ok(tuple.every((x) => Number.isInteger(x) && x >= 0 && x < HIERARCHY.vocabulary));
          const key = tuple.join(',');
          assert.ok(!seen.has(key), `block ${key} has two parents at level ${l}: ${seen.get(key)} and ${symbol}`);
          seen.set(key, symbol);
        }
      });
    });
  });

  test('every sample parses back to its label; a block outside the grammar does not parse', () => {
    const grammar = randomGrammar(HIERARCHY, 1);
    const rand = mulberry32(9);
    for (let i = 0; i < 300; i++) {
      const label = i % HIERARCHY.classes;
      const grid = sampleHierarchy(grammar, label, rand);
      assert.equal(grid.length, 64);
      assert.equal(parseHierarchy(grammar, grid), label);
    }
    // A vocabulary of 6 has 1,296 blocks and level 0 uses 24: some block is not a production.
    const used = new Set(grammar.rules[0]!.flat().map((t) => t.join(',')));
    let unused = [0, 0, 0, 0];
    for (let code = 0; used.has(unused.join(',')); code++)
      unused = [code % 6, Math.floor(code / 6) % 6, Math.floor(code / 36) % 6, 0];
    const grid = sampleHierarchy(grammar, 0, rand);
    [grid[0], grid[1], grid[8], grid[9]] = unused as [number, number, number, number];
    assert.equal(parseHierarchy(grammar, grid), -1);
  });

  test('a task is deterministic per seed, balanced exactly, one-hot, and the labels parse from the inputs', () => {
    const a = hierarchyTask({ ...HIERARCHY, train: 301, test: 90, seed: 4 });
    const b = hierarchyTask({ ...HIERARCHY, train: 301, test: 90, seed: 4 });
    const c = hierarchyTask({ ...HIERARCHY, train: 301, test: 90, seed: 5 });
    assert.deepEqual(a.train.x, b.train.x);
    assert.deepEqual(a.test.labels, b.test.labels);
    assert.notDeepEqual(a.train.x, c.train.x);
    assert.deepEqual(a.train.shape, [8, 8, 6]);
    assert.deepEqual(classCounts(a.train), [101, 100, 100]);
    assert.deepEqual(classCounts(a.test), [30, 30, 30]);
    for (let i = 0; i < 40; i++) {
      const grid = new Int32Array(64);
      for (let p = 0; p < 64; p++) {
        const hot = a.train.x.subarray((i * 64 + p) * 6, (i * 64 + p + 1) * 6);
        assert.equal(
          hot.reduce((s, v) => s + v, 0),
          1,
          'one symbol per position',
        );
        grid[p] = hot.indexOf(1);
      }
      assert.equal(parseHierarchy(a.grammar, grid), a.train.labels[i]);
    }
  });

  test('size repeats each symbol into a square block, so L = 1 and L = 3 share one input shape', () => {
    const small = hierarchyTask({
      levels: 1,
      vocabulary: 4,
      classes: 2,
      rules: 2,
      size: 8,
      train: 4,
      test: 2,
      seed: 0,
    });
    assert.deepEqual(small.train.shape, [8, 8, 4]);
    const x = small.train.x;
    const symbolAt = (y: number, col: number) => x.subarray((y * 8 + col) * 4, (y * 8 + col + 1) * 4).indexOf(1);
    for (let y = 0; y < 8; y++)
      for (let col = 0; col < 8; col++) assert.equal(symbolAt(y, col), symbolAt(y - (y % 4), col - (col % 4)));
  });

  test('impossible settings are errors that name the field and the fix', () => {
    assert.throws(
      () => checkHierarchyOptions({ levels: 2, vocabulary: 2, classes: 2, rules: 9 }),
      /2 symbols × 9 rules need 18 distinct 2×2 blocks, but a vocabulary of 2 has only 16; lower rules or raise vocabulary/,
    );
    assert.throws(
      () => checkHierarchyOptions({ levels: 3, vocabulary: 4, classes: 2, rules: 2, size: 12 }),
      /size 12 is not a multiple of the 2\^3 = 8 grid/,
    );
    assert.throws(
      () => checkHierarchyOptions({ levels: 0, vocabulary: 4, classes: 2, rules: 2 }),
      /levels must be a positive integer/,
    );
  });
});

/** k classes of 4×4 grey images, each class a constant brightness 10·(class + 1), plus a per-image mark. */
function items(k: number, perClass: number): RawImages {
  const n = k * perClass;
  const pixels = new Uint8Array(n * 16);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % k;
    pixels.fill(10 * ((i % k) + 1), i * 16, (i + 1) * 16);
    pixels[i * 16 + 15] = 200 + (i % 50);
  }
  return { pixels, labels, shape: [4, 4, 1], classes: k };
}

describe('Fashion-MNIST mosaics', () => {
  const source = items(5, 20);
  /** The item classes of example n (read back from each slot's brightness), as numbers in `classes`' order. */
  const slots = (m: RawImages, n: number, classes: number[]): number[] => {
    const [H, W] = m.shape as [number, number];
    const out: number[] = [];
    for (let r = 0; r < H; r += 4)
      for (let c = 0; c < W; c += 4) out.push(classes.indexOf(m.pixels[n * H * W + r * W + c]! / 10 - 1));
    return out;
  };

  test('sum-mod: items side by side, label = sum of their class numbers mod k, balanced, deterministic', () => {
    const classes = [4, 0, 2];
    const m = mosaicTask(source, { items: 2, classes, rule: 'sum-mod', count: 300, seed: 1 });
    assert.deepEqual(m.shape, [4, 8, 1]);
    assert.equal(m.classes, 3);
    assert.deepEqual(classCounts({ labels: m.labels, classes: 3 }), [100, 100, 100]);
    for (let n = 0; n < 300; n++) {
      const k = slots(m, n, classes);
      assert.ok(
        k.every((c) => c >= 0),
        `example ${n} uses only the chosen classes`,
      );
      assert.equal(m.labels[n], mosaicLabel('sum-mod', k, 3));
    }
    assert.deepEqual(mosaicTask(source, { items: 2, classes, rule: 'sum-mod', count: 300, seed: 1 }).pixels, m.pixels);
    assert.notDeepEqual(
      mosaicTask(source, { items: 2, classes, rule: 'sum-mod', count: 300, seed: 2 }).pixels,
      m.pixels,
    );
  });

  test('same: four items in a 2×2 mosaic, label 1 exactly when all share a class, half of each', () => {
    const classes = [1, 3];
    const m = mosaicTask(source, { items: 4, classes, rule: 'same', count: 200, seed: 0 });
    assert.deepEqual(m.shape, [8, 8, 1]);
    assert.deepEqual(classCounts({ labels: m.labels, classes: 2 }), [100, 100]);
    for (let n = 0; n < 200; n++) assert.equal(m.labels[n], mosaicLabel('same', slots(m, n, classes), 2));
  });

  test('the label is not a function of any one item: every item class occurs under every label', () => {
    const classes = [0, 1, 2, 3];
    const m = mosaicTask(source, { items: 2, classes, rule: 'sum-mod', count: 800, seed: 3 });
    for (let slot = 0; slot < 2; slot++) {
      const pairs = new Set<string>();
      for (let n = 0; n < 800; n++) pairs.add(`${slots(m, n, classes)[slot]}→${m.labels[n]}`);
      assert.equal(pairs.size, 16, `slot ${slot}: all 4 × 4 (item class, label) pairs`);
    }
  });

  test('bad settings name what is wrong', () => {
    assert.throws(
      () => mosaicTask(source, { items: 5, classes: [0, 1], rule: 'same', count: 4, seed: 0 }),
      /items must be 2, 3 or 4, not 5/,
    );
    assert.throws(
      () => mosaicTask(source, { items: 2, classes: [0, 0], rule: 'same', count: 4, seed: 0 }),
      /item classes repeat/,
    );
    assert.throws(
      () => mosaicTask(source, { items: 2, classes: [0, 7], rule: 'same', count: 4, seed: 0 }),
      /item class 7 is not a class of the source \(0…4\)/,
    );
  });
});

describe('prepare-data with the new sources', () => {
  test('a hierarchy task by spec, normalised, every class kept', () => {
    const data = prepareData({
      source: { kind: 'hierarchy', levels: 2, vocabulary: 5, classes: 3, rules: 3, train: 120, test: 60 },
      classes: [0, 1, 2],
      seed: 2,
    });
    assert.deepEqual(data.train.shape, [4, 4, 5]);
    assert.deepEqual(classCounts(data.train), [40, 40, 40]);
    assert.throws(
      () => prepareData({ source: { kind: 'hierarchy', levels: 2, vocabulary: 2, classes: 2, rules: 20 } }),
      /lower rules or raise vocabulary/,
    );
  });
});

describe('the deep-teacher task through the CLI (no backend chosen before prepare-data runs)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'linea-tasks-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('linea run --preset smoke --ablate task=teacher --only prepare-data prepares it', async () => {
    const result = await execa(
      process.execPath,
      [
        join(REPO, 'bin', 'linea.js'),
        'run',
        '--preset',
        'smoke',
        '--ablate',
        'task=teacher-2,rhm-1',
        '--only',
        'prepare-data',
        '--cache-dir',
        join(dir, 'cache'),
        '--json',
      ],
      { cwd: REPO, reject: false, env: { CI: 'true' } },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const run = JSON.parse(result.stdout) as RunJson;
    assert.deepEqual(run.stages.map((s) => `${s.id} ${s.status}`).sort(), [
      'prepare-data[task=rhm-1] ran',
      'prepare-data[task=teacher-2] ran',
    ]);
  });
});

test('mosaics, first: the label is the first item’s class; the other item is a distractor', () => {
  const source = items(3, 10);
  const m = mosaicTask(source, { items: 2, classes: [2, 0], rule: 'first', count: 60, seed: 4 });
  assert.deepEqual(classCounts({ labels: m.labels, classes: 2 }), [30, 30]);
  for (let n = 0; n < 60; n++) {
    const first = m.pixels[n * 32]! / 10 - 1;
    assert.equal(m.labels[n], [2, 0].indexOf(first));
  }
});
