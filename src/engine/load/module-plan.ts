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
 * A plan whose only stale stats are its own modules', or files rewritten with the bytes they had
 * (`hashes`), is patched rather than dropped (patchPlan): an edited module whose imports are all
 * ones the plan resolved for it is compiled again alone, with the mirrors of the modules that
 * import it statically, which must name its new mirror. Editing pipeline.ts, the commonest
 * change, then costs one esbuild pass instead of registering the hooks and resolving the graph
 * again (a 1,000-stage pipeline: "load pipeline" 193–266 → 104–161 ms). A module saved again
 * unchanged keeps its mirror: only its stat is updated.
 *
 * What a module imports with `import()` is planned too, once a command has made the import (the
 * hooks resolve it the first time, and the plan is written again with what it reached), but it
 * is verified and imported only when a stage asks for it (lazyTarget).
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
import { trusted } from '../core/observed-reads.ts';
import { compiled, type HooksData, isTypeScriptUrl, type Resolution, typeScriptSpellings } from './typescript-hooks.ts';

interface PlannedModule {
  /** The TypeScript module (file: URL). */
  readonly url: string;
  /** Its compiled JavaScript (file: URL), whose imports name other mirrors or resolved URLs. */
  readonly mirror: string;
  /** sha256 of the mirror's text: a mirror changed since it was written is not imported. */
  readonly sha256: string;
  /** sha256 of the TypeScript the mirror was compiled from: a file saved again unchanged keeps it. */
  readonly source: string;
  /**
   * What each import the module made resolved to. An edited module whose imports are all among
   * these resolves them the same way (every file that decided them is in the plan's stats).
   */
  readonly imports: Readonly<Record<string, string>>;
  /**
   * Those of `imports` made by `import()`: what a stage loads when it runs, not when it is
   * defined. Their graphs are verified and imported when first asked for (lazyTarget), so a
   * command that only defines the pipeline pays nothing for them.
   */
  readonly dynamic: readonly string[];
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
   * sha256 of each file in `stats` that is not a module (package.json files, the compiled
   * engine): one rewritten with the same bytes (a checkout, a generator, a rebuild) decides the
   * same resolutions, and only its stat is updated.
   */
  readonly hashes: Readonly<Record<string, string>>;
  /**
   * Each imported package's node_modules entry where Node found it, and the real directory that
   * entry led to. A symlink pointed elsewhere (npm link, or pnpm's store after an upgrade, where
   * the old version stays on disk with its package.json untouched) changes the second; an entry
   * made nearer the importer is among the `stats` that must stay absent.
   */
  readonly packages: Readonly<Record<string, string>>;
}

/** Bumped when what a plan records, or how a mirror is compiled, changes. */
const PLAN_VERSION = 8;

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

/** A plan that names mirrors for this command alone, to be removed once imported. */
export interface UsablePlan {
  readonly plan: ModulePlan;
  /** Mirrors of a patched plan that was not kept (a file saved in the last two seconds). */
  readonly transient: readonly string[];
  /** The modules compiled again for it (file: URLs): none when the plan held as it was. */
  readonly recompiled: readonly string[];
}

/**
 * The entry's plan, if one was written and nothing it depends on has changed since, or if what
 * changed is its own modules and patchPlan could compile them again alone (running `meanwhile`
 * while it does). A plan or mirror that cannot be read, or has been altered, is no plan: the
 * hooks load the graph.
 */
export async function usablePlan(
  data: HooksData,
  entry: string,
  meanwhile: () => Promise<unknown>,
): Promise<UsablePlan | undefined> {
  const checked = checkedPlan(data, entry);
  if (!checked) return undefined;
  if (checked.stale.length === 0) {
    touchIfOld(planFile(data, entry));
    return { plan: checked.plan, transient: [], recompiled: [] };
  }
  // esbuild compiles in a process of its own: `meanwhile` uses this thread while it waits.
  const [patched] = await Promise.all([patchPlan(data, checked.plan, checked.stale), meanwhile()]);
  return patched;
}

/**
 * The entry's plan and its modules whose stat moved since (paths), when nothing else did:
 * undefined when a package, a path that decided a resolution, or an unchanged module's mirror
 * moved, or the plan cannot be read.
 */
function checkedPlan(data: HooksData, entry: string): { plan: ModulePlan; stale: string[] } | undefined {
  try {
    const plan = JSON.parse(readFileSync(planFile(data, entry), 'utf8')) as ModulePlan;
    if (plan?.version !== PLAN_VERSION || plan.entry !== entry || plan.modules?.[0]?.url !== entry) return undefined;
    const own = new Set(plan.modules.map((m) => fileURLToPath(m.url)));
    const stale: string[] = [];
    for (const [path, then] of Object.entries(plan.stats)) {
      if (sameStat(statOf(path), then)) continue;
      const hash = plan.hashes[path];
      if (!own.has(path) && (hash === undefined || sha256(readFileSync(path)) !== hash)) return undefined;
      stale.push(path);
    }
    for (const [entry, real] of Object.entries(plan.packages)) if (realPathOf(entry) !== real) return undefined;
    for (const m of staticGraph(plan, entry)) if (!stale.includes(fileURLToPath(m.url)) && !intact(m)) return undefined;
    return { plan, stale };
  } catch {
    return undefined;
  }
}

/** Whether a module's mirror is the one the plan wrote (a mirror altered since is not imported). */
function intact(m: PlannedModule): boolean {
  try {
    return sha256(readFileSync(fileURLToPath(m.mirror))) === m.sha256;
  } catch {
    return false;
  }
}

/** The modules `from` reaches by static imports, itself first. */
function staticGraph(plan: ModulePlan, from: string): PlannedModule[] {
  const byUrl = new Map(plan.modules.map((m) => [m.url, m]));
  const reached: PlannedModule[] = [];
  const seen = new Set<string>();
  for (let queue = [from]; queue.length; ) {
    const url = queue.pop()!;
    const m = byUrl.get(url);
    if (!m || seen.has(url)) continue;
    seen.add(url);
    reached.push(m);
    for (const [specifier, target] of Object.entries(m.imports)) if (!m.dynamic.includes(specifier)) queue.push(target);
  }
  return reached;
}

/** Where a planned `import()` leads (lazyTarget). */
export type LazyTarget =
  /** A planned module's mirror, with what its static graph reaches (itself first), all intact. */
  | { readonly kind: 'mirror'; readonly url: string; readonly graph: readonly PlannedModule[] }
  /** A resolved URL that is not TypeScript (a package). */
  | { readonly kind: 'url'; readonly url: string }
  /** The plan has no such import, or its graph shares a module already imported from another mirror. */
  | { readonly kind: 'unplanned' }
  /** A mirror of its graph was removed or altered since the plan was written. */
  | { readonly kind: 'broken' };

/**
 * Where a planned `import(specifier)` made by `parent` leads, checking the mirrors its graph adds
 * to those already `imported` (TypeScript module → mirror).
 */
export function lazyTarget(
  plan: ModulePlan,
  parent: string,
  specifier: string,
  imported: ReadonlyMap<string, string>,
): LazyTarget {
  const m = plan.modules.find((candidate) => candidate.url === parent);
  const target = m?.dynamic.includes(specifier) ? m.imports[specifier] : undefined;
  if (target === undefined) return { kind: 'unplanned' };
  if (!isTypeScriptUrl(target)) return { kind: 'url', url: target };
  const graph = staticGraph(plan, target);
  if (graph.length === 0) return { kind: 'unplanned' };
  // A module already imported from another mirror must not be instantiated again from this one.
  if (graph.some((g) => imported.has(g.url) && imported.get(g.url) !== g.mirror)) return { kind: 'unplanned' };
  if (graph.some((g) => !imported.has(g.url) && !intact(g))) return { kind: 'broken' };
  return { kind: 'mirror', url: graph[0]!.mirror, graph };
}

/** The modules an entry's plan imports when it is loaded: its static graph. */
export function entryGraph(plan: ModulePlan): PlannedModule[] {
  return staticGraph(plan, plan.entry);
}

/**
 * The plan with its stale modules compiled again, or undefined when one of them imports
 * something the plan has no resolution for (the hooks must resolve it), has gone, or changes
 * while it is read. A module whose source is unchanged keeps its mirror; an edited one gets a
 * new mirror, and so does every module that imports it statically, directly or not, since a
 * mirror names its static imports' mirrors (an `import()` names the module: lazyTarget). The patched plan is kept, and the mirrors it replaced removed, unless a
 * file was saved in the last two seconds: then its new mirrors serve this command alone.
 */
async function patchPlan(data: HooksData, plan: ModulePlan, stale: readonly string[]): Promise<UsablePlan | undefined> {
  const stats: Record<string, FileStat | null> = { ...plan.stats };
  const byUrl = new Map(plan.modules.map((m) => [m.url, m]));
  const sources = new Map<string, string>();
  /** Read a module's source with the stat that describes it; undefined if it moved meanwhile. */
  const read = (url: string): string | undefined => {
    const path = fileURLToPath(url);
    const stat = statOf(path);
    if (!stat) return undefined;
    const source = readFileSync(path, 'utf8');
    if (!sameStat(stat, statOf(path))) return undefined;
    stats[path] = stat;
    sources.set(url, source);
    return source;
  };
  const redo = new Set<string>();
  try {
    for (const path of stale) {
      const url = pathToFileURL(path).href;
      const source = read(url);
      if (source === undefined) return undefined;
      const module = byUrl.get(url);
      if (module === undefined) {
        // A package.json or the compiled engine, rewritten with the bytes it had: a new stat only.
        if (sha256(source) !== plan.hashes[path]) return undefined;
      } else if (sha256(source) !== module.source) redo.add(url);
    }
  } catch {
    return undefined;
  }
  // Every module that reaches an edited one statically must name its new mirror (an import()
  // names the module, and lazyImport finds its mirror in the plan).
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of plan.modules)
      if (
        !redo.has(m.url) &&
        Object.entries(m.imports).some(([specifier, target]) => !m.dynamic.includes(specifier) && redo.has(target))
      ) {
        redo.add(m.url);
        grew = true;
      }
  }

  const build = buildName(data, plan.entry);
  const mirrorDir = join(data.cacheDir, 'mirrors');
  const mirrorOf = new Map(
    plan.modules.map((m, i) => [
      m.url,
      redo.has(m.url) ? pathToFileURL(join(mirrorDir, `${build}-${i}.mjs`)).href : m.mirror,
    ]),
  );
  const written: string[] = [];
  let kept = false;
  try {
    const modules: PlannedModule[] = [];
    for (const m of plan.modules) {
      if (!redo.has(m.url)) {
        modules.push(m);
        continue;
      }
      const path = fileURLToPath(m.url);
      const source = sources.get(m.url) ?? read(m.url);
      if (source === undefined) return undefined;
      const out = fileURLToPath(mirrorOf.get(m.url)!);
      const imports = new Map(Object.entries(m.imports));
      const mirrored = await mirror(path, out, await compiled(path, source, data), imports, mirrorOf);
      if (mirrored === undefined) return undefined;
      mkdirSync(mirrorDir, { recursive: true });
      writeFileSync(out, mirrored.code);
      written.push(out);
      modules.push({
        ...m,
        mirror: mirrorOf.get(m.url)!,
        sha256: sha256(mirrored.code),
        source: sha256(source),
        dynamic: mirrored.dynamic,
      });
    }
    const patched: ModulePlan = { ...plan, modules, stats };
    if (racy(Object.values(stats))) {
      kept = true;
      return { plan: patched, transient: [...written], recompiled: [...redo] };
    }
    keepPlan(data, patched);
    kept = true;
    for (const m of plan.modules) if (redo.has(m.url)) removeQuietly(fileURLToPath(m.mirror));
    return { plan: patched, transient: [], recompiled: [...redo] };
  } catch {
    return undefined;
  } finally {
    if (!kept) for (const path of written) removeQuietly(path);
  }
}

/** Remove what `usablePlan` wrote for this command alone, once it is imported. */
export function dropTransient(usable: UsablePlan): void {
  for (const path of usable.transient) removeQuietly(path);
}

/**
 * What a plan's hooks resolved, as the hooks report it: with what this process's hooks resolve
 * later (a lazy import's graph), `writePlan` makes a plan that covers both.
 */
export function planResolutions(plan: ModulePlan): Resolution[] {
  return [
    { parent: undefined, specifier: plan.entry, url: plan.entry, attributes: false },
    ...plan.modules.flatMap((m) =>
      Object.entries(m.imports).map(([specifier, url]) => ({ parent: m.url, specifier, url, attributes: false })),
    ),
  ];
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
  const imports = importTables(data, entry, resolutions);
  if (!imports) return undefined;
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
      if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
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
  const build = buildName(data, entry);
  const mirrorOf = new Map(
    reached.map((url, i) => [url, pathToFileURL(join(data.cacheDir, 'mirrors', `${build}-${i}.mjs`)).href]),
  );
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
      const mirrored = await mirror(
        path,
        out,
        await compiled(path, source, data),
        imports.get(url) ?? new Map(),
        mirrorOf,
      );
      if (mirrored === undefined) return undefined;
      mkdirSync(join(data.cacheDir, 'mirrors'), { recursive: true });
      writeFileSync(out, mirrored.code);
      written.push(out);
      modules.push({
        url,
        mirror: mirrorOf.get(url)!,
        sha256: sha256(mirrored.code),
        source: sha256(source),
        imports: Object.fromEntries(imports.get(url) ?? []),
        dynamic: mirrored.dynamic,
      });
    }
    // A file saved within the last tick of its mtime could change again unseen (code.ts's rule).
    if (racy(Object.values(stats))) return undefined;
    const hashes: Record<string, string> = {};
    for (const [path, stat] of Object.entries(stats)) {
      if (stat === null || reached.includes(pathToFileURL(path).href)) continue;
      const content = readFileSync(path);
      if (!sameStat(stat, statOf(path))) return undefined;
      hashes[path] = sha256(content);
    }
    const plan: ModulePlan = { version: PLAN_VERSION, entry, modules, stats, hashes, packages };
    const previous = readPlanQuietly(file);
    keepPlan(data, plan);
    written.length = 0;
    for (const m of previous?.modules ?? []) removeQuietly(fileURLToPath(m.mirror));
    return plan;
  } finally {
    // A plan abandoned halfway leaves no mirrors behind.
    for (const path of written) removeQuietly(path);
  }
}

/**
 * What each TypeScript module's imports resolved to, or undefined for resolutions a plan cannot
 * reproduce.
 */
function importTables(
  data: HooksData,
  entry: string,
  resolutions: readonly Resolution[],
): Map<string, Map<string, string>> | undefined {
  const imports = new Map<string, Map<string, string>>();
  const mirrorUrl = pathToFileURL(join(data.cacheDir, 'mirrors')).href;
  for (const r of resolutions) {
    // A mirror named as what an import resolved to would outlive the plan that wrote it.
    if (r.attributes || r.url.startsWith(`${mirrorUrl}/`)) return undefined;
    if (r.parent === undefined || !isTypeScriptUrl(r.parent)) {
      // Only the command's own import of the entry may come from outside TypeScript.
      if (r.url !== entry) return undefined;
      continue;
    }
    const table = imports.get(r.parent) ?? new Map<string, string>();
    imports.set(r.parent, table);
    table.set(r.specifier, r.url);
  }
  return imports;
}

/** A name for one plan's mirrors, unique to this writing of it. */
function buildName(data: HooksData, entry: string): string {
  return `${sha256(planFile(data, entry)).slice(0, 16)}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Write the plan whole and rename it into place: a reader finds the old plan or the new one. */
function keepPlan(data: HooksData, plan: ModulePlan): void {
  const file = planFile(data, plan.entry);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, JSON.stringify(plan));
  renameSync(tmp, file);
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
): Promise<{ code: string; dynamic: string[] } | undefined> {
  const { build } = await import('esbuild');
  const dynamic = new Set<string>();
  let body: string;
  let sourceMap: string;
  try {
    const result = await trusted(() =>
      build({
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
                // An `import()`: a stage's lazy import of what only its run needs. It stays lazy,
                // through LAZY_IMPORT at run time, which imports the planned mirror (lazyTarget) or,
                // for one that had not run when the graph was planned, goes through the hooks.
                if (args.kind === 'dynamic-import') {
                  dynamic.add(args.path);
                  return { path: `${LAZY_MARK}${args.path}`, external: true };
                }
                if (args.kind !== 'import-statement' || !target)
                  return { errors: [{ text: `no recorded resolution for ${args.kind} ${args.path}` }] };
                return { path: mirrorOf.get(target) ?? target, external: true };
              });
            },
          },
        ],
      }),
    );
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
  return {
    code: `${body}//# sourceMappingURL=data:application/json;base64,${sourceMap}\n`,
    dynamic: [...dynamic].filter((specifier) => resolved.has(specifier)),
  };
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
