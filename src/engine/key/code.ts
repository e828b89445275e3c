/**
 * What code a stage runs: the transitive closure of local modules its defining module imports,
 * each file digested after normalisation, and the resolved versions of the npm packages the
 * closure imports. Normalisation = esbuild's whitespace minification of the type-stripped
 * module, so comments, formatting and type annotations do not count; anything that changes
 * what runs does. The closure stops at the engine (its sources here, its npm package in a
 * user's project): what the engine does to a result is keyed by ENGINE_VERSION instead.
 */
import { createHash } from 'node:crypto';
import { uniqueSuffix } from '../core/unique.ts';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Loader } from 'esbuild';
import { LineaError } from '../core/errors.ts';
import { type FileStat, racy, sameStat, statOf } from '../core/file-stat.ts';
import { ENGINE_VERSION } from './fingerprint.ts';
import { trusted } from '../core/observed-reads.ts';
import { compiledTwin, engineSource } from '../load/engine-source.ts';
import { sha256, type FileDigest } from '../core/json.ts';

export interface CodeDigest {
  /** Local files of the closure (POSIX paths relative to the project root) → normalised digest. */
  readonly files: Readonly<Record<string, FileDigest>>;
  /** npm packages the closure imports → resolved version. */
  readonly packages: Readonly<Record<string, string>>;
}

/** Packages whose code is covered by the engine version rather than by their npm version. */
const SELF_PACKAGES = new Set(['linea']);

/**
 * The engine's own sources (this folder and the public entry beside it, `src/index.ts`), reached
 * where stages import the engine from source, as this repository's do. A stage's closure stops
 * there as it stops at the installed `linea-engine` package: otherwise every engine commit (a new
 * command, a refactor) would change every key and recompute results whose numbers cannot change.
 * A change that does alter what a stage computes or how its result is stored bumps ENGINE_VERSION
 * (test/engine-version.test.ts reminds).
 */
// This file sits in the engine's key/ room: the engine is the folder above it.
const ENGINE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENGINE_ENTRY = resolve(ENGINE_DIR, '..', 'index.ts');

function isEngineSource(path: string): boolean {
  if (path === ENGINE_ENTRY || path.startsWith(ENGINE_DIR + sep)) return true;
  // The compiled engine of this checkout: its sources are the engine too (load/engine-source.ts).
  const source = engineSource();
  return source !== undefined && compiledTwin(source, path) !== undefined;
}

const LOADERS: Record<string, Loader> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
  '.json': 'json',
};

/**
 * Digest the code of several stage modules at once (one esbuild pass over all of them).
 * `root` is the project root: paths in the result are relative to it so that keys do not
 * depend on where the project is checked out.
 */
export async function digestCode(root: string, moduleUrls: readonly string[]): Promise<Map<string, CodeDigest>> {
  // esbuild is loaded only when a closure has to be found again (the stamps below missed).
  const { build, transformSync } = await import('esbuild');
  const entries = [...new Set(moduleUrls)].map((url) => fileURLToPath(url));
  let metafile;
  try {
    ({ metafile } = await trusted(() =>
      build({
        entryPoints: entries,
        absWorkingDir: root,
        bundle: true,
        write: false,
        metafile: true,
        packages: 'external',
        platform: 'node',
        format: 'esm',
        outdir: join(root, '.linea-unused-out'),
        logLevel: 'silent',
      }),
    ));
  } catch (error) {
    const detail = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors
      ?.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`)
      .join('\n  ');
    throw new LineaError(`cannot read the stages' code:\n  ${detail ?? String(error)}`, 'config');
  }
  const lock = readLockfile(root);
  const result = new Map<string, CodeDigest>();
  for (const url of new Set(moduleUrls)) {
    const entry = toPosix(relative(root, fileURLToPath(url)));
    const files: Record<string, FileDigest> = {};
    const packages: Record<string, string> = {};
    const stack = [entry];
    while (stack.length) {
      const path = stack.pop()!;
      if (path in files) continue;
      const meta = metafile.inputs[path];
      if (!meta) throw new LineaError(`code closure: esbuild did not report ${path}`, 'config');
      files[path] = normalisedDigest(resolve(root, path), transformSync);
      for (const imp of meta.imports) {
        if (imp.external) {
          const name = packageName(imp.path);
          if (name && !SELF_PACKAGES.has(name)) packages[name] = resolveVersion(root, name, lock);
        } else if (!(imp.path in files) && !isEngineSource(resolve(root, imp.path))) {
          stack.push(imp.path);
        }
      }
    }
    // Frozen: shared by every instance of the stage, and serialised once for all their keys (fingerprint.ts).
    result.set(url, { files: Object.freeze(sortKeys(files)), packages: Object.freeze(sortKeys(packages)) });
  }
  return result;
}

/** What a file was when a digest was taken; null where it did not exist (a lockfile added later). */
type FileThen = {
  /** Its stat; absent when it had been modified too recently to trust (file-stat.ts racy). */
  readonly stat?: FileStat;
  /** sha256 of its bytes; absent where the digest's own read of them is not known. */
  readonly sha?: string;
} | null;

/** A code digest and every file whose change could change it, as it was when it was taken. */
interface Stamped {
  readonly digest: CodeDigest;
  /** Absolute path → what it was then. */
  readonly files: Readonly<Record<string, FileThen>>;
}

const STAMPS_VERSION = 2;

/**
 * `digestCode` behind a cache keyed by file stat, then by content, as git's index does: a stage
 * module whose closure files, lockfile, imported packages' package.json and esbuild (the
 * normaliser) all have the stat they had when its digest was taken gets that digest back without
 * reading them. Where a stat differs, a file's bytes are compared with the ones the digest was
 * made from: a file saved again unchanged (a generator that rewrites its sources, a checkout,
 * `touch`) costs a read and a hash, not an esbuild pass. Anything else (a file edited, replaced,
 * added to the lockfile) digests that module again; an edit to a file of a closure changes its
 * bytes, a new import included. `stampFile` is where the stamps are kept (in the cache); one that
 * cannot be read or written only costs the pass.
 */
export async function stampedCodeDigests(
  root: string,
  moduleUrls: readonly string[],
  stampFile: string,
): Promise<Map<string, CodeDigest>> {
  const stamps = readStamps(stampFile);
  const result = new Map<string, CodeDigest>();
  const missing: string[] = [];
  let restamped = false;
  // A file shared by many stages' closures (the models) is read and hashed once per command.
  const contents = new Map<string, string | null>();
  for (const url of new Set(moduleUrls)) {
    const module = fileURLToPath(url);
    const entry = stamps[module];
    const checked = entry && checkFiles(entry.files, contents);
    if (!entry || !checked) {
      missing.push(url);
      continue;
    }
    result.set(url, { files: Object.freeze(entry.digest.files), packages: Object.freeze(entry.digest.packages) });
    // Same bytes under new stats: stamp the stats now, so the next command need not read them.
    if (checked !== entry.files) {
      stamps[module] = { digest: entry.digest, files: checked };
      restamped = true;
    }
  }
  if (!missing.length) {
    if (restamped) writeStamps(stampFile, stamps);
    return result;
  }
  const computed = await digestCode(root, missing);
  for (const [url, digest] of computed) {
    result.set(url, digest);
    const files: Record<string, FileThen> = {};
    for (const path of dependenciesOf(root, digest)) files[path] = fileNow(path, digestedBytes.get(path));
    stamps[fileURLToPath(url)] = { digest, files };
  }
  writeStamps(stampFile, stamps);
  return result;
}

/**
 * Whether every file is as it was: the same `files` where each stat still holds; a refreshed copy
 * where some file's stat moved but its bytes did not; undefined where anything changed.
 */
function checkFiles(
  files: Readonly<Record<string, FileThen>>,
  contents: Map<string, string | null>,
): Readonly<Record<string, FileThen>> | undefined {
  const contentOnce = (path: string) => {
    if (!contents.has(path)) contents.set(path, contentOf(path));
    return contents.get(path);
  };
  let refreshed: Record<string, FileThen> | undefined;
  for (const [path, then] of Object.entries(files)) {
    const stat = statOf(path);
    if (then === null || stat === null) {
      if (then !== stat) return undefined;
      continue;
    }
    if (then.stat && sameStat(stat, then.stat)) continue;
    if (!then.sha || contentOnce(path) !== then.sha) return undefined;
    refreshed ??= { ...files };
    refreshed[path] = racy([stat]) ? { sha: then.sha } : { stat, sha: then.sha };
  }
  return refreshed ?? files;
}

/**
 * What a file is now, for a new stamp: its stat unless too fresh to trust (an edit in the same
 * mtime tick, or between the digest's read and this stat, would go unseen), and `sha`, the hash
 * of the bytes the digest was made from. A file the digest did not read itself (the lockfile,
 * a package.json) gets the hash of its bytes now only when its stat is not fresh either.
 */
function fileNow(path: string, sha: string | undefined): FileThen {
  const stat = statOf(path);
  if (stat === null) return null;
  if (racy([stat])) return sha ? { sha } : {};
  const bytes = sha ?? contentOf(path);
  return bytes ? { stat, sha: bytes } : { stat };
}

/** sha256 of a file's bytes, or null where it cannot be read. */
function contentOf(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}

function dependenciesOf(root: string, digest: CodeDigest): string[] {
  return [
    ...Object.keys(digest.files).map((file) => resolve(root, file)),
    join(root, 'package-lock.json'),
    ...Object.keys(digest.packages).map((name) => join(root, 'node_modules', name, 'package.json')),
    esbuildManifest(),
  ];
}

function esbuildManifest(): string {
  return createRequire(import.meta.url).resolve('esbuild/package.json');
}

/**
 * Stamps hold digests made by this code under this ENGINE_VERSION: stamps written by an engine
 * that drew closures differently (before they stopped at the engine, say) must not be answered
 * from, or its keys would come back with them.
 */
function readStamps(file: string): Record<string, Stamped> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as {
      version?: number;
      engine?: string;
      modules?: Record<string, Stamped>;
    };
    return parsed.version === STAMPS_VERSION && parsed.engine === ENGINE_VERSION && parsed.modules
      ? parsed.modules
      : {};
  } catch {
    return {};
  }
}

/** Written whole and renamed into place; concurrent commands may each write, the last one wins. */
function writeStamps(file: string, modules: Record<string, Stamped>): void {
  const tmp = `${file}.${process.pid}-${uniqueSuffix()}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ version: STAMPS_VERSION, engine: ENGINE_VERSION, modules }));
    renameSync(tmp, file);
  } catch {
    // A read-only cache (status on someone else's store): the next command digests again.
  }
}

/** The digest a closure records for one file (exported for the engine-version reminder test). */
export async function normalisedFileDigest(path: string): Promise<FileDigest> {
  const { transformSync } = await import('esbuild');
  return normalisedDigest(path, transformSync);
}

/**
 * Normalised digests by (extension, sha256 of the bytes): within one process (the view, a test)
 * a file is always read, and esbuild runs only on bytes not seen before.
 */
const normalisedCache = new Map<string, FileDigest>();
/** Path → sha256 of the bytes its latest normalised digest was made from (for the stamps). */
const digestedBytes = new Map<string, string>();

function normalisedDigest(path: string, transformSync: typeof import('esbuild').transformSync): FileDigest {
  const bytes = readFileSync(path);
  const sha = createHash('sha256').update(bytes).digest('hex');
  digestedBytes.set(path, sha);
  const loader = LOADERS[extname(path)];
  const cacheKey = `${loader ?? ''}:${sha}`;
  const cached = normalisedCache.get(cacheKey);
  if (cached) return cached;
  const source = bytes.toString('utf8');
  let normalised = source;
  if (loader && loader !== 'json') {
    normalised = trusted(() =>
      transformSync(source, { loader, minifyWhitespace: true, legalComments: 'none', format: 'esm' }),
    ).code;
  }
  const digest = sha256(normalised) as FileDigest;
  normalisedCache.set(cacheKey, digest);
  return digest;
}

/** `@scope/pkg/sub` → `@scope/pkg`; `pkg/sub` → `pkg`; builtins and relative paths → undefined. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || isBuiltin(specifier) || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

type Lockfile = { packages?: Record<string, { version?: string }> } | undefined;

function readLockfile(root: string): Lockfile {
  try {
    return JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  } catch {
    return undefined;
  }
}

function resolveVersion(root: string, name: string, lock: Lockfile): string {
  const locked = lock?.packages?.[`node_modules/${name}`]?.version;
  if (locked) return locked;
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
