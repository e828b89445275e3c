/**
 * `linea verify`: re-hash every object, take damaged ones out of the store, and read the whole
 * index against the store's records; any damage found exits 1. --repair rebuilds a damaged,
 * garbled or incomplete index first.
 */
import { checkIndex, repairIndexIfDamaged } from '../../index/index-repair.ts';
import { Store } from '../../store/store.ts';
import { type Flags, loadPipeline, withProject } from './context.ts';

export async function cmdVerify(flags: Flags): Promise<number> {
  if (flags.repair) {
    const { cacheDir, indexUri } = await loadPipeline(flags);
    const store = new Store(cacheDir);
    await store.init();
    const report = await repairIndexIfDamaged(store, indexUri);
    if (report) {
      process.stderr.write(
        `linea: the run index was damaged or incomplete; rebuilt from the store (${report.restored} runs and ${report.pins} pins restored; the old one is kept at ${report.movedAside[0] ?? '–'})\n`,
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
      // verify reports unreadable entries itself, below, rather than one line each as they are met.
      project.index.onUnreadable = () => undefined;
      const { unreadable, missing, runs } = await checkIndex(project.store, project.index);
      const present = new Set(objects);
      for (const u of unreadable)
        problems.push(`index entry ${u.entry} is unreadable (${u.problem}); linea verify --repair rebuilds the index`);
      if (missing)
        problems.push(
          `the index lacks ${missing} runs whose records and objects the store holds (a lost or partial index); linea verify --repair restores them`,
        );
      for (const r of runs) {
        if (present.has(r.digest)) continue;
        problems.push(
          `index entry ${r.instance} (${r.key.slice(0, 12)}) points to a missing object (a miss; gc drops it)`,
        );
      }
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ objects: objects.length, runs: runs.length, unreadable: unreadable.length, missing, problems })}\n`,
        );
      } else {
        const listed = problems.length ? `\n  ${problems.join('\n  ')}` : 'all intact';
        process.stdout.write(`${objects.length} objects, ${runs.length} indexed runs: ${listed}\n`);
      }
      return problems.length ? 1 : 0;
    },
    { access: 'read' },
  );
}
