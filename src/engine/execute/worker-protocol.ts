/**
 * The messages between the process pool (pool.ts) and its workers (worker.ts). Both ends are
 * this package, but a message arrives as structured-clone data of unknown shape: it is checked
 * here, once, rather than cast where it is used.
 */
import type { StageTask, TaskEvent, TaskOutcome } from './executor.ts';

export type ToWorker = { type: 'run'; id: number; task: StageTask } | { type: 'abort'; id: number };
export type FromWorker =
  | { type: 'event'; id: number; event: TaskEvent }
  | { type: 'done'; id: number; outcome: TaskOutcome };

type Tagged = Record<string, unknown> & { id: number };
const tagged = (message: unknown): message is Tagged => object(message) && typeof message.id === 'number';
const object = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const strings = (value: Record<string, unknown>, fields: readonly string[]) =>
  fields.every((f) => typeof value[f] === 'string');

function isStageTask(value: unknown): value is StageTask {
  return (
    object(value) &&
    strings(value, ['instance', 'stage', 'moduleUrl', 'key', 'outDir', 'cacheDir']) &&
    object(value.inputs)
  );
}
function isTaskEvent(value: unknown): value is TaskEvent {
  return (
    object(value) &&
    (value.type === 'log' ? typeof value.message === 'string' : value.type === 'progress' && object(value.progress))
  );
}
function isTaskOutcome(value: unknown): value is TaskOutcome {
  return (
    object(value) && (value.ok === true ? 'value' in value : value.ok === false && typeof value.error === 'string')
  );
}

/** A message for a worker, or undefined when it is not one. */
export function asToWorker(message: unknown): ToWorker | undefined {
  if (!tagged(message)) return undefined;
  const { id } = message;
  if (message.type === 'abort') return { type: 'abort', id };
  if (message.type === 'run' && isStageTask(message.task)) return { type: 'run', id, task: message.task };
  return undefined;
}

/** A message from a worker, or undefined when it is not one. */
export function asFromWorker(message: unknown): FromWorker | undefined {
  if (!tagged(message)) return undefined;
  const { id } = message;
  if (message.type === 'event' && isTaskEvent(message.event)) return { type: 'event', id, event: message.event };
  if (message.type === 'done' && isTaskOutcome(message.outcome)) return { type: 'done', id, outcome: message.outcome };
  return undefined;
}
