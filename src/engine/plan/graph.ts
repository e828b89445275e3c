/** The expanded stage graph as Mermaid or Graphviz DOT text (`linea graph`). */
import { instanceDag, type Instance } from '../define/instances.ts';

export type GraphFormat = 'mermaid' | 'dot';

export function renderGraph(
  instances: readonly Instance[],
  format: GraphFormat,
  states?: ReadonlyMap<string, string>,
): string {
  const ids = new Map(instances.map((inst, i) => [inst.id, `n${i}`]));
  const label = (inst: Instance) => (states?.get(inst.id) ? `${inst.id} (${states.get(inst.id)})` : inst.id);
  // The same graph the engine orders and selects with (define/dag.ts), over instances: one edge
  // per producer and consumer, labelled with the inputs it feeds.
  const dag = instanceDag(instances);
  const edges = dag.graph.mapEdges((_edge, attributes, from, to) => ({
    from: ids.get(from)!,
    to: ids.get(to)!,
    name: attributes.inputs.join(', '),
  }));
  if (format === 'dot') {
    return [
      'digraph linea {',
      '  rankdir=LR;',
      '  node [shape=box];',
      ...instances.map((inst) => `  ${ids.get(inst.id)} [label=${JSON.stringify(label(inst))}];`),
      ...edges.map((e) => `  ${e.from} -> ${e.to} [label=${JSON.stringify(e.name)}];`),
      '}',
    ].join('\n');
  }
  const quoteLabel = (text: string) => text.replace(/"/g, '#quot;');
  return [
    'flowchart LR',
    ...instances.map((inst) => `  ${ids.get(inst.id)}["${quoteLabel(label(inst))}"]`),
    ...edges.map((e) => `  ${e.from} -->|${quoteLabel(e.name)}| ${e.to}`),
  ].join('\n');
}
