/**
 * `linea run`: run what is not cached; Ctrl-C stops starting stages and commits nothing partial, a second Ctrl-C exits at once.
 */
import { resolve } from 'node:path';
import { chooseExecutor, createExecutor } from '../../execute/executors.ts';
import type { Executor } from '../../execute/executor.ts';
import type { Instance, Selection } from '../../define/instances.ts';
import { ProgressPrinter, summaryTable } from '../progress.ts';
import { publishResults } from '../../schedule/publish.ts';
import { phase } from '../../core/profile.ts';
import { type RunObserver, runInstances } from '../../schedule/run.ts';
import { stageEstimates } from '../../view/eta.ts';
import { Journal, observers } from '../../view/journal.ts';
import { type Project, sweepLeftovers } from '../../project/project.ts';
import { type Settling, startSettling } from './settling.ts';
import { clusterFlags, type Flags, jobsFrom, type Loaded, withProject } from './context.ts';

/**
 * `argv`, for a plain `linea run`: the command's words, under which an all-cached answer is kept
 * for replay (settling.ts).
 */
export async function cmdRun(
  flags: Flags,
  selection?: Selection,
  preloaded?: Loaded,
  argv?: readonly string[],
): Promise<number> {
  const jobs = jobsFrom(flags);
  const { settling, end } = startSettling(argv, flags);
  try {
    return await runObserved(flags, jobs, selection, preloaded, settling);
  } finally {
    end();
  }
}

async function runObserved(
  flags: Flags,
  jobs: number,
  selection: Selection | undefined,
  preloaded: Loaded | undefined,
  settling: Settling,
): Promise<number> {
  return withProject(
    flags,
    async (project, instances, loaded) => {
      const executor = await phase('start executor', async () => {
        await sweepLeftovers(project);
        const name = chooseExecutor({ flag: flags.executor, pipeline: loaded.pipeline.executor }, jobs);
        const made = await createExecutor(name, {
          jobs,
          root: loaded.root,
          cacheDir: loaded.cacheDir,
          ...clusterFlags(flags),
        });
        if (made.setEstimates) await giveEstimates(made, project, instances);
        return made;
      });
      const printer = new ProgressPrinter();
      const journal = new Journal(loaded.cacheDir);
      journal.begin(
        project.id,
        instances.map((i) => [i.id, i.stage.name] as const),
      );
      printer.begin(instances.map((i) => [i.id, i.stage.name] as const));
      // Earlier runs' times are read only once something runs: an all-cached rerun never pays.
      let estimating = false;
      const estimateOnStart: RunObserver = {
        started: () => {
          settling.abandon();
          if (estimating) return;
          estimating = true;
          // Once something runs, say how to watch it (not in CI logs, where nobody can).
          if (!process.env.CI) process.stderr.write('linea: watch this run in a browser: npx linea view\n');
          void earlierTimes(project, instances)
            .then((estimates) => {
              printer.setEstimates(estimates);
              journal.estimates(estimates);
            })
            .catch(() => undefined);
        },
        waiting: () => undefined,
        event: () => undefined,
        finished: () => undefined,
      };
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
        const results = await phase('lookups and runs', () =>
          runInstances(project, instances, {
            executor,
            observer: observers(printer, journal, estimateOnStart),
            signal: controller.signal,
            verifyInputs: Boolean(flags['verify-inputs']),
          }),
        );
        printer.stop();
        const published = controller.signal.aborted
          ? []
          : await phase('publish results', () =>
              publishResults(project, instances, results, resolve(flags.out ?? resolve(loaded.root, 'results'))),
            );
        const output = flags.json
          ? `${JSON.stringify({ stages: results.map(({ id, stage, key, status, seconds }) => ({ id, stage, key, status, seconds })), published })}\n`
          : `${summaryTable(results)}\n${published.map((p) => `${p.instance} → ${p.dir}\n`).join('')}`;
        process.stdout.write(output);
        for (const r of results) if (r.status === 'failed') process.stderr.write(`linea: ${r.id} failed: ${r.error}\n`);
        if (controller.signal.aborted) return 130;
        settling.answered(
          loaded,
          output,
          results.every((r) => r.status === 'cached'),
        );
        return results.every((r) => r.status !== 'failed') ? 0 : 1;
      } finally {
        printer.stop();
        journal.end();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await phase('close', () => executor.close());
      }
    },
    { ...(selection ? { selection } : {}), ...(preloaded ? { loaded: preloaded } : {}) },
  );
}

/**
 * A cluster executor decides what runs in the driver from earlier runs' times, so it reads them
 * before anything runs: each instance's own last time (one point read per instance; only a
 * cluster run pays it), since a stage's typical time can be a hundredth of its widest
 * instance's, and the stage's typical time from the same reads, for instances never run. A run
 * recorded as 0 s was quicker than the record's precision, not unknown.
 */
async function giveEstimates(executor: Executor, project: Project, instances: readonly Instance[]): Promise<void> {
  const runs = await Promise.all(instances.map((i) => project.index.latest(project.id, i.id).catch(() => undefined)));
  const byInstance: Record<string, number> = {};
  for (const [n, run] of runs.entries()) if (run && run.seconds >= 0) byInstance[instances[n]!.id] = run.seconds;
  const byStage = stageEstimates(runs.flatMap((r) => (r ? [{ stage: r.stage, seconds: r.seconds }] : [])));
  executor.setEstimates?.(byStage, byInstance);
}

/** Instances per stage whose last run is read for the stage's typical time. */
const SAMPLED_PER_STAGE = 5;

/**
 * Each stage's typical seconds, from the last runs of a few of its instances: a handful of index
 * reads per stage, however long the index's history (reading every record cost a 1,000-stage
 * changed cone seconds once the index held a few thousand runs).
 */
async function earlierTimes(project: Project, instances: readonly Instance[]): Promise<Record<string, number>> {
  const byStage = new Map<string, string[]>();
  for (const i of instances) {
    const ids = byStage.get(i.stage.name) ?? [];
    if (ids.length < SAMPLED_PER_STAGE) ids.push(i.id);
    byStage.set(i.stage.name, ids);
  }
  const runs = await Promise.all(
    [...byStage.values()].flat().map((id) => project.index.latest(project.id, id).catch(() => undefined)),
  );
  return stageEstimates(runs.flatMap((r) => (r ? [{ stage: r.stage, seconds: r.seconds }] : [])));
}
