/**
 * The `linea` command: parses the arguments and dispatches to the command's module in commands/.
 * Each command is a thin edge around the pure parts: load the pipeline, expand instances, plan
 * or run, print. With --json, stdout carries exactly one JSON document and everything for humans
 * goes to stderr.
 */
import { dirname, resolve } from 'node:path';
import { resolveCacheDir } from '../project/cache-dir.ts';
import { errorMessage, LineaError } from '../core/errors.ts';
import { replaySettled } from '../schedule/settled.ts';
import { type Flags, parseFlags } from './flags.ts';
import { phase } from '../core/profile.ts';

const USAGE = `linea — run an experiment pipeline with content-addressed caching

usage: linea <command> [options]

commands:
  init [dir]       write a starter project (package.json, tsconfig, pipeline.ts, two stages, a test)
  run              run what is not cached (default)
  ablate           pick ablation axes and values, see the grids (one per group of axes that meet:
                   cached / stale / new, estimated time), confirm, run; --ablate flags preselect
                   values, --yes skips the prompts, --dry-run only prints the grids
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
  view             serve a live page of the pipeline: the graph with each instance's state, a
                   node's params, reasons, outputs, runs and log, progress with an ETA, metric
                   curves and results tables (--port 4747, --host 127.0.0.1; another host needs
                   the printed token); reads what every run writes, so it shows any run's progress
  worker --task <dir>  run one stage task from a job directory (what a cluster job runs);
                   --pilot <dir> runs the tasks a driver hands a pilot job, one after another

options:
  --pipeline <file>       pipeline file (default ./pipeline.ts)
  --cache-dir <dir>       store location (default ./cache, or $LINEA_CACHE_DIR)
  --preset <name>         apply a preset declared in the pipeline
  --set <stage.param=v>   override a param (repeatable)
  --ablate <axis=v1,v2>   run these values of an ablation axis (repeatable)
  --only <stage>          only this stage and what it needs (repeatable)
  -j, --jobs <n>          run up to n stage instances at once (in worker processes, or n jobs queued
                          on a cluster)
  --max-queued <n>        the same as --jobs, for cluster executors: jobs queued or running at once
  --executor <name>       where stage instances run: local (default), pool (default with --jobs),
                          slurm (each instance a batch job); or $LINEA_EXECUTOR, or the pipeline's
  --resources <stage.field=v>  cpus, memory, gpus or time for a stage's cluster jobs, or local=true
                          to run it in the driver (repeatable)
  --local-below <s>       a cluster executor runs instances of stages whose earlier runs took under
                          s seconds in the driver, not as jobs (default 5; 0: never)
  --group <n>             a cluster job may run up to n instances that are ready together (default 1;
                          above 1, jobs are batches of ready instances, not pilots)
  --pilot-idle <s>        a cluster executor's jobs are pilots that run instance after instance and
                          leave after s idle seconds (default 30; 0: a job per instance)
  --pilot-ramp <s>        another pilot starts for an instance that has waited s seconds for one,
                          their number at most doubling every s seconds (default 1; 0: at once)
  --index <uri>           the run index: files (default, a directory in the cache), sqlite,
                          postgres://…, redis://…; or $LINEA_INDEX
  --verify-inputs         hash every file of a cached result before using it (default: files whose
                          size and mtime match the stamp taken at commit are trusted)
  --out <dir>             where stages that publish (e.g. a report) copy their files (default ./results)
  --backend <name>        tensor backend for stages that use one (sets $LINEA_BACKEND for them
                          and their workers; e.g. node-gpu, node, wasm, cpu)
  --json                  machine-readable output on stdout
`;

/**
 * Each command's module, imported when that command runs: a no-op `run` should not pay for the
 * prompts of `ablate` or the process tools of `worker` (startup is most of a no-op's time).
 * `rest` is the positionals after the command's name; `argv`, the whole command line.
 */
const COMMANDS: Readonly<Record<string, (flags: Flags, rest: string[], argv: readonly string[]) => Promise<number>>> = {
  // run and status time their module's load, which brings the engine's definitions, zod, the
  // store and the index: what a replay (below) does without.
  run: async (flags, _rest, argv) =>
    (await phase('load engine', () => import('./commands/run.ts'))).cmdRun(flags, undefined, undefined, argv),
  ablate: async (flags) => (await import('./commands/ablate.ts')).cmdAblate(flags),
  status: async (flags, _rest, argv) =>
    (await phase('load engine', () => import('./commands/status.ts'))).cmdStatus(flags, argv),
  graph: async (flags) => (await import('./commands/graph.ts')).cmdGraph(flags),
  log: async (flags, rest) => (await import('./commands/log.ts')).cmdLog(flags, rest),
  gc: async (flags) => (await import('./commands/gc.ts')).cmdGc(flags),
  pin: async (flags, rest) => (await import('./commands/pin.ts')).cmdPin(flags, 'pin', rest),
  unpin: async (flags, rest) => (await import('./commands/pin.ts')).cmdPin(flags, 'unpin', rest),
  verify: async (flags) => (await import('./commands/verify.ts')).cmdVerify(flags),
  worker: async (flags) => (await import('./commands/worker.ts')).cmdWorker(flags),
  init: async (flags, rest) => (await import('./commands/init.ts')).cmdInit(flags, rest),
  view: async (flags) => (await import('./commands/view.ts')).cmdView(flags),
  index: async (flags, rest) => {
    if (rest[0] !== 'rebuild') throw new LineaError(`linea index: expected 'linea index rebuild'`, 'usage');
    return (await import('./commands/index-rebuild.ts')).cmdIndexRebuild(flags);
  },
};

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
  // An unknown command is a usage error with or without --help (help for it would be a guess).
  if (command !== 'help' && !Object.hasOwn(COMMANDS, command)) {
    process.stderr.write(`linea: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
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
    if ((command === 'run' || command === 'status') && (await phase('replay', async () => replayed(flags, argv))))
      return 0;
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new LineaError(`unknown command '${command}'\n\n${USAGE}`, 'usage');
    return await run(flags, rest, argv);
  } catch (error) {
    if (error instanceof LineaError) {
      process.stderr.write(`linea: ${error.message}\n`);
      return exitCodeOf(error);
    }
    const { indexUri, isDamagedIndex, redact } = await import('../index/index-backends.ts');
    if (isDamagedIndex(error)) {
      const { loadPipeline } = await import('./commands/context.ts');
      const uri = await loadPipeline(flags)
        .then((loaded) => loaded.indexUri)
        .catch(() => indexUri(resolveCacheDir(process.cwd(), flags['cache-dir']), flags.index));
      process.stderr.write(
        `linea: the run index ${uri.protocol === 'sqlite:' ? uri.pathname : redact(uri)} is damaged (${(error as { code: string }).code}); results in the store are intact. Rebuild it from the store with \`linea index rebuild\` (or \`linea verify --repair\`).\n`,
      );
      return 1;
    }
    process.stderr.write(
      `linea: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 70;
  }
}

/**
 * An all-cached `run` or `status` answered from its settled record (schedule/settled.ts), when
 * everything the last such command read is unchanged: printed as the long way printed it.
 */
function replayed(flags: Flags, argv: readonly string[]): boolean {
  if (flags['verify-inputs']) return false;
  const pipeline = resolve(flags.pipeline ?? 'pipeline.ts');
  const output = replaySettled(resolveCacheDir(dirname(pipeline), flags['cache-dir']), argv);
  if (output === undefined) return false;
  if (process.env.LINEA_DEBUG) process.stderr.write('linea: answered from the settled record of the same command\n');
  process.stdout.write(output);
  return true;
}

/**
 * The rule in docs/cli.md, "Exit codes": 2 when the command or the experiment's definition is wrong
 * and nothing ran (a flag, a param, a pipeline.ts that does not load, a cycle, a miswired stage, a
 * missing data file); 1 when something failed while running (a stage, the store, the index, a
 * lease). The kind says which.
 */
export function exitCodeOf(error: LineaError): 1 | 2 {
  switch (error.kind) {
    case 'usage':
    case 'params':
    case 'config':
    case 'cycle':
      return 2;
    case 'store':
    case 'stage':
      return 1;
  }
}
