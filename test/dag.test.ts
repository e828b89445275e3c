// The pipeline graph (src/engine/define/dag.ts): the order stages run and print in, the cycle a
// definition error spells out, and the cones `--only` and the view select.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dag, orderNodes, type Wired } from '../src/engine/define/dag.ts';

const node = (id: string, inputs: Record<string, string> = {}): Wired => ({ id, inputs });

describe('pipeline graph', () => {
  it('keeps the order the nodes were added when every producer comes first', () => {
    const nodes = [
      node('data'),
      node('pretrain', { data: 'data' }),
      node('side'),
      node('report', { a: 'pretrain', b: 'side' }),
    ];
    assert.deepEqual(orderNodes(nodes), { ok: true, order: ['data', 'pretrain', 'side', 'report'] });
  });

  it('orders a forward reference after its producer', () => {
    const ordering = orderNodes([node('report', { x: 'train' }), node('train', { d: 'data' }), node('data')]);
    assert.deepEqual(ordering, { ok: true, order: ['data', 'train', 'report'] });
  });

  it('spells out a cycle from the first node on it, not from a node downstream of it', () => {
    const nodes = [node('after', { x: 'b' }), node('a', { x: 'c' }), node('b', { x: 'a' }), node('c', { x: 'b' })];
    assert.deepEqual(orderNodes(nodes), { ok: false, cycle: ['a', 'b', 'c', 'a'] });
    assert.deepEqual(orderNodes([node('self', { x: 'self' })]), { ok: false, cycle: ['self', 'self'] });
  });

  it('ancestors and descendants are the cones, the nodes themselves included', () => {
    const dag = new Dag([
      node('data'),
      node('dense', { data: 'data' }),
      node('sparse', { data: 'data', dense: 'dense' }),
      node('ntk'),
      node('report', { runs: 'sparse', ntk: 'ntk' }),
    ]);
    assert.deepEqual([...dag.ancestors(['sparse'])].sort(), ['data', 'dense', 'sparse']);
    assert.deepEqual([...dag.ancestors(['sparse', 'ntk'])].sort(), ['data', 'dense', 'ntk', 'sparse']);
    assert.deepEqual([...dag.descendants(['dense'])].sort(), ['dense', 'report', 'sparse']);
    assert.deepEqual([...dag.descendants(['data', 'ntk'])].sort(), ['data', 'dense', 'ntk', 'report', 'sparse']);
  });

  it('one edge per producer and consumer, labelled with every input it feeds', () => {
    const dag = new Dag([node('data'), node('train', { train: 'data', test: 'data' })]);
    assert.equal(dag.graph.size, 1);
    assert.deepEqual(dag.graph.getDirectedEdgeAttributes('data', 'train').inputs, ['train', 'test']);
  });
});
