/**
 * `linea ablate`: choose axes and values, see the grid of variants (cached / stale / new, estimated time), confirm, run.
 */
import { ablateSelection, ablationGrids, confirmRun, promptAblation, renderGrids } from '../../plan/ablate.ts';
import { LineaError } from '../../core/errors.ts';
import { chosenAxisValues, type Selection } from '../../define/instances.ts';
import { planInstances } from '../../plan/plan.ts';
import { selectionFrom } from '../selection.ts';
import { type Flags, loadPipeline, withProject } from './context.ts';
import { cmdRun } from './run.ts';

/** Interactive ablation: prompts (or the --ablate flags with --yes), the grid of variants marked
 * cached / stale / new with an estimate from past durations, a confirmation, then a normal run.
 */
export async function cmdAblate(flags: Flags): Promise<number> {
  const loaded = await loadPipeline(flags);
  const base = selectionFrom(flags);
  const initial = new Map(
    [...chosenAxisValues(loaded.pipeline, base)].map(([a, values]) => [a.name, values.map((v) => v.label)]),
  );
  // --dry-run: the grid for the flags' choice, then stop (nothing runs, no terminal needed).
  const dryRun = Boolean(flags['dry-run']);
  const interactive = !flags.yes && !dryRun;
  if (interactive && !process.stdin.isTTY) {
    throw new LineaError(
      'linea ablate needs a terminal for its prompts; give the choice as flags instead: linea ablate --ablate <axis>=<v1>,<v2> … --yes (or linea run --ablate …)',
      'usage',
    );
  }
  const chosen = interactive ? await promptAblation(loaded.pipeline, initial) : initial;
  if (!chosen) return 130;
  const selection: Selection = { ...base, ablate: ablateSelection(loaded.pipeline, chosen) };
  const grid = await withProject(
    flags,
    async (project, instances) => {
      const planned = await planInstances(project, instances);
      const grids = ablationGrids(chosen, instances, planned, await project.index.runs());
      return { grids, text: renderGrids(grids) };
    },
    { selection, loaded },
  );
  if (flags.json && !interactive) {
    process.stderr.write(`${grid.text}\n`);
  } else if (!interactive) {
    process.stdout.write(`${grid.text}\n`);
  }
  if (dryRun) return 0;
  if (interactive && !(await confirmRun(grid.text))) return 130;
  return cmdRun(flags, selection, loaded);
}
