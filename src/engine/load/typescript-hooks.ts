/**
 * Module hooks (node:module `register`) that let the compiled engine import the user's
 * TypeScript: a `.ts`, `.mts` or `.tsx` file is type-stripped by esbuild and loaded as an ES
 * module; a relative import that names `./x.js` (TypeScript's NodeNext spelling) or `./x` finds
 * `./x.ts`. The JavaScript is kept in a cache keyed by the file's content, so a command that
 * loads an unchanged pipeline never starts esbuild.
 *
 * Why not tsx, which the repository itself runs on: tsx's hooks cost a no-op `linea run` about
 * 150 ms more (importing it, and its resolver on every module the pipeline loads, zod's ~50
 * files included), which is most of what a no-op is meant to cost. These hooks do the little a
 * pipeline needs; tsconfig `paths` and CommonJS TypeScript (`.cts`) are not supported.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import type { Loader } from 'esbuild';
import { touchIfOld } from './compiled-cache.ts';
import { compiledTwinOf } from './engine-source.ts';

/** What `register` passes: where compiled files are kept, and what invalidates them. */
export interface HooksData {
  readonly cacheDir: string;
  /** esbuild's version and this module's: a new compiler compiles again. */
  readonly salt: string;
  /**
   * Where to report what a TypeScript module's imports resolved to (module-plan.ts keeps it, so
   * that the next command imports the compiled graph with no hooks at all). Answers `{ flush }`
   * with the same message once every earlier report is sent.
   */
  readonly port?: MessagePort;
  /**
   * TypeScript module → the mirror this process already imported for it (module-plan.ts): an
   * import of one resolves to the mirror, so a module is never instantiated twice.
   */
  readonly mirrors?: Readonly<Record<string, string>>;
}

/** One import the hooks resolved, from or to a TypeScript module. */
export interface Resolution {
  readonly parent: string | undefined;
  readonly specifier: string;
  readonly url: string;
  /** The import named attributes (`with { type: 'json' }`). */
  readonly attributes: boolean;
}

interface ResolveContext {
  readonly parentURL?: string;
  readonly conditions: readonly string[];
  readonly importAttributes?: Record<string, string>;
}
type ResolveResult = { url: string; format?: string | null; shortCircuit?: boolean };
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
type LoadResult = { format: string; source?: string | ArrayBuffer | Uint8Array; shortCircuit?: boolean };
type NextLoad = (url: string, context?: { format?: string | null }) => Promise<LoadResult>;

const LOADERS: Readonly<Record<string, Loader>> = { '.ts': 'ts', '.mts': 'ts', '.tsx': 'tsx' };
const TYPESCRIPT = /\.(ts|mts|tsx)$/;

export function isTypeScriptUrl(url: string): boolean {
  return url.startsWith('file:') && TYPESCRIPT.test(new URL(url).pathname);
}

let data: HooksData = { cacheDir: '', salt: '' };
let esbuild: typeof import('esbuild') | undefined;

export function initialize(given: HooksData): void {
  data = given;
  const port = given.port;
  if (port) {
    port.on('message', (message: { flush?: number }) => port.postMessage(message));
    port.unref();
  }
}

/**
 * A mirror's lazy `import(specifier)` (module-plan.ts), to be resolved as if its TypeScript
 * module had made it: the specifier and that module travel in one string through `import()`.
 */
export function lazySpecifier(specifier: string, parentUrl: string): string {
  return `${LAZY_SCHEME}${JSON.stringify([specifier, parentUrl])}`;
}
const LAZY_SCHEME = 'linea-lazy-import:';

export async function resolve(given: string, givenContext: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  let specifier = given;
  let context = givenContext;
  if (given.startsWith(LAZY_SCHEME)) {
    const [lazy, parentURL] = JSON.parse(given.slice(LAZY_SCHEME.length)) as [string, string];
    specifier = lazy;
    context = { ...givenContext, parentURL };
  }
  const resolved = await resolveTypeScript(specifier, context, next);
  // One engine per process: the engine's own sources are the compiled engine that is running.
  const twin = compiledTwinOf(resolved.url) ?? data.mirrors?.[resolved.url];
  const result = twin ? { url: twin, format: 'module', shortCircuit: true } : resolved;
  const parent = context.parentURL;
  if (data.port && (isTypeScriptUrl(result.url) || (parent !== undefined && isTypeScriptUrl(parent)))) {
    const attributes = Object.keys(context.importAttributes ?? {}).length > 0;
    // A module resolved to its mirror is recorded as itself: a plan names TypeScript modules.
    const url = data.mirrors?.[resolved.url] ? resolved.url : result.url;
    data.port.postMessage({ parent, specifier, url, attributes } satisfies Resolution);
  }
  return result;
}

async function resolveTypeScript(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<ResolveResult> {
  try {
    return await next(specifier, context);
  } catch (error) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    const fromTypeScript = context.parentURL !== undefined && isTypeScriptUrl(context.parentURL);
    if (!relative || !fromTypeScript || (error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    for (const candidate of typeScriptSpellings(specifier)) {
      try {
        return await next(candidate, context);
      } catch {
        // try the next spelling
      }
    }
    throw error;
  }
}

/** `./x.js` → `./x.ts`, `./x.tsx`; `./x.mjs` → `./x.mts`; `./x` → `./x.ts`, `./x/index.ts`. */
export function typeScriptSpellings(specifier: string): string[] {
  if (specifier.endsWith('.js')) return [`${specifier.slice(0, -3)}.ts`, `${specifier.slice(0, -3)}.tsx`];
  if (specifier.endsWith('.mjs')) return [`${specifier.slice(0, -4)}.mts`];
  if (/\.[a-z]+$/i.test(specifier.split('/').pop() ?? '')) return [];
  return [`${specifier}.ts`, `${specifier}.tsx`, `${specifier}/index.ts`];
}

export async function load(url: string, context: { format?: string | null }, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith('file:')) return next(url, context);
  const path = fileURLToPath(url);
  const extension = TYPESCRIPT.exec(path)?.[0];
  if (!extension) return next(url, context);
  const source = readFileSync(path, 'utf8');
  return { format: 'module', source: await compiled(path, source, data), shortCircuit: true };
}

/** The file's JavaScript, from the cache or from esbuild (then cached, written whole and renamed). */
export async function compiled(path: string, source: string, data: HooksData): Promise<string> {
  const loader = LOADERS[TYPESCRIPT.exec(path)?.[0] ?? '.ts']!;
  const key = createHash('sha256').update(`${data.salt}\0${path}\0${source}`).digest('hex');
  const cached = join(data.cacheDir, key.slice(0, 2), `${key}.js`);
  try {
    const code = readFileSync(cached, 'utf8');
    touchIfOld(cached);
    return code;
  } catch {
    // not compiled yet
  }
  esbuild ??= await import('esbuild');
  // The service, not transformSync: that one starts an esbuild process per call, this one starts
  // one and keeps it for every file of the command (and for module-plan.ts's mirrors).
  const { code } = await esbuild.transform(source, {
    loader,
    format: 'esm',
    target: 'node20',
    // Stack traces point into the .ts file (process.setSourceMapsEnabled in typescript.ts).
    sourcemap: 'inline',
    sourcefile: path,
  });
  try {
    mkdirSync(join(cached, '..'), { recursive: true });
    const tmp = `${cached}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, cached);
  } catch {
    // An unwritable cache only means compiling again next time.
  }
  return code;
}
