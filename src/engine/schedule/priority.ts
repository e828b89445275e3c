/**
 * Which waiting instance takes a slot that comes free. First in, first served let the leaves
 * that happened to be ready early (the smoke preset's width sweep of `linearity`) take the slots
 * while `pretrain`, with thirty instances waiting below it, queued behind them: on Slurm, where
 * a slot is a pilot job, that put 0.3–0.8 s on the run's critical path at each such turn. The
 * instance with the longest chain of instances below it goes first, as list schedulers order by
 * a task's distance to the end of the graph (stage times are not known on a first run, so each
 * instance counts one).
 */
import type { Instance } from '../define/instances.ts';

/**
 * For each instance, the number of instances on the longest path from it to a sink, itself
 * included. `instances` in dependency order (every input before its consumers), as a plan gives
 * them; an input outside the list counts as a source.
 */
export function chainLengths(instances: readonly Instance[]): Map<string, number> {
  const below = new Map<string, string[]>();
  for (const instance of instances)
    for (const input of Object.values(instance.inputs)) {
      const list = below.get(input.id);
      if (list) list.push(instance.id);
      else below.set(input.id, [instance.id]);
    }
  const length = new Map<string, number>();
  for (let i = instances.length - 1; i >= 0; i--) {
    const id = instances[i]!.id;
    let longest = 0;
    for (const consumer of below.get(id) ?? []) longest = Math.max(longest, length.get(consumer) ?? 0);
    length.set(id, longest + 1);
  }
  return length;
}

/**
 * `size` slots, handed to waiters by priority (highest first; first come, first served among
 * equals).
 */
export class PrioritySlots {
  private free: number;
  private readonly queue: { priority: number; resolve: () => void }[] = [];
  constructor(size: number) {
    this.free = Math.max(1, size);
  }
  async acquire(priority = 0): Promise<() => void> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((resolve) => {
        // After the last waiter of at least this priority: equal priorities keep their order.
        let at = this.queue.length;
        while (at > 0 && this.queue[at - 1]!.priority < priority) at--;
        this.queue.splice(at, 0, { priority, resolve });
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // Handed over after a turn of the event loop, not in this microtask: a stage run on this
      // thread holds it until it finishes, and what finished before it (the disk thread's answer
      // that completes a commit, a signal, the live view's requests) must not wait for the whole
      // queue of stages behind it.
      if (next) setImmediate(next.resolve);
      else this.free++;
    };
  }
}
