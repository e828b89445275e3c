/**
 * `linea run`: run what is not cached; Ctrl-C stops starting stages and commits nothing partial, a second Ctrl-C exits at once.
 */
import { resolve } from 'node:path';
import { chooseExecutor, createExecutor } from '../../execute/executors.ts';
import type { Selection } from '../../define/instances.ts';
import { ProgressPrinter, summaryTable } from '../progress.ts';
import { publishResults } from '../../schedule/publish.ts';
import { phase } from '../../core/profile.ts';
import { runInstances } from '../../schedule/run.ts';
import { sweepLeftovers } from '../../project/project.ts';
import { type Flags, jobsFrom, type Loaded, withProject } from './context.ts';

export async function cmdRun(flags: Flags, selection?: Selection, preloaded?: Loaded): Promise<number> {
  const jobs = jobsFrom(flags);
  return withProject(
    flags,
    async (project, instances, loaded) => {
      const executor = await phase('start executor', async () => {
        await sweepLeftovers(project);
        const name = chooseExecutor({ flag: flags.executor, pipeline: loaded.pipeline.executor }, jobs);
        return createExecutor(name, { jobs, root: loaded.root, cacheDir: loaded.cacheDir });
      });
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
        const results = await phase('lookups and runs', () =>
          runInstances(project, instances, {
            executor,
            observer: printer,
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
        await phase('close', () => executor.close());
      }
    },
    { ...(selection ? { selection } : {}), ...(preloaded ? { loaded: preloaded } : {}) },
  );
}
