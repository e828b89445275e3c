/**
 * What every command shares: the parsed flags, loading pipeline.ts, and opening the project's
 * store, index and leases around a piece of work, for the instances the flags select
 * (../selection.ts reads them into a Selection).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Project, openProject } from '../../project/project.ts';
import { resolveCacheDir } from '../../project/cache-dir.ts';
import type { Flags } from '../flags.ts';
import { errorMessage, LineaError } from '../../core/errors.ts';
import { indexUri } from '../../index/index-backends.ts';
import { expandInstances, type Instance, type Selection } from '../../define/instances.ts';
import { selectionFrom } from '../selection.ts';
import { ENGINE_SOURCES, isPipeline, type Pipeline } from '../../define/pipeline.ts';
import { phase } from '../../core/profile.ts';
import { importModule } from '../../load/typescript.ts';

export { type Flags, parseFlags } from '../flags.ts';

export interface Loaded {
  pipeline: Pipeline;
  root: string;
  cacheDir: string;
  /** --index / $LINEA_INDEX, else a directory of files in the cache. */
  indexUri: URL;
}

export async function loadPipeline(flags: Pick<Flags, 'pipeline' | 'cache-dir' | 'index'>): Promise<Loaded> {
  const file = resolve(flags.pipeline ?? 'pipeline.ts');
  if (!existsSync(file)) {
    throw new LineaError(
      `no pipeline file at ${file}; run linea in a project with a pipeline.ts or pass --pipeline <file>`,
      'config',
    );
  }
  let module: { default?: unknown };
  try {
    module = (await importModule(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    if (error instanceof LineaError) throw error;
    throw new LineaError(`cannot load ${file}: ${errorMessage(error)}`, 'config');
  }
  if (!isPipeline(module.default)) {
    throw new LineaError(`${file} must \`export default definePipeline({...})\``, 'config');
  }
  if (module.default.engine !== undefined && module.default.engine !== ENGINE_SOURCES) {
    throw new LineaError(
      `${file} is defined with the linea engine in ${module.default.engine}, but this command runs the one in ${ENGINE_SOURCES}: two copies of linea-engine cannot share stages. Run the project's own: npx linea … (in ${dirname(file)})`,
      'config',
    );
  }
  const root = dirname(file);
  const cacheDir = resolveCacheDir(root, flags['cache-dir']);
  return { pipeline: module.default, root, cacheDir, indexUri: indexUri(cacheDir, flags.index) };
}

export interface WithProjectOptions {
  /** The instances to expand (default: what the flags select). */
  readonly selection?: Selection;
  /** The pipeline, when the command has loaded it already. */
  readonly loaded?: Loaded;
  /** 'read' works on a cache this user cannot write (status, log, verify). Default 'write'. */
  readonly access?: 'read' | 'write';
}

/** Open the project, hand `use` its handles and the selected instances, and close it whatever happens. */
export async function withProject<T>(
  flags: Flags,
  use: (project: Project, instances: Instance[], loaded: Loaded) => Promise<T>,
  options: WithProjectOptions = {},
): Promise<T> {
  const loaded = options.loaded ?? (await phase('load pipeline', () => loadPipeline(flags)));
  const instances = await phase('expand instances', async () =>
    expandInstances(loaded.pipeline, options.selection ?? selectionFrom(flags)),
  );
  const access = options.access ?? 'write';
  const project = await phase('open project', () =>
    openProject({
      root: loaded.root,
      cacheDir: loaded.cacheDir,
      indexUri: loaded.indexUri,
      pipeline: loaded.pipeline,
      access,
    }),
  );
  // Each entry of the wrong shape is named once; the run treats it as a miss and refills it.
  project.index.onUnreadable = ({ entry, problem }) =>
    process.stderr.write(
      `linea: run index entry ${entry} is unreadable (${problem}); treated as a miss, and replaced from the store's record where there is one\n`,
    );
  try {
    return await use(project, instances, loaded);
  } finally {
    await phase('close', () => project.close());
  }
}

/** --jobs, or --max-queued (the name cluster users know for the same limit: jobs queued at once). */
/** --group: how many ready instances may share one cluster job (default 1, or $LINEA_GROUP). */
export function groupFrom(flags: Flags): number {
  const given = flags.group ?? process.env.LINEA_GROUP;
  const group = given === undefined ? 1 : Number(given);
  if (!Number.isInteger(group) || group < 1)
    throw new LineaError(`--group ${given}: expected a whole number ≥ 1 (instances per cluster job)`, 'usage');
  return group;
}

/**
 * --pilot-idle: seconds a cluster executor's pilot job waits for its next task before it leaves
 * (default the executor's, or $LINEA_PILOT_IDLE; 0: a job per instance, no pilots).
 */
export function pilotIdleFrom(flags: Flags): number | undefined {
  const given = flags['pilot-idle'] ?? process.env.LINEA_PILOT_IDLE;
  if (given === undefined) return undefined;
  const seconds = Number(given);
  if (given.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
    throw new LineaError(`--pilot-idle ${given}: expected seconds ≥ 0 (0: a cluster job per instance)`, 'usage');
  return seconds;
}

/** A cluster executor's flags: --group, --local-below, --pilot-idle and --pilot-ramp. */
export function clusterFlags(flags: Flags) {
  return {
    group: groupFrom(flags),
    localBelow: localBelowFrom(flags),
    pilotIdle: pilotIdleFrom(flags),
    pilotRamp: pilotRampFrom(flags),
  };
}

/**
 * --pilot-ramp: seconds an instance waits for a busy or starting pilot before another starts for
 * it (default the executor's, or $LINEA_PILOT_RAMP; 0: a pilot for each instance at once).
 */
export function pilotRampFrom(flags: Flags): number | undefined {
  const given = flags['pilot-ramp'] ?? process.env.LINEA_PILOT_RAMP;
  if (given === undefined) return undefined;
  const seconds = Number(given);
  if (given.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
    throw new LineaError(`--pilot-ramp ${given}: expected seconds ≥ 0 (0: start pilots at once)`, 'usage');
  return seconds;
}

/**
 * --local-below: seconds under which a cluster executor runs an instance in the driver, judged by
 * its stage's earlier runs (default 5, or $LINEA_LOCAL_BELOW; 0 turns it off).
 */
export function localBelowFrom(flags: Flags): number {
  const given = flags['local-below'] ?? process.env.LINEA_LOCAL_BELOW;
  const seconds = given === undefined ? DEFAULT_LOCAL_BELOW : Number(given);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new LineaError(`--local-below ${given}: expected seconds ≥ 0 (0: every instance is a job)`, 'usage');
  return seconds;
}

/**
 * A job costs its submission, queue wait, poll and worker start: about 0.4 s on an idle
 * single-node Slurm, often minutes on a busy cluster. A stage that took under 5 s last time is
 * cheaper in the driver.
 */
const DEFAULT_LOCAL_BELOW = 5;

export function jobsFrom(flags: Flags): number {
  const [flag, given] =
    flags['max-queued'] !== undefined ? ['--max-queued', flags['max-queued']] : ['--jobs', flags.jobs];
  const jobs = given === undefined ? 1 : Number(given);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new LineaError(`${flag} ${given}: expected a whole number ≥ 1`, 'usage');
  return jobs;
}
