/**
 * What code a stage runs: the transitive closure of local modules its defining module imports,
 * each file digested after normalisation, and the resolved versions of the npm packages the
 * closure imports. Normalisation = esbuild's whitespace minification of the type-stripped
 * module, so comments, formatting and type annotations do not count; anything that changes
 * what runs does.
 */
import { readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, transformSync, type Loader } from 'esbuild';
import { LineaError } from './errors.ts';
import { sha256, type FileDigest } from './json.ts';

export interface CodeDigest {
  /** Local files of the closure (POSIX paths relative to the project root) → normalised digest. */
  readonly files: Readonly<Record<string, FileDigest>>;
  /** npm packages the closure imports → resolved version. */
  readonly packages: Readonly<Record<string, string>>;
}

/** Packages whose code is covered by the engine version rather than by their npm version. */
const SELF_PACKAGES = new Set(['linea']);

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
  const entries = [...new Set(moduleUrls)].map((url) => fileURLToPath(url));
  let metafile;
  try {
    ({ metafile } = await build({
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
    }));
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
      files[path] = normalisedDigest(resolve(root, path));
      for (const imp of meta.imports) {
        if (imp.external) {
          const name = packageName(imp.path);
          if (name && !SELF_PACKAGES.has(name)) packages[name] = resolveVersion(root, name, lock);
        } else if (!(imp.path in files)) {
          stack.push(imp.path);
        }
      }
    }
    result.set(url, { files: sortKeys(files), packages: sortKeys(packages) });
  }
  return result;
}

const normalisedCache = new Map<string, { mtimeMs: number; size: number; digest: FileDigest }>();

function normalisedDigest(path: string): FileDigest {
  const stat = statSync(path);
  const cached = normalisedCache.get(path);
  if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.digest;
  const source = readFileSync(path, 'utf8');
  const loader = LOADERS[extname(path)];
  let normalised = source;
  if (loader && loader !== 'json') {
    normalised = transformSync(source, { loader, minifyWhitespace: true, legalComments: 'none', format: 'esm' }).code;
  }
  const digest = sha256(normalised) as FileDigest;
  normalisedCache.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, digest });
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
