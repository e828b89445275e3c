/**
 * Publishing: a stage marked `publish` (a report, say) has its artifact's files copied out of the
 * store to a plain directory after each run, cached or not, so a reader finds them at a stable
 * path. The copy is built beside the target and swapped in, so a failed copy never leaves half a
 * report, and the store's object is never touched.
 */
import { cp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from './engine.ts';
import { lookup } from './engine.ts';
import type { Instance } from './instances.ts';
import type { StageResult } from './run.ts';

export interface Published {
  readonly instance: string;
  readonly dir: string;
}

/** Copy the results of publishing stages to `outDir` (one instance) or `outDir/<instance>` (several). */
export async function publishResults(engine: Engine, instances: readonly Instance[], results: readonly StageResult[], outDir: string): Promise<Published[]> {
  const publishing = instances.filter((i) => i.stage.publish);
  const published: Published[] = [];
  for (const instance of publishing) {
    const result = results.find((r) => r.id === instance.id);
    if (!result?.key || result.status === 'failed') continue;
    const found = await lookup(engine, result.key);
    if (!found.hit) continue;
    const target = publishing.length === 1 ? outDir : join(outDir, instance.id);
    const staging = `${target}.linea-tmp-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await cp(engine.store.filesDir(found.record.digest), staging, { recursive: true });
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    published.push({ instance: instance.id, dir: target });
  }
  return published;
}
