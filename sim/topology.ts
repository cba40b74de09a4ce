/**
 * The nodes of a run by id: which datacenter and which role each has. Read from the `run` fact, so
 * the checkers and the trace reader learn a node's place from the scenario rather than from the
 * spelling of its id.
 */
import { assert, type DcId, type NodeId } from '../core/index.ts';
import type { NodeRole, TopologyNode } from './facts.ts';

export class Topology {
  private readonly nodes = new Map<NodeId, TopologyNode>();

  constructor(nodes: readonly TopologyNode[]) {
    for (const node of nodes) this.nodes.set(node.id, node);
    assert(this.nodes.size === nodes.length, 'two nodes share an id');
  }

  has(id: string): boolean {
    return this.nodes.has(id);
  }

  dcOf(id: NodeId): DcId {
    return this.node(id).dc;
  }

  roleOf(id: NodeId): NodeRole {
    return this.node(id).role;
  }

  private node(id: NodeId): TopologyNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node;
  }
}
