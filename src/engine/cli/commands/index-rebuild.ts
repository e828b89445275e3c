/**
 * `linea index rebuild`: move the run index aside and rebuild it from the records the store keeps.
 */
import { rebuildIndex } from '../../index/index-repair.ts';
import { Store } from '../../store/store.ts';
import { type Flags, loadPipeline } from './context.ts';

export async function cmdIndexRebuild(flags: Flags): Promise<number> {
  const { cacheDir, indexUri } = await loadPipeline(flags);
  const store = new Store(cacheDir);
  await store.init();
  const report = await rebuildIndex(store, indexUri);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `run index rebuilt from the store: ${report.restored} runs restored, ${report.pins} pins restored${report.skipped ? `, ${report.skipped} whose objects are missing or damaged left out (they will be recomputed)` : ''}\n`,
    );
    for (const path of report.movedAside) process.stdout.write(`  the old index is kept at ${path}\n`);
  }
  return 0;
}
