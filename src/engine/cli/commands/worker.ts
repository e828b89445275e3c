/**
 * `linea worker --task <dir>`: run one stage task from a job directory (task-file.ts) and leave
 * its events and outcome there. This is what a batch job runs on a cluster node; it needs only
 * the project (for the stage's code) and the cache (for its inputs) at the paths the task names.
 * It commits nothing: the driver that submitted it commits the workspace and indexes the run.
 */
import { errorMessage, LineaError } from '../../core/errors.ts';
import { runTask } from '../../execute/executor.ts';
import { appendEvent, readTaskFile, writeOutcome } from '../../execute/task-file.ts';
import type { Flags } from './context.ts';

export async function cmdWorker(flags: Flags): Promise<number> {
  const dir = flags.task;
  if (!dir) throw new LineaError('usage: linea worker --task <job directory>', 'usage');
  let task: Awaited<ReturnType<typeof readTaskFile>>;
  try {
    task = await readTaskFile(dir, process.cwd());
  } catch (error) {
    throw new LineaError(`linea worker: cannot read the task in ${dir}: ${errorMessage(error)}`, 'store');
  }
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
  return outcome.ok ? 0 : 1;
}
