/**
 * `linea worker --task <dir> [--task <dir>…]`: run stage tasks from job directories (task-file.ts),
 * one after another, and leave each one's events and outcome in its directory. This is what a
 * batch job runs on a cluster node (several tasks when the executor grouped small instances into
 * one job); it needs only the project (for the stages' code) and the cache (for their inputs) at
 * the paths the tasks name. It commits nothing: the driver that submitted it commits each
 * workspace and indexes each run.
 *
 * `linea worker --pilot <dir>`: the same for each task the driver hands the pilot job whose
 * directory this is (pilot.ts), until the driver needs it no more.
 */
import { errorMessage, LineaError } from '../../core/errors.ts';
import { runTask } from '../../execute/executor.ts';
import { readPilotFile, serve } from '../../execute/pilot.ts';
import { appendEvent, markStarted, readTaskFile, writeOutcome } from '../../execute/task-file.ts';
import type { Flags } from './context.ts';

export async function cmdWorker(flags: Flags): Promise<number> {
  if (flags.pilot) {
    const pilot = flags.pilot;
    const settings = await readPilotFile(pilot).catch((error: unknown) => {
      throw new LineaError(`linea worker: cannot read the pilot in ${pilot}: ${errorMessage(error)}`, 'store');
    });
    // A task a pilot cannot read fails on its own, with its outcome: the pilot serves the next.
    await serve(pilot, settings, async (dir) => {
      await runOne(dir).catch((error: unknown) => writeOutcome(dir, { ok: false, error: errorMessage(error) }));
    });
    return 0;
  }
  const dirs = flags.task ?? [];
  if (dirs.length === 0)
    throw new LineaError('usage: linea worker --task <job directory> [--task <dir>…] | --pilot <dir>', 'usage');
  let failed = 0;
  // The tasks of a group were ready together, so none needs another's result: each runs whatever
  // the others did. The module of a stage, and what it loads, is loaded once for all.
  for (const dir of dirs) if (!(await runOne(dir))) failed++;
  return failed ? 1 : 0;
}

async function runOne(dir: string): Promise<boolean> {
  let task: Awaited<ReturnType<typeof readTaskFile>>;
  try {
    task = await readTaskFile(dir, process.cwd());
  } catch (error) {
    throw new LineaError(`linea worker: cannot read the task in ${dir}: ${errorMessage(error)}`, 'store');
  }
  // A task of a group whose job died before reaching it shows no start: the driver submits it again.
  await markStarted(dir);
  // Events are written in order, one append at a time, and all of them before the outcome.
  let events = Promise.resolve();
  const onEvent = (event: Parameters<typeof appendEvent>[1]) => {
    events = events.then(() => appendEvent(dir, event)).catch(() => undefined);
  };
  // scancel and a time limit send SIGTERM: the worker dies without an outcome, and the driver
  // reports the job's Slurm state instead (which says why).
  const outcome = await runTask(task, onEvent, new AbortController().signal);
  await events;
  await writeOutcome(dir, outcome);
  if (!outcome.ok) process.stderr.write(`linea worker: ${task.instance} failed: ${outcome.error}\n`);
  return outcome.ok;
}
