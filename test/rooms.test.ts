// The engine's rooms stay one-way: src/engine/README.md lists its folders lowest first, and a
// room may import only itself and the rooms listed before it. An upward import is how a layered
// code base turns into a ball of mud one convenient shortcut at a time; this check is what stops
// the first one.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';

const ENGINE = resolve(import.meta.dirname, '..', 'src', 'engine');

/** The rooms in the README's table, lowest first. */
export function roomsOf(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## The rooms'));
  return [...section.matchAll(/^\| `([\w-]+)\/` \|/gm)].map((m) => m[1]!);
}

/** Relative module specifiers a file imports (static, re-export, dynamic with a literal, type-only). */
export function importsOf(source: string): string[] {
  const found = [
    ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"](\.[^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm),
    ...source.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ];
  return found.map((m) => m[1]!);
}

interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly why: string;
}

/**
 * Every import that breaks the rule, given the engine's files (path relative to the engine →
 * source) and the rooms in order. Paths use '/'.
 */
export function violations(files: ReadonlyMap<string, string>, rooms: readonly string[]): Violation[] {
  const out: Violation[] = [];
  for (const [file, source] of files) {
    const room = file.split('/')[0]!;
    if (!file.includes('/')) {
      out.push({ file, imports: '', why: 'a file outside the rooms: move it into the folder of its concept' });
      continue;
    }
    if (!rooms.includes(room)) {
      out.push({ file, imports: '', why: `folder '${room}/' is not in the README's table of rooms` });
      continue;
    }
    for (const specifier of importsOf(source)) {
      const target = join(dirname(file), specifier).split(sep).join('/');
      if (target.startsWith('..')) {
        if (target !== '../index.ts' && target !== '../index.js')
          out.push({ file, imports: specifier, why: 'the engine imports nothing outside it but src/index.ts' });
        continue;
      }
      const other = target.split('/')[0]!;
      if (rooms.indexOf(other) > rooms.indexOf(room))
        out.push({ file, imports: specifier, why: `'${room}/' is below '${other}/' in the table of rooms` });
    }
  }
  return out;
}

function engineFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.set(relative(ENGINE, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(ENGINE);
  return files;
}

describe('engine rooms', () => {
  const rooms = roomsOf(readFileSync(join(ENGINE, 'README.md'), 'utf8'));

  it('the README lists every folder of the engine, and only those', () => {
    const folders = new Set([...engineFiles().keys()].filter((f) => f.includes('/')).map((f) => f.split('/')[0]!));
    assert.deepEqual([...rooms].sort(), [...folders].sort());
  });

  it('no room imports a room above it, and nothing outside the engine but its public entry', () => {
    const found = violations(engineFiles(), rooms);
    assert.deepEqual(
      found.map((v) => `${v.file} → ${v.imports}: ${v.why}`),
      [],
    );
  });

  it('the check catches an upward import, a stray file and an unlisted folder', () => {
    const files = new Map([
      ['core/json.ts', "import { Store } from '../store/store.ts';"],
      ['store/store.ts', "import type { Json } from '../core/json.ts';\nconst x = await import('../cli/main.ts');"],
      ['cli/main.ts', "export { run } from '../../models/train.ts';"],
      ['helpers.ts', ''],
      ['misc/thing.ts', ''],
    ]);
    assert.deepEqual(
      violations(files, ['core', 'store', 'cli']).map((v) => `${v.file} ${v.imports}`),
      [
        'core/json.ts ../store/store.ts',
        'store/store.ts ../cli/main.ts',
        'cli/main.ts ../../models/train.ts',
        'helpers.ts ',
        'misc/thing.ts ',
      ],
    );
  });
});
