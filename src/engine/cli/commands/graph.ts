/**
 * `linea graph`: the stage-instance graph as Mermaid or Graphviz dot.
 */
import { LineaError } from '../../core/errors.ts';
import { renderGraph } from '../../plan/graph.ts';
import { expandInstances } from '../../define/instances.ts';
import { selectionFrom } from '../selection.ts';
import { type Flags, loadPipeline } from './context.ts';

export async function cmdGraph(flags: Flags): Promise<number> {
  const format = flags.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') throw new LineaError(`--format ${format}: use mermaid or dot`, 'usage');
  const loaded = await loadPipeline(flags);
  const instances = expandInstances(loaded.pipeline, selectionFrom(flags));
  process.stdout.write(`${renderGraph(instances, format)}\n`);
  return 0;
}
