/**
 * `linea pin` / `linea unpin`: keep an instance's current result through gc, or stop keeping it.
 */
import { LineaError } from '../errors.ts';
import type { CacheKey } from '../json.ts';
import { planInstances } from '../plan.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdPin(flags: Flags, command: 'pin' | 'unpin', args: string[]): Promise<number> {
  const [target] = args;
  if (!target) throw new LineaError(`usage: linea ${command} <instance|key>`, 'usage');
  return withProject(flags, async (project, instances) => {
    const planned = await planInstances(project, instances);
    const match = planned.find((p) => p.id === target);
    if (command === 'unpin') {
      const key = (match?.key ?? target) as CacheKey;
      const removed = await project.index.unpin(key);
      process.stdout.write(removed ? `unpinned ${target}\n` : `${target} was not pinned\n`);
      return 0;
    }
    if (!match) throw new LineaError(`no stage instance '${target}'; see linea status for the ids`, 'usage');
    if (match.state !== 'cached' || !match.key)
      throw new LineaError(`${target} has no cached result to pin (it is ${match.state}); run it first`, 'usage');
    await project.index.pin(match.key, target);
    process.stdout.write(`pinned ${target} (${match.key.slice(0, 12)})\n`);
    return 0;
  });
}
