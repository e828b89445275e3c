/**
 * `linea gc`: delete results nothing needs (size cap, grace period, runs in progress kept).
 */
import { errorMessage, LineaError } from '../../core/errors.ts';
import { collectGarbage, parseDuration, parseSize } from '../../housekeeping/gc.ts';
import { planInstances } from '../../plan/plan.ts';
import { compiledCacheDir } from '../../load/typescript.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdGc(flags: Flags): Promise<number> {
  let maxBytes: number | undefined;
  try {
    maxBytes = flags['max-size'] === undefined ? undefined : parseSize(flags['max-size']);
  } catch (error) {
    throw new LineaError(`--max-size: ${errorMessage(error)}`, 'usage');
  }
  let graceMs: number | undefined;
  try {
    graceMs = flags.grace === undefined ? undefined : parseDuration(flags.grace);
  } catch (error) {
    throw new LineaError(`--grace: ${errorMessage(error)}`, 'usage');
  }
  const compiledCache = compiledCacheDir();
  return withProject(flags, async (project, instances) => {
    const planned = await planInstances(project, instances);
    const report = await collectGarbage(project, {
      keep: new Set(planned.flatMap((p) => (p.digest ? [p.digest] : []))),
      liveKeys: new Set(planned.flatMap((p) => (p.key ? [p.key] : []))),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      dryRun: Boolean(flags['dry-run']),
      allProjects: Boolean(flags['all-projects']),
      ...(graceMs !== undefined ? { graceMs } : {}),
      ...(compiledCache !== undefined ? { compiledCache } : {}),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
      const verb = report.dryRun ? 'would evict' : 'evicted';
      process.stdout.write(
        `${verb} ${report.evicted.length} objects (${mb(report.evictedBytes)}); kept ${report.kept} (${mb(report.keptBytes)}); ` +
          `${report.droppedIndexEntries} index entries and ${report.droppedCheckpoints} checkpoints ${report.dryRun ? 'would be ' : ''}dropped\n`,
      );
      if (report.swept.length)
        process.stdout.write(
          `${report.dryRun ? 'would sweep' : 'swept'} ${report.swept.length} old indexes, abandoned job directories and unused compiled files:\n${report.swept.map((p) => `  ${p}\n`).join('')}`,
        );
    }
    return 0;
  });
}
