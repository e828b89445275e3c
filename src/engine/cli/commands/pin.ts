/**
 * `linea pin` / `linea unpin`: keep an instance's current result through gc, or stop keeping it.
 * A pin is written to the store (beside the run records) as well as the index, so that a
 * rebuilt or lost index does not forget it.
 */
import { LineaError } from '../../core/errors.ts';
import type { CacheKey } from '../../core/json.ts';
import { planInstances } from '../../plan/plan.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdPin(flags: Flags, command: 'pin' | 'unpin', args: string[]): Promise<number> {
  const [target] = args;
  if (!target) throw new LineaError(`usage: linea ${command} <instance|key>`, 'usage');
  return withProject(flags, async (project, instances) => {
    const planned = await planInstances(project, instances);
    const match = planned.find((p) => p.id === target);
    if (command === 'unpin') {
      const key = (match?.key ?? target) as CacheKey;
      const fromIndex = await project.index.unpin(key);
      const removed = (await project.store.deletePin(key)) || fromIndex;
      process.stdout.write(removed ? `unpinned ${target}\n` : `${target} was not pinned\n`);
      return 0;
    }
    if (!match) throw new LineaError(`no stage instance '${target}'; see linea status for the ids`, 'usage');
    if (match.state !== 'cached' || !match.key)
      throw new LineaError(`${target} has no cached result to pin (it is ${match.state}); run it first`, 'usage');
    const pin = { key: match.key, note: target, at: new Date().toISOString() };
    await project.store.savePin(pin);
    await project.index.pin(pin);
    process.stdout.write(`pinned ${target} (${match.key.slice(0, 12)})\n`);
    return 0;
  });
}
