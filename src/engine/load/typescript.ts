/**
 * Loading the user's TypeScript (pipeline.ts, stages) with no build step. When the engine itself
 * runs as TypeScript (this repository's bin and tests, through tsx), whatever loads the engine
 * loads the user's files too. The compiled engine (the linea-engine package) imports the mirror
 * of a module graph planned by an earlier command (module-plan.ts) when nothing it depends on has
 * changed, and otherwise registers its own hooks (typescript-hooks.ts), once, and plans the graph
 * they load for next time.
 */
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import {
  dropTransient,
  entryGraph,
  isLinkError,
  LAZY_IMPORT,
  lazyTarget,
  type ModulePlan,
  planResolutions,
  usablePlan,
  writePlan,
} from './module-plan.ts';
import { type HooksData, lazySpecifier, type Resolution } from './typescript-hooks.ts';
import { readUnobserved } from '../core/observed-reads.ts';

/**
 * The hooks' report of what they resolved, once they are registered (once per process: two
 * imports that need them at the same time share the registration).
 */
let registering: Promise<Recorder> | undefined;

function hooksRecorder(data: HooksData): Promise<Recorder> {
  registering ??= registerHooks(data);
  return registering;
}
/** TypeScript module → the mirror this process imported for it, and back. */
const mirrors = new Map<string, string>();
const sources = new Map<string, string>();
/** Entries this process loaded from a plan, and the plan, which a lazy import may extend. */
const loadedPlans = new Map<string, ModulePlan>();
/** Entries whose plan names a mirror that is gone: written again whatever the hooks resolved. */
const broken = new Set<string>();
/** Everything the hooks resolved in this process (Recorder.take hands each report out once). */
const resolved: Resolution[] = [];

/**
 * Import a module the user wrote (the pipeline, a stage's module in a worker). Returns its
 * namespace, as `import()` does.
 */
export async function importModule(url: string): Promise<unknown> {
  if (!/\.[cm]?tsx?$/.test(new URL(url).pathname) || import.meta.url.endsWith('.ts')) return import(url);
  const known = mirrors.get(url);
  if (known) return import(known);
  const data = hooksData();
  if (!registering) {
    const usable = await usablePlan(data, url, preloadShared);
    // A plan made for another entry has mirrors of its own for the modules the two share: a
    // module already imported from another plan must not be instantiated again from this one.
    // The hooks resolve such a module to the mirror already imported.
    if (usable && !entryGraph(usable.plan).some((m) => mirrors.has(m.url) && mirrors.get(m.url) !== m.mirror)) {
      const { plan } = usable;
      loadedPlans.set(url, plan);
      // What its lazy imports reach is verified and registered when they are made (lazyImport).
      for (const m of entryGraph(plan)) {
        mirrors.set(m.url, m.mirror);
        sources.set(m.mirror, m.url);
      }
      process.setSourceMapsEnabled(true);
      (globalThis as Record<symbol, unknown>)[Symbol.for(LAZY_IMPORT)] ??= lazyImport;
      try {
        const namespace = await import(plan.modules[0]!.mirror);
        if (process.env.LINEA_DEBUG)
          process.stderr.write(
            `linea: ${url} loaded from its module plan, without hooks${usable.recompiled.length ? `; compiled again: ${usable.recompiled.map((u) => u.split('/').pop()).join(', ')}${usable.transient.length ? ' (for this command)' : ''}` : ''}\n`,
          );
        return namespace;
      } catch (error) {
        if (!isLinkError(error)) throw error;
        for (const m of entryGraph(plan)) mirrors.delete(m.url);
        loadedPlans.delete(url);
      } finally {
        // Loaded (the module map keeps them, and their source maps are inline) or abandoned.
        dropTransient(usable);
      }
    }
  }
  const hooks = await hooksRecorder(data);
  const namespace = await import(url);
  // Planned in the background: esbuild compiles the mirrors in its own process while this one
  // goes on with the command (a pending build keeps the process alive until it is written). A
  // plan only saves the next command time: failing to write one, or being killed first, fails
  // nothing, since the plan file is written last and whole.
  inBackground(
    hooks
      .take()
      .then((resolutions) => writePlan(data, url, resolutions))
      .catch(() => undefined),
  );
  return namespace;
}

/**
 * A mirror's `import()` that its plan did not see run (module-plan.ts): a stage's lazy import of
 * what only its run needs. It is loaded through the hooks, which resolve every module already
 * imported as a mirror to that mirror, so that no module is instantiated twice.
 */
async function lazyImport(specifier: string, parentUrl: string): Promise<unknown> {
  for (const plan of loadedPlans.values()) {
    const target = lazyTarget(plan, parentUrl, specifier, mirrors);
    if (target.kind === 'unplanned') continue;
    if (target.kind === 'url') return import(target.url);
    // A mirror removed or altered since the plan was read (another command planned again
    // meanwhile): the hooks load the graph, and the plan is written again.
    if (target.kind === 'broken') {
      broken.add(plan.entry);
      break;
    }
    // Its graph, as that plan has it: no hooks. Stack traces name the .ts files from the start.
    for (const m of target.graph) sources.set(m.mirror, m.url);
    try {
      const namespace = await import(target.url);
      // Imported: the hooks, if a later import needs them, resolve these modules to their mirrors.
      for (const m of target.graph) mirrors.set(m.url, m.mirror);
      return namespace;
    } catch (error) {
      if (!isLinkError(error)) throw error;
      broken.add(plan.entry);
      break;
    }
  }
  const hooks = await hooksRecorder(hooksData());
  const namespace = await import(lazySpecifier(specifier, parentUrl));
  replanWithLazyImports(hooks);
  return namespace;
}

let replanning: Promise<void> | undefined;

/**
 * Write the plans this process loaded again, with the graphs their lazy imports reached through
 * the hooks: the next command (a cluster job, a pool worker) then imports what a stage runs
 * with from its mirrors too, with no hooks to start and no round trip to them per module.
 * In the background, once at a time; a plan only saves later commands time, so failing to
 * write one fails nothing.
 */
function replanWithLazyImports(hooks: Recorder): void {
  if (replanning) return;
  replanning = (async () => {
    try {
      resolved.push(...(await hooks.take()));
      const data = hooksData();
      for (const [entry, plan] of loadedPlans) {
        const known = new Set(
          plan.modules.flatMap((m) => Object.entries(m.imports).map(([s, u]) => `${m.url} ${s} ${u}`)),
        );
        const reached = new Set(plan.modules.map((m) => m.url));
        // Only what this plan's modules imported and it does not know yet, or a broken plan.
        const grew = resolved.some(
          (r) => r.parent && reached.has(r.parent) && !known.has(`${r.parent} ${r.specifier} ${r.url}`),
        );
        if (!grew && !broken.has(entry)) continue;
        const next = await writePlan(data, entry, [...planResolutions(plan), ...resolved]);
        if (next) loadedPlans.set(entry, next);
      }
    } catch {
      // next command plans again
    } finally {
      replanning = undefined;
    }
  })();
  inBackground(replanning);
}

/** Plans being written in the background. */
const writing = new Set<Promise<unknown>>();

function inBackground(work: Promise<unknown>): void {
  writing.add(work);
  void work.finally(() => writing.delete(work));
}

/**
 * Wait (at most `limitMs`) for the plans this process is writing: for a process that is about
 * to exit on its own (a pool worker told to go), so that the next one finds them.
 */
export async function plansWritten(limitMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...writing]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, limitMs);
    }),
  ]);
  clearTimeout(timer);
}

/** The module a stack frame's file belongs to: the TypeScript file for a planned mirror. */
export function sourceUrlOf(url: string): string {
  return sources.get(url) ?? url;
}

let settings: HooksData | undefined;

function hooksData(): HooksData {
  // Compiled files are a cache of pure functions of their source: one per user, shared by projects.
  settings ??= { cacheDir: process.env.LINEA_TS_CACHE || userCacheDir(), salt: `${esbuildVersion()} ${HOOKS_VERSION}` };
  return settings;
}

/**
 * The shared compiled-file cache, for gc to sweep: undefined when there is none, or when it is
 * not a directory of this user's that no one else can write (then it is not this user's to clean).
 */
export function compiledCacheDir(): string | undefined {
  const dir = process.env.LINEA_TS_CACHE || join(tmpdir(), `linea-ts-${userInfo().uid}`);
  try {
    const s = lstatSync(dir);
    return s.isDirectory() && s.uid === userInfo().uid && (s.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The user's compiled-file cache in the temporary directory. In a shared /tmp (a cluster's login
 * node) another user could make that directory first and put JavaScript in it for this user to
 * run, so it is used only if it is a real directory of this user's that no one else can write;
 * otherwise this process compiles into a directory of its own, removed at exit.
 */
function userCacheDir(): string {
  const dir = join(tmpdir(), `linea-ts-${userInfo().uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = lstatSync(dir);
    if (s.isDirectory() && s.uid === userInfo().uid && (s.mode & 0o022) === 0) return dir;
  } catch {
    // unusable: a private one below
  }
  const own = mkdtempSync(join(tmpdir(), 'linea-ts-'));
  process.on('exit', () => rmSync(own, { recursive: true, force: true }));
  return own;
}

/**
 * The engine's public API and zod (the engine's peer dependency, in which every stage writes its
 * params): what nearly every pipeline imports, loaded ahead of it.
 */
async function preloadShared(): Promise<void> {
  await import(new URL('../../index.js', import.meta.url).href);
  await import('zod').catch(() => undefined);
}

async function registerHooks(data: HooksData): Promise<Recorder> {
  // Once hooks are registered, every module the pipeline imports is resolved and loaded through
  // them, a round trip to their thread each. What every pipeline imports is loaded first, so
  // that the pipeline's imports of it find it loaded: about 60 ms less per command.
  await preloadShared();
  // The hooks read the pipeline's files on their thread: the next command, which loads it from
  // the plan they leave, is the one whose answer can be replayed (schedule/settled.ts).
  readUnobserved('loaded the pipeline through module hooks');
  const { port1, port2 } = new MessageChannel();
  register(new URL('./typescript-hooks.js', import.meta.url), {
    data: { ...data, port: port2, mirrors: Object.fromEntries(mirrors) } satisfies HooksData,
    transferList: [port2],
  });
  process.setSourceMapsEnabled(true);
  if (process.env.LINEA_DEBUG) process.stderr.write('linea: module hooks registered\n');
  return new Recorder(port1);
}

/** Collects the hooks' reports; `take` waits until every report sent so far has arrived. */
class Recorder {
  private readonly received: Resolution[] = [];
  private readonly waiting = new Map<number, () => void>();
  private flushes = 0;

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: Resolution | { flush: number }) => {
      if ('flush' in message) this.waiting.get(message.flush)?.();
      else this.received.push(message);
    });
    port.unref();
  }

  async take(): Promise<Resolution[]> {
    const id = this.flushes++;
    // The port holds the process open only while a flush is awaited.
    this.port.ref();
    try {
      await new Promise<void>((resolve) => {
        this.waiting.set(id, resolve);
        this.port.postMessage({ flush: id });
      });
    } finally {
      this.waiting.delete(id);
      this.port.unref();
    }
    return this.received.splice(0);
  }
}

/** Bumped when typescript-hooks.ts changes what it emits. */
const HOOKS_VERSION = '1';

function esbuildVersion(): string {
  try {
    const manifest = createRequire(import.meta.url).resolve('esbuild/package.json');
    return `esbuild ${(JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version}`;
  } catch {
    return 'esbuild';
  }
}
