/**
 * The `linea` command. Each subcommand is a thin edge around the pure parts: load the pipeline,
 * expand instances, plan or run, print. With --json, stdout carries exactly one JSON document
 * and everything for humans goes to stderr.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveCacheDir, openEngine, type Engine } from './engine.ts';
import { errorMessage, LineaError } from './errors.ts';
import { describeReason } from './fingerprint.ts';
import { collectGarbage, parseDuration, parseSize } from './gc.ts';
import { renderGraph } from './graph.ts';
import { isDamagedIndex, rebuildIndex } from './index-repair.ts';
import {
  chosenAxisValues,
  expandInstances,
  parseAblateFlag,
  parseSetFlag,
  type Instance,
  type Selection,
} from './instances.ts';
import { ablateSelection, ablationGrid, confirmRun, estimate, promptAblation, renderGrid } from './ablate.ts';
import { canonicalJson, type CacheKey, type Json } from './json.ts';
import { isPipeline, type Pipeline } from './pipeline.ts';
import { describePlan, planInstances } from './plan.ts';
import { InProcessExecutor, type Executor } from './executor.ts';
import { ProcessPoolExecutor } from './pool.ts';
import { ProgressPrinter, summaryTable } from './progress.ts';
import { publishResults } from './publish.ts';
import { runInstances } from './run.ts';
import { RunIndex } from './run-index.ts';
import { Store } from './store.ts';

const USAGE = `linea — run an experiment pipeline with content-addressed caching

usage: linea <command> [options]

commands:
  run              run what is not cached (default)
  ablate           pick ablation axes and values, see the grid (cached / stale / new, estimated
                   time), confirm, run; --ablate flags preselect values, --yes skips the prompts
  status           show each stage instance: cached | stale | missing | blocked, and why
  graph            print the stage graph (--format mermaid|dot)
  log <stage>      past runs of a stage (or instance) with their records and lineage
  gc               delete results nothing needs (--max-size 2G keeps the most recent, --dry-run;
                   results used in the last --grace 10m, or by a run in progress, are kept;
                   in a store shared by several projects only this one's results go, unless
                   --all-projects)
  pin <instance>   keep an instance's current result through gc; unpin <instance|key> undoes it
  verify           re-hash every object in the store, report damage and take damaged objects out
                   (into <cache>/quarantine/) so the next run recomputes them; --repair also
                   rebuilds a damaged run index from the store
  index rebuild    move the run index aside and rebuild it from the records kept in the store

options:
  --pipeline <file>       pipeline file (default ./pipeline.ts)
  --cache-dir <dir>       store location (default ./cache, or $LINEA_CACHE_DIR)
  --preset <name>         apply a preset declared in the pipeline
  --set <stage.param=v>   override a param (repeatable)
  --ablate <axis=v1,v2>   run these values of an ablation axis (repeatable)
  --only <stage>          only this stage and what it needs (repeatable)
  -j, --jobs <n>          run up to n stage instances at once in worker processes
  --verify-inputs         hash every file of a cached result before using it (default: files whose
                          size and mtime match the stamp taken at commit are trusted)
  --out <dir>             where stages that publish (e.g. a report) copy their files (default ./results)
  --backend <name>        tensor backend for stages that use one (sets $LINEA_BACKEND for them
                          and their workers; e.g. node-gpu, node, wasm, cpu)
  --json                  machine-readable output on stdout
`;

const OPTIONS = {
  pipeline: { type: 'string' },
  'cache-dir': { type: 'string' },
  preset: { type: 'string' },
  set: { type: 'string', multiple: true },
  ablate: { type: 'string', multiple: true },
  only: { type: 'string', multiple: true },
  jobs: { type: 'string', short: 'j' },
  backend: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  format: { type: 'string' },
  'max-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'verify-inputs': { type: 'boolean' },
  repair: { type: 'boolean' },
  'all-projects': { type: 'boolean' },
  grace: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseFlags>['values'];

function parseFlags(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    process.stderr.write(`linea: ${errorMessage(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const [command = 'run', ...rest] = positionals;
  if (flags.help || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  // Under --json, stdout belongs to the one JSON document: stage console output goes to stderr.
  if (flags.json) console.log = console.error;
  // The engine does not know tensors: it only hands the choice to stages (and, through the
  // environment, to pool workers). Stages that declare env ['LINEA_BACKEND'] key on it.
  if (flags.backend !== undefined) process.env.LINEA_BACKEND = flags.backend;
  try {
    switch (command) {
      case 'run':
        return await cmdRun(flags);
      case 'ablate':
        return await cmdAblate(flags);
      case 'status':
        return await cmdStatus(flags);
      case 'graph':
        return await cmdGraph(flags);
      case 'log':
        return await cmdLog(flags, rest);
      case 'gc':
        return await cmdGc(flags);
      case 'pin':
      case 'unpin':
        return await cmdPin(flags, command, rest);
      case 'verify':
        return await cmdVerify(flags);
      case 'index':
        if (rest[0] !== 'rebuild') throw new LineaError(`linea index: expected 'linea index rebuild'`, 'usage');
        return await cmdIndexRebuild(flags);
      default:
        throw new LineaError(`unknown command '${command}'\n\n${USAGE}`, 'usage');
    }
  } catch (error) {
    if (error instanceof LineaError) {
      process.stderr.write(`linea: ${error.message}\n`);
      // Bad input on the command line or in params (a wrong --set value, an unknown param, a bad
      // --ablate value) is a usage error like an unknown flag: 2, as the README says; 1 is a stage.
      return error.kind === 'usage' || error.kind === 'params' ? 2 : 1;
    }
    if (isDamagedIndex(error)) {
      const { cacheDir } = await loadPipeline(flags).catch(() => ({
        cacheDir: resolveCacheDir(process.cwd(), flags['cache-dir']),
      }));
      process.stderr.write(
        `linea: the run index ${join(cacheDir, 'index.sqlite')} is damaged (${(error as { code: string }).code}); results in the store are intact. Rebuild it from the store with \`linea index rebuild\` (or \`linea verify --repair\`).\n`,
      );
      return 1;
    }
    process.stderr.write(
      `linea: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 70;
  }
}

interface Loaded {
  pipeline: Pipeline;
  root: string;
  cacheDir: string;
}

export async function loadPipeline(flags: Pick<Flags, 'pipeline' | 'cache-dir'>): Promise<Loaded> {
  const file = resolve(flags.pipeline ?? 'pipeline.ts');
  if (!existsSync(file)) {
    throw new LineaError(
      `no pipeline file at ${file}; run linea in a project with a pipeline.ts or pass --pipeline <file>`,
      'config',
    );
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    if (error instanceof LineaError) throw error;
    throw new LineaError(`cannot load ${file}: ${errorMessage(error)}`, 'config');
  }
  if (!isPipeline(module.default)) {
    throw new LineaError(`${file} must \`export default definePipeline({...})\``, 'config');
  }
  const root = dirname(file);
  return { pipeline: module.default, root, cacheDir: resolveCacheDir(root, flags['cache-dir']) };
}

function selectionFrom(flags: Flags): Selection {
  const ablate: Record<string, string[]> = {};
  for (const flag of flags.ablate ?? []) {
    const [axis, values] = parseAblateFlag(flag);
    ablate[axis] = [...(ablate[axis] ?? []), ...values];
  }
  const set: Record<string, Json> = {};
  for (const flag of flags.set ?? []) {
    const [path, value] = parseSetFlag(flag);
    set[path] = value;
  }
  return {
    ...(flags.preset ? { preset: flags.preset } : {}),
    set,
    ablate,
    ...(flags.only ? { only: flags.only } : {}),
  };
}

async function withEngine<T>(
  flags: Flags,
  use: (engine: Engine, instances: Instance[], loaded: Loaded) => Promise<T>,
  selection?: Selection,
  preloaded?: Loaded,
  access: 'read' | 'write' = 'write',
): Promise<T> {
  const loaded = preloaded ?? (await loadPipeline(flags));
  const instances = expandInstances(loaded.pipeline, selection ?? selectionFrom(flags));
  const engine = await openEngine({ root: loaded.root, cacheDir: loaded.cacheDir, pipeline: loaded.pipeline, access });
  try {
    return await use(engine, instances, loaded);
  } finally {
    await engine.close();
  }
}

function jobsFrom(flags: Flags): number {
  const jobs = flags.jobs === undefined ? 1 : Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new LineaError(`--jobs ${flags.jobs}: expected a whole number ≥ 1`, 'usage');
  return jobs;
}

async function cmdRun(flags: Flags, selection?: Selection, preloaded?: Loaded): Promise<number> {
  const jobs = jobsFrom(flags);
  return withEngine(
    flags,
    async (engine, instances, loaded) => {
      await engine.store.sweepTmp();
      const executor: Executor = jobs > 1 ? new ProcessPoolExecutor(jobs) : new InProcessExecutor();
      const printer = new ProgressPrinter();
      const controller = new AbortController();
      let interrupts = 0;
      const onSignal = () => {
        interrupts++;
        controller.abort();
        process.stderr.write(
          '\nlinea: interrupted; finishing up (nothing partial is committed). Press Ctrl-C again to exit now.\n',
        );
        if (interrupts > 1) process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const results = await runInstances(engine, instances, {
          executor,
          observer: printer,
          signal: controller.signal,
          verifyInputs: Boolean(flags['verify-inputs']),
        });
        printer.stop();
        const published = controller.signal.aborted
          ? []
          : await publishResults(engine, instances, results, resolve(flags.out ?? resolve(loaded.root, 'results')));
        if (flags.json) {
          process.stdout.write(
            `${JSON.stringify({ stages: results.map(({ id, stage, key, status, seconds }) => ({ id, stage, key, status, seconds })), published })}\n`,
          );
        } else {
          process.stdout.write(`${summaryTable(results)}\n`);
          for (const p of published) process.stdout.write(`${p.instance} → ${p.dir}\n`);
        }
        for (const r of results) if (r.status === 'failed') process.stderr.write(`linea: ${r.id} failed: ${r.error}\n`);
        if (controller.signal.aborted) return 130;
        return results.every((r) => r.status !== 'failed') ? 0 : 1;
      } finally {
        printer.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await executor.close();
      }
    },
    selection,
    preloaded,
  );
}

/**
 * Interactive ablation: prompts (or the --ablate flags with --yes), the grid of variants marked
 * cached / stale / new with an estimate from past durations, a confirmation, then a normal run.
 */
async function cmdAblate(flags: Flags): Promise<number> {
  const loaded = await loadPipeline(flags);
  const base = selectionFrom(flags);
  const initial = new Map(
    [...chosenAxisValues(loaded.pipeline, base)].map(([a, values]) => [a.name, values.map((v) => v.label)]),
  );
  const interactive = !flags.yes;
  if (interactive && !process.stdin.isTTY) {
    throw new LineaError(
      'linea ablate needs a terminal for its prompts; give the choice as flags instead: linea ablate --ablate <axis>=<v1>,<v2> … --yes (or linea run --ablate …)',
      'usage',
    );
  }
  const chosen = interactive ? await promptAblation(loaded.pipeline, initial) : initial;
  if (!chosen) return 130;
  const selection: Selection = { ...base, ablate: ablateSelection(loaded.pipeline, chosen) };
  const grid = await withEngine(
    flags,
    async (engine, instances) => {
      const planned = await planInstances(engine, instances);
      const cells = ablationGrid(chosen, instances, planned);
      return { cells, text: renderGrid(cells, [...chosen.keys()], estimate(planned, await engine.index.runs())) };
    },
    selection,
    loaded,
  );
  if (flags.json && !interactive) {
    process.stderr.write(`${grid.text}\n`);
  } else if (!interactive) {
    process.stdout.write(`${grid.text}\n`);
  }
  if (interactive && !(await confirmRun(grid.text))) return 130;
  return cmdRun(flags, selection, loaded);
}

async function cmdStatus(flags: Flags): Promise<number> {
  return withEngine(
    flags,
    async (engine, instances) => {
      const planned = await planInstances(engine, instances);
      if (flags.json) {
        const stages = planned.map((p) => ({
          id: p.id,
          stage: p.stage,
          key: p.key,
          state: p.state,
          reasons: p.reasons.map((r) => ({ ...r, message: describeReason(r) })),
        }));
        process.stdout.write(`${JSON.stringify({ stages })}\n`);
      } else {
        process.stdout.write(`${describePlan(planned)}\n`);
      }
      return 0;
    },
    undefined,
    undefined,
    'read',
  );
}

async function cmdGraph(flags: Flags): Promise<number> {
  const format = flags.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') throw new LineaError(`--format ${format}: use mermaid or dot`, 'usage');
  const loaded = await loadPipeline(flags);
  const instances = expandInstances(loaded.pipeline, selectionFrom(flags));
  process.stdout.write(`${renderGraph(instances, format)}\n`);
  return 0;
}

async function cmdLog(flags: Flags, args: string[]): Promise<number> {
  const [name] = args;
  if (!name) throw new LineaError('usage: linea log <stage|instance>', 'usage');
  return withEngine(
    flags,
    async (engine) => {
      const all = await engine.index.runs();
      // A store may be shared by several projects: show this project's runs unless --all-projects.
      const runs = all
        .filter((r) => flags['all-projects'] || r.project === undefined || r.project === engine.project)
        .filter((r) => r.stage === name || r.node === name || r.instance === name)
        .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
      if (!runs.length) throw new LineaError(`no recorded runs of '${name}'`, 'usage');
      const byKey = new Map(all.map((r) => [r.key, r]));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ runs })}\n`);
        return 0;
      }
      for (const r of runs) {
        const lines = [
          `${r.startedAt}  ${r.instance}  key ${r.key.slice(0, 12)}  ${r.seconds.toFixed(2)}s  on ${r.host}`,
          `  params  ${canonicalJson(r.fingerprint.params)}`,
          ...Object.entries(r.upstream).map(
            ([input, key]) => `  input   ${input} ← ${byKey.get(key)?.instance ?? '(gone)'} ${key.slice(0, 12)}`,
          ),
          `  code    ${Object.keys(r.fingerprint.code).join(', ')}`,
          ...(Object.keys(r.fingerprint.packages).length
            ? [
                `  npm     ${Object.entries(r.fingerprint.packages)
                  .map(([n, v]) => `${n}@${v}`)
                  .join(', ')}`,
              ]
            : []),
          ...(Object.keys(r.fingerprint.env).length ? [`  env     ${canonicalJson(r.fingerprint.env)}`] : []),
          `  output  ${r.digest.slice(0, 12)}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      return 0;
    },
    undefined,
    undefined,
    'read',
  );
}

async function cmdGc(flags: Flags): Promise<number> {
  let maxBytes: number | undefined;
  try {
    maxBytes = flags['max-size'] === undefined ? undefined : parseSize(flags['max-size']);
  } catch (error) {
    throw new LineaError(`--max-size: ${errorMessage(error)}`, 'usage');
  }
  let graceMs: number | undefined;
  try {
    graceMs = flags.grace === undefined ? undefined : parseDuration(flags.grace);
  } catch (error) {
    throw new LineaError(`--grace: ${errorMessage(error)}`, 'usage');
  }
  return withEngine(flags, async (engine, instances) => {
    const planned = await planInstances(engine, instances);
    const report = await collectGarbage(engine, {
      keep: new Set(planned.flatMap((p) => (p.digest ? [p.digest] : []))),
      liveKeys: new Set(planned.flatMap((p) => (p.key ? [p.key] : []))),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      dryRun: Boolean(flags['dry-run']),
      allProjects: Boolean(flags['all-projects']),
      ...(graceMs !== undefined ? { graceMs } : {}),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
      const verb = report.dryRun ? 'would evict' : 'evicted';
      process.stdout.write(
        `${verb} ${report.evicted.length} objects (${mb(report.evictedBytes)}); kept ${report.kept} (${mb(report.keptBytes)}); ` +
          `${report.droppedIndexEntries} index entries and ${report.droppedCheckpoints} checkpoints ${report.dryRun ? 'would be ' : ''}dropped\n`,
      );
    }
    return 0;
  });
}

async function cmdPin(flags: Flags, command: 'pin' | 'unpin', args: string[]): Promise<number> {
  const [target] = args;
  if (!target) throw new LineaError(`usage: linea ${command} <instance|key>`, 'usage');
  return withEngine(flags, async (engine, instances) => {
    const planned = await planInstances(engine, instances);
    const match = planned.find((p) => p.id === target);
    if (command === 'unpin') {
      const key = (match?.key ?? target) as CacheKey;
      const removed = await engine.index.unpin(key);
      process.stdout.write(removed ? `unpinned ${target}\n` : `${target} was not pinned\n`);
      return 0;
    }
    if (!match) throw new LineaError(`no stage instance '${target}'; see linea status for the ids`, 'usage');
    if (match.state !== 'cached' || !match.key)
      throw new LineaError(`${target} has no cached result to pin (it is ${match.state}); run it first`, 'usage');
    await engine.index.pin(match.key, target);
    process.stdout.write(`pinned ${target} (${match.key.slice(0, 12)})\n`);
    return 0;
  });
}

async function cmdIndexRebuild(flags: Flags): Promise<number> {
  const { cacheDir } = await loadPipeline(flags);
  const store = new Store(cacheDir);
  await store.init();
  const report = await rebuildIndex(store);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `run index rebuilt from the store: ${report.restored} runs restored${report.skipped ? `, ${report.skipped} whose objects are missing or damaged left out (they will be recomputed)` : ''}\n`,
    );
    for (const path of report.movedAside) process.stdout.write(`  the old index is kept at ${path}\n`);
  }
  return 0;
}

async function cmdVerify(flags: Flags): Promise<number> {
  if (flags.repair) {
    // A damaged index cannot even be opened: rebuild it first, then verify as usual.
    const { cacheDir } = await loadPipeline(flags);
    const store = new Store(cacheDir);
    await store.init();
    let damaged = false;
    try {
      const index = await RunIndex.open(store.indexPath);
      try {
        await index.runs();
      } finally {
        await index.close();
      }
    } catch (error) {
      if (!isDamagedIndex(error)) throw error;
      damaged = true;
    }
    if (damaged) {
      const report = await rebuildIndex(store);
      process.stderr.write(
        `linea: the run index was damaged; rebuilt from the store (${report.restored} runs restored; the old one is kept at ${report.movedAside[0] ?? '–'})\n`,
      );
    }
  }
  return withEngine(
    flags,
    async (engine) => {
      const problems: string[] = [];
      const digests = await engine.store.listObjects();
      for (const digest of digests) {
        const verified = await engine.store.verify(digest);
        if (verified.ok) continue;
        // A damaged object is never served again: out of the store, its runs are misses and rerun.
        const moved = await engine.store.quarantine(digest);
        problems.push(
          `object ${digest.slice(0, 12)} ${verified.problem}${moved ? `; moved to ${moved}, the next run recomputes it` : ''}`,
        );
      }
      const runs = await engine.index.runs();
      const present = new Set(digests);
      for (const r of runs)
        if (!present.has(r.digest))
          problems.push(
            `index entry ${r.instance} (${r.key.slice(0, 12)}) points to a missing object (a miss; gc drops it)`,
          );
      if (flags.json)
        process.stdout.write(`${JSON.stringify({ objects: digests.length, runs: runs.length, problems })}\n`);
      else
        process.stdout.write(
          `${digests.length} objects, ${runs.length} indexed runs: ${problems.length ? `\n  ${problems.join('\n  ')}` : 'all intact'}\n`,
        );
      return problems.some((p) => p.startsWith('object')) ? 1 : 0;
    },
    undefined,
    undefined,
    'read',
  );
}
