/**
 * A pipeline's graph, held in graphology: nodes by id, an edge from each producer to each of its
 * consumers carrying the input names it feeds. Topological order, the cycle that prevents one,
 * and the ancestors (`--only`) and descendants of a set of nodes come from graphology's
 * algorithms, which are iterative: a chain of 20,000 stages is a fine pipeline and must not
 * overflow the stack (graphlib's recursive walks do, at about 10,000).
 *
 * graphology and its algorithms take ~35 ms to load, a seventh of a no-op `linea run`, so they
 * are loaded when first needed: every command orders the pipeline, but a pipeline whose nodes
 * were added producers first (the usual case: `p.add` takes the nodes it consumes) is already in
 * order, which one pass over its edges proves (`orderNodes`).
 */
import { createRequire } from 'node:module';
import type { DirectedGraph } from 'graphology';

const require = createRequire(import.meta.url);
const graphology = () => require('graphology') as typeof import('graphology');
const dagAlgorithms = () => require('graphology-dag') as typeof import('graphology-dag');
const shortestPath = () => require('graphology-shortest-path') as typeof import('graphology-shortest-path');
const traversal = () => require('graphology-traversal') as typeof import('graphology-traversal');

/** What the graph needs of a node: its id and, per input, the id of the node that feeds it. */
export interface Wired {
  readonly id: string;
  readonly inputs: Readonly<Record<string, string>>;
}

/** Either the nodes in an order where every producer comes before its consumers, or a cycle. */
export type Ordering =
  | { readonly ok: true; readonly order: string[] }
  | { readonly ok: false; readonly cycle: string[] };

/**
 * The nodes in an order where every producer comes before its consumers, or a cycle: the order
 * they were added when it is one (the order the user wrote the pipeline in, which status and the
 * logs then follow), else graphology's.
 */
export function orderNodes(nodes: readonly Wired[]): Ordering {
  const position = new Map(nodes.map((node, i) => [node.id, i]));
  const written = nodes.every((node, i) => Object.values(node.inputs).every((from) => position.get(from)! < i));
  return written ? { ok: true, order: nodes.map((n) => n.id) } : new Dag(nodes).ordering();
}

export class Dag {
  readonly graph: DirectedGraph<Record<string, never>, { inputs: string[] }>;

  /** Every producer a node names must be among `nodes`. */
  constructor(nodes: Iterable<Wired>) {
    this.graph = new (graphology().DirectedGraph)();
    const list = [...nodes];
    for (const node of list) this.graph.addNode(node.id);
    for (const node of list) {
      for (const [name, from] of Object.entries(node.inputs)) {
        if (this.graph.hasDirectedEdge(from, node.id))
          this.graph.updateDirectedEdgeAttribute(from, node.id, 'inputs', (names) => [...(names ?? []), name]);
        else this.graph.addDirectedEdge(from, node.id, { inputs: [name] });
      }
    }
  }

  /** A topological order (Kahn's algorithm: generation by generation), or a cycle. */
  ordering(): Ordering {
    try {
      return { ok: true, order: dagAlgorithms().topologicalSort(this.graph) };
    } catch {
      return { ok: false, cycle: this.cycle() };
    }
  }

  /**
   * One cycle as a closed path a → b → … → a, starting at the first node (in the order they were
   * added) that lies on one: the first edge u → v with a path back from v to u closes it.
   */
  cycle(): string[] {
    for (const u of this.graph.nodes()) {
      for (const v of this.graph.outNeighbors(u)) {
        if (v === u) return [u, u];
        const back = shortestPath().bidirectional(this.graph, v, u);
        if (back) return [u, ...back];
      }
    }
    return [];
  }

  /** The nodes `ids` need: themselves and everything upstream of them. */
  ancestors(ids: Iterable<string>): Set<string> {
    return this.reach(ids, 'inbound');
  }

  /** The nodes that depend on `ids`: themselves and everything downstream of them. */
  descendants(ids: Iterable<string>): Set<string> {
    return this.reach(ids, 'outbound');
  }

  private reach(ids: Iterable<string>, mode: 'inbound' | 'outbound'): Set<string> {
    const found = new Set<string>();
    for (const id of ids) {
      if (found.has(id)) continue;
      traversal().dfsFromNode(
        this.graph,
        id,
        (node) => {
          // Stop at what an earlier start already reached: its cone is in `found` already.
          if (found.has(node) && node !== id) return true;
          found.add(node);
          return false;
        },
        { mode },
      );
    }
    return found;
  }
}
