/**
 * The engine's TypeScript sources, when the running engine was compiled from a checkout of them.
 *
 * In this repository the pipeline and stages import the engine from source (`../src/index.ts`, or
 * `linea`, which the package's exports point at the same file), while `bin/linea.js` runs the
 * compiled engine in packages/engine/dist once it is current: start-up without tsx is about
 * 300 ms cheaper. One process must hold one engine (stages are checked against the engine that
 * runs them), so an import of a source file whose compiled twin is running resolves to the twin
 * (typescript-hooks.ts), and a stage's code closure stops at the sources as it stops at the
 * compiled engine (key/code.ts).
 *
 * packages/engine/source-tree.json (committed, outside the package's `files`) says where the sources
 * are, so an installed linea-engine maps nothing. `npm run build:engine` writes the stamp the bin
 * checks, packages/engine/sources.json: every compiled source (and the view page's, bundled into
 * dist/view/app.js) with its stat when compiled.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type FileStat, sameStat, statOf } from '../core/file-stat.ts';

export interface SourceStamp {
  readonly version: 1;
  /** Paths relative to the checkout's root → their stat when the build read them. */
  readonly files: Readonly<Record<string, FileStat>>;
}

export interface EngineSource {
  /** The checkout's `src/` (absolute path), which the running engine's dist/ mirrors file by file. */
  readonly srcDir: string;
  /** The compiled engine's root (absolute path): dist/index.js is `src/index.ts` compiled. */
  readonly distDir: string;
}

/** This module's place: `<dist>/engine/load/engine-source.js` compiled, `src/engine/load/` as source. */
const HERE = dirname(fileURLToPath(import.meta.url));
const RUNNING_ROOT = resolve(HERE, '..', '..');

/**
 * Beside dist/ in this repository only (committed, and not in the package's files): where the
 * sources dist/ was compiled from are. Not the build's stamp (sources.json), which a build removes
 * while it runs: a command started just before must still map the sources to the engine it runs.
 */
const SOURCE_TREE = 'source-tree.json';

let found: EngineSource | null | undefined;

/**
 * The sources the running engine was compiled from, or undefined when it runs from source (tsx)
 * or from an installed package. Read once per process.
 */
export function engineSource(): EngineSource | undefined {
  if (found !== undefined) return found ?? undefined;
  found = null;
  if (import.meta.url.endsWith('.ts')) return undefined;
  const packageDir = dirname(RUNNING_ROOT);
  try {
    const tree = JSON.parse(readFileSync(join(packageDir, SOURCE_TREE), 'utf8')) as { src?: unknown };
    if (typeof tree.src === 'string') found = { srcDir: resolve(packageDir, tree.src), distDir: RUNNING_ROOT };
  } catch {
    // an installed package: no sources beside it
  }
  return found ?? undefined;
}

/**
 * The compiled twin (file URL) of an engine source file (`src/index.ts`, `src/engine/**.ts`),
 * or undefined for any other file.
 */
export function compiledTwin(source: EngineSource, path: string): string | undefined {
  const rel = relative(source.srcDir, path);
  if (rel !== 'index.ts' && !rel.startsWith(`engine${sep}`)) return undefined;
  if (!rel.endsWith('.ts')) return undefined;
  const twin = join(source.distDir, `${rel.slice(0, -3)}.js`);
  return existsSync(twin) ? pathToFileURL(twin).href : undefined;
}

/**
 * Whether `stamp` (the parsed sources.json) is a stamp in which every file still has the stat it
 * had when the build read it: an edit, a replaced or a removed source says no.
 */
export function stampIsCurrent(root: string, stamp: unknown): boolean {
  const files = (stamp as Partial<SourceStamp> | null)?.version === 1 ? (stamp as SourceStamp).files : undefined;
  if (typeof files !== 'object' || files === null) return false;
  for (const [path, then] of Object.entries(files)) if (!sameStat(statOf(join(root, path)), then)) return false;
  return true;
}

/**
 * The compiled twin of a module URL when it names a source of the running engine (see above);
 * undefined for any other module, and always when the engine runs from source or a package.
 */
export function compiledTwinOf(url: string): string | undefined {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return undefined;
  const source = engineSource();
  return source && compiledTwin(source, fileURLToPath(url));
}

/** Whether a module URL is a file of the running compiled engine of this checkout. */
export function isRunningEngine(url: string): boolean {
  const source = engineSource();
  return source !== undefined && url.startsWith('file:') && fileURLToPath(url).startsWith(source.distDir + sep);
}
