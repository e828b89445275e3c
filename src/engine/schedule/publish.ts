/**
 * Publishing: a stage marked `publish` (a report, say) has its artifact's files copied out of the
 * store to a plain directory after each run, cached or not, so a reader finds them at a stable
 * path. The copy is built beside the target and swapped in, so a failed copy never leaves half a
 * report, and the store's object is never touched.
 */
import { randomBytes } from 'node:crypto';
import { cp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Project } from '../project/project.ts';
import { lookup } from './lookup.ts';
import type { Instance } from '../define/instances.ts';
import type { StageResult } from './run.ts';

export interface Published {
  readonly instance: string;
  readonly dir: string;
}

/** Copy the results of publishing stages to `outDir` (one instance) or `outDir/<instance>` (several). */
export async function publishResults(
  project: Project,
  instances: readonly Instance[],
  results: readonly StageResult[],
  outDir: string,
): Promise<Published[]> {
  const publishing = instances.filter((i) => i.stage.publish);
  const published: Published[] = [];
  for (const instance of publishing) {
    const result = results.find((r) => r.id === instance.id);
    if (!result?.key || result.status === 'failed') continue;
    const found = await lookup(project, result.key, (digest) => project.activity.use(digest));
    if (!found.hit) continue;
    const target = publishing.length === 1 ? outDir : join(outDir, instance.id);
    const staging = `${target}.linea-tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await cp(project.store.filesDir(found.record.digest), staging, { recursive: true });
      await swapIn(staging, target);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    published.push({ instance: instance.id, dir: target });
  }
  return published;
}

/**
 * Put the complete directory `staging` at `target`. Several runs may publish to one target at
 * once: each moves whatever is there aside (its own name), renames its copy in, and removes what
 * it moved; if another run's copy landed in between (ENOTEMPTY/EEXIST), it moves that aside too and
 * tries again. Readers always see a whole copy or none, and the last complete publish wins.
 */
async function swapIn(staging: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const aside = `${target}.linea-old-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(target, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      await rename(staging, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 50) throw error;
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  }
}
