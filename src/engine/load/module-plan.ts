/**
 * A TypeScript entry's module graph, compiled to JavaScript that imports its neighbours by
 * absolute URL, so that a command whose pipeline has not changed loads it with no module hooks.
 * On Node 20 the hooks run on a thread of their own: waiting for it to start costs a no-op
 * `linea run` about 85 ms on a 2-core machine, and every import a TypeScript module makes is then
 * a round trip to it.
 *
 * A plan is what the hooks did last time: the TypeScript modules the entry reached, what each of
 * their imports resolved to, and the stats (size, mtime, inode; file-stat.ts) of all that decided
 * it: the modules themselves, the paths whose absence made `./x.js` mean `./x.ts`, the
 * package.json of each npm package an import named, and where Node found that package (the
 * node_modules entry, and the real directory a symlinked one leads to). The plan is used only
 * while every stat still matches; otherwise the hooks load the graph, and a new plan is written
 * from what they resolved.
 * A graph with a file saved in the last two seconds is not planned, as code digests are not.
 *
 * A graph that a plan could not reproduce exactly gets no plan, and the hooks load it every time:
 * an import with attributes (`with { type: 'json' }`), `require`, a subpath import (`#x`), an
 * `import()` of a computed specifier, `import.meta` beyond url, filename and dirname, or a
 * JavaScript module that imports TypeScript.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { touchIfOld } from './compiled-cache.ts';
import { isRunningEngine } from './engine-source.ts';
import { type FileStat, racy, sameStat, statOf } from '../core/file-stat.ts';
import { sha256 } from '../core/json.ts';
import { compiled, type HooksData, isTypeScriptUrl, type Resolution, typeScriptSpellings } from './typescript-hooks.ts';

interface PlannedModule {
  /** The TypeScript module (file: URL). */
  readonly url: string;
  /** Its compiled JavaScript (file: URL), whose imports name other mirrors or resolved URLs. */
  readonly mirror: string;
  /** sha256 of the mirror's text: a mirror changed since it was written is not imported. */
  readonly sha256: string;
}

export interface ModulePlan {
  readonly version: typeof PLAN_VERSION;
  readonly entry: string;
  /** The entry first. */
  readonly modules: readonly PlannedModule[];
  /**
   * Every file whose change could change the graph, with its stat when planned: the modules,
   * each imported package's package.json, and (null) the paths that did not exist and would
   * resolve an import differently if they did.
   */
  readonly stats: Readonly<Record<string, FileStat | null>>;
  /**
   * Each imported package's node_modules entry where Node found it, and the real directory that
   * entry led to. A symlink pointed elsewhere (npm link, or pnpm's store after an upgrade, where
   * the old version stays on disk with its package.json untouched) changes the second; an entry
   * made nearer the importer is among the `stats` that must stay absent.
   */
  readonly packages: Readonly<Record<string, string>>;
}

/** Bumped when what a plan records, or how a mirror is compiled, changes. */
const PLAN_VERSION = 5;

/**
 * The global (a registered symbol) through which a mirror makes an `import()` its plan did not
 * see: `(specifier, parentUrl) => Promise<namespace>`, defined by typescript.ts before any mirror
 * is imported.
 */
export const LAZY_IMPORT = 'linea.lazyImport';
export const LAZY_MARK = 'linea-lazy:';

function planFile(data: HooksData, entry: string): string {
  return join(data.cacheDir, 'plans', `${sha256(`${data.salt}\0${PLAN_VERSION}\0${entry}`)}.json`);
}

/**
 * The entry's plan, if one was written and nothing it depends on has changed since. A plan or
 * mirror that cannot be read, or has been altered, is no plan: the hooks load the graph.
 */
export function currentPlan(data: HooksData, entry: string): ModulePlan | undefined {
  try {
    const plan = JSON.parse(readFileSync(planFile(data, entry), 'utf8')) as ModulePlan;
    if (plan?.version !== PLAN_VERSION || plan.entry !== entry || plan.modules?.[0]?.url !== entry) return undefined;
    for (const [path, then] of Object.entries(plan.stats)) if (!sameStat(statOf(path), then)) return undefined;
    for (const [entry, real] of Object.entries(plan.packages)) if (realPathOf(entry) !== real) return undefined;
    for (const m of plan.modules) if (sha256(readFileSync(fileURLToPath(m.mirror))) !== m.sha256) return undefined;
    touchIfOld(planFile(data, entry));
    return plan;
  } catch {
    return undefined;
  }
}

/**
 * An import of a plan's mirror failed before any of it ran (a file or export it names has gone):
 * the hooks can still load the graph.
 */
export function isLinkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT') return true;
  // A mirror that does not parse, or names an export its target no longer has. (A SyntaxError
  // the user's own code throws while it runs would be thrown again by the hooks' load.)
  return error instanceof SyntaxError;
}

/**
 * Write the entry's plan from what the hooks resolved while loading it, and the mirrors it
 * names. Returns undefined, writing nothing, when the graph is one a plan cannot reproduce or a
 * module changed while it was being compiled. Mirrors are never rewritten in place: each plan
 * gets its own, so a command that read the previous plan imports the previous mirrors, or fails to
 * link and falls back on the hooks; the previous plan's mirrors are removed once the new one is in.
 */
export async function writePlan(
  data: HooksData,
  entry: string,
  resolutions: readonly Resolution[],
): Promise<ModulePlan | undefined> {
  const imports = new Map<string, Map<string, string>>();
  for (const r of resolutions) {
    if (r.attributes) return undefined;
    if (r.parent === undefined || !isTypeScriptUrl(r.parent)) {
      // Only the command's own import of the entry may come from outside TypeScript.
      if (r.url !== entry) return undefined;
      continue;
    }
    const table = imports.get(r.parent) ?? new Map<string, string>();
    imports.set(r.parent, table);
    table.set(r.specifier, r.url);
  }
  const reached = [entry];
  for (const url of reached)
    for (const target of imports.get(url)?.values() ?? [])
      if (isTypeScriptUrl(target) && !reached.includes(target)) reached.push(target);

  const stats: Record<string, FileStat | null> = {};
  const packages: Record<string, string> = {};
  for (const parent of reached) {
    for (const [specifier, target] of imports.get(parent) ?? []) {
      if (specifier.startsWith('#')) return undefined;
      if (isRunningEngine(target)) {
        // The engine's own sources, resolved to the compiled engine that runs (engine-source.ts):
        // a rebuild replaces the file; the importer's package.json decides a self-reference.
        stats[fileURLToPath(target)] = statOf(fileURLToPath(target));
        const manifest = packageJsonOf(fileURLToPath(parent));
        if (manifest) stats[manifest] = statOf(manifest);
        continue;
      }
      if (specifier.startsWith('./') || specifier.startsWith('../')) {
        for (const candidate of [specifier, ...typeScriptSpellings(specifier)]) {
          const url = new URL(candidate, parent).href;
          if (url === target) break;
          stats[fileURLToPath(url)] = null;
        }
      } else if (!isBuiltin(specifier) && target.startsWith('file:')) {
        const resolved = fileURLToPath(target);
        const manifest = packageJsonOf(resolved);
        const stat = manifest && statOf(manifest);
        const found = packageEntry(fileURLToPath(parent), specifier, resolved);
        if (!manifest || !stat || !found) return undefined;
        stats[manifest] = stat;
        for (const path of found.absent) stats[path] = null;
        packages[found.entry] = found.real;
      }
    }
  }

  const file = planFile(data, entry);
  const build = `${sha256(file).slice(0, 16)}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const mirrorDir = join(data.cacheDir, 'mirrors');
  const mirrorOf = new Map(reached.map((url, i) => [url, pathToFileURL(join(mirrorDir, `${build}-${i}.mjs`)).href]));
  const modules: PlannedModule[] = [];
  const written: string[] = [];
  try {
    for (const url of reached) {
      const path = fileURLToPath(url);
      const stat = statOf(path);
      const source = readFileSync(path, 'utf8');
      // The stat must describe the source compiled: a file saved meanwhile makes no plan.
      if (!stat || !sameStat(stat, statOf(path))) return undefined;
      stats[path] = stat;
      const out = fileURLToPath(mirrorOf.get(url)!);
      const code = await mirror(path, out, await compiled(path, source, data), imports.get(url) ?? new Map(), mirrorOf);
      if (code === undefined) return undefined;
      mkdirSync(mirrorDir, { recursive: true });
      writeFileSync(out, code);
      written.push(out);
      modules.push({ url, mirror: mirrorOf.get(url)!, sha256: sha256(code) });
    }
    // A file saved within the last tick of its mtime could change again unseen (code.ts's rule).
    if (racy(Object.values(stats))) return undefined;
    const plan: ModulePlan = { version: PLAN_VERSION, entry, modules, stats, packages };
    const previous = readPlanQuietly(file);
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(plan));
    renameSync(tmp, file);
    written.length = 0;
    for (const m of previous?.modules ?? []) removeQuietly(fileURLToPath(m.mirror));
    return plan;
  } finally {
    // A plan abandoned halfway leaves no mirrors behind.
    for (const path of written) removeQuietly(path);
  }
}

/**
 * The module's JavaScript with every import naming what it resolved to (a mirror for
 * TypeScript), and `import.meta.url`, `.filename` and `.dirname` the original file's.
 * Undefined when an import was not resolved by the hooks or cannot be named statically.
 */
async function mirror(
  path: string,
  out: string,
  javascript: string,
  resolved: ReadonlyMap<string, string>,
  mirrorOf: ReadonlyMap<string, string>,
): Promise<string | undefined> {
  const { build } = await import('esbuild');
  let body: string;
  let sourceMap: string;
  try {
    const result = await build({
      // The hooks' own output, so the mirror runs exactly what the hooks would have loaded;
      // esbuild follows its inline source map, so stack traces still name the .ts lines.
      stdin: { contents: javascript, loader: 'js', sourcefile: path, resolveDir: dirname(path) },
      bundle: true,
      write: false,
      outfile: out,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'external',
      logLevel: 'silent',
      define: {
        'import.meta.url': JSON.stringify(pathToFileURL(path).href),
        'import.meta.filename': JSON.stringify(path),
        'import.meta.dirname': JSON.stringify(dirname(path)),
      },
      plugins: [
        {
          name: 'linea-resolved-imports',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              const target = resolved.get(args.path);
              // An `import()` that had not run when the graph was planned: a stage's lazy import
              // of what only its run needs. It stays lazy, through LAZY_IMPORT at run time.
              if (!target && args.kind === 'dynamic-import')
                return { path: `${LAZY_MARK}${args.path}`, external: true };
              if ((args.kind !== 'import-statement' && args.kind !== 'dynamic-import') || !target)
                return { errors: [{ text: `no recorded resolution for ${args.kind} ${args.path}` }] };
              return { path: mirrorOf.get(target) ?? target, external: true };
            });
          },
        },
      ],
    });
    const code = result.outputFiles.find((f) => f.path === out)?.text;
    const map = result.outputFiles.find((f) => f.path === `${out}.map`)?.text;
    if (code === undefined || map === undefined) return undefined;
    const parent = JSON.stringify(pathToFileURL(path).href);
    body = code
      .replace(/^\/\/# sourceMappingURL=.*$/m, '')
      .replace(
        new RegExp(`\\bimport\\("${LAZY_MARK}([^"]*)"\\)`, 'g'),
        (_, specifier: string) =>
          `globalThis[Symbol.for(${JSON.stringify(LAZY_IMPORT)})](${JSON.stringify(specifier)}, ${parent})`,
      );
    // The map names the .ts by absolute URL: relative, it would be read from the mirror's folder.
    const parsed = JSON.parse(map) as { sources: string[] };
    parsed.sources = parsed.sources.map(() => pathToFileURL(path).href);
    sourceMap = Buffer.from(JSON.stringify(parsed)).toString('base64');
  } catch {
    return undefined;
  }
  if (/\bimport\.meta\b/.test(body) || /\bimport\s*\(\s*(?!["'](?:file|node):)/.test(body)) return undefined;
  return `${body}//# sourceMappingURL=data:application/json;base64,${sourceMap}\n`;
}

/**
 * Where Node's lookup for a bare import from `importer` stopped: the first `node_modules/<name>`
 * from the importer's folder up that exists (`entry`, and the real directory it leads to, which
 * holds `resolved`), and the nearer ones that did not (`absent`). Undefined when that lookup
 * cannot be retraced: the plan is then not made.
 */
function packageEntry(
  importer: string,
  specifier: string,
  resolved: string,
): { entry: string; real: string; absent: string[] } | undefined {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const absent: string[] = [];
  for (let dir = dirname(importer); ; dir = dirname(dir)) {
    // Node does not look for node_modules/node_modules.
    if (basename(dir) !== 'node_modules') {
      const entry = join(dir, 'node_modules', name);
      const real = realPathOf(entry);
      if (real !== undefined) return resolved.startsWith(real + sep) ? { entry, real, absent } : undefined;
      absent.push(entry);
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function realPathOf(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function packageJsonOf(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (statSync(candidate, { throwIfNoEntry: false })) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function readPlanQuietly(file: string): ModulePlan | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ModulePlan;
  } catch {
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
