/**
 * `linea verify`: re-hash every object, take damaged ones out of the store; --repair rebuilds a
 * damaged index first.
 */
import { repairIndexIfDamaged } from '../index-repair.ts';
import { Store } from '../store.ts';
import { type Flags, loadPipeline, withProject } from './context.ts';

export async function cmdVerify(flags: Flags): Promise<number> {
  if (flags.repair) {
    const { cacheDir, indexUri } = await loadPipeline(flags);
    const store = new Store(cacheDir);
    await store.init();
    const report = await repairIndexIfDamaged(store, indexUri);
    if (report) {
      process.stderr.write(
        `linea: the run index was damaged; rebuilt from the store (${report.restored} runs restored; the old one is kept at ${report.movedAside[0] ?? '–'})\n`,
      );
    }
  }
  return withProject(
    flags,
    async (project) => {
      const { objects, damaged } = await project.store.verifyAll();
      const problems = damaged.map(
        (d) =>
          `object ${d.digest.slice(0, 12)} ${d.problem}${d.movedTo ? `; moved to ${d.movedTo}, the next run recomputes it` : ''}`,
      );
      const runs = await project.index.runs();
      const present = new Set(objects);
      for (const r of runs) {
        if (present.has(r.digest)) continue;
        problems.push(
          `index entry ${r.instance} (${r.key.slice(0, 12)}) points to a missing object (a miss; gc drops it)`,
        );
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ objects: objects.length, runs: runs.length, problems })}\n`);
      } else {
        const listed = problems.length ? `\n  ${problems.join('\n  ')}` : 'all intact';
        process.stdout.write(`${objects.length} objects, ${runs.length} indexed runs: ${listed}\n`);
      }
      return damaged.length ? 1 : 0;
    },
    { access: 'read' },
  );
}
