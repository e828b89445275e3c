/**
 * A worker process of the pool: receives stage tasks over IPC, runs them with `runTask` (each
 * worker is its own tfjs instance, so stages do not share tensor state) and reports events and
 * outcomes back. It exits when its parent goes away, so a killed `linea run` leaves no workers.
 */
import { getEachMessage, sendMessage } from 'execa';
import { runTask } from './executor.ts';
import { plansWritten } from '../load/typescript.ts';
import { asToWorker, type FromWorker } from './worker-protocol.ts';

const running = new Map<number, AbortController>();

// The module plans it is writing save the next command's workers their start-up (a few seconds at most).
process.on('disconnect', () => void plansWritten().finally(() => process.exit(0)));

for await (const message of getEachMessage()) {
  const msg = asToWorker(message);
  if (!msg) continue;
  if (msg.type === 'abort') {
    running.get(msg.id)?.abort();
    continue;
  }
  const controller = new AbortController();
  running.set(msg.id, controller);
  void runTask(
    msg.task,
    (event) => void sendMessage({ type: 'event', id: msg.id, event } satisfies FromWorker),
    controller.signal,
  ).then(async (outcome) => {
    running.delete(msg.id);
    await sendMessage({ type: 'done', id: msg.id, outcome } satisfies FromWorker);
  });
}
