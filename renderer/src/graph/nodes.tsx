import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import { createContext, useContext } from 'react';
import type { SessionRow } from '../../../common/api/index.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { chainOf, revocationOf } from '../evidence.js';
import { clock, shortId } from '../format.js';
import { NODE_H, NODE_W } from './layout.js';

export type HopNodeData = { hop: SessionRow; dimmed: boolean; parentMissing: boolean; /** The identity pill this chain hangs from. */ rootIdentity: string | null };
export type IdentityNodeData = { identity: string };

/**
 * What is selected and the path to its root, read by the nodes from here rather than from their data: a
 * click then changes no node object, so React Flow keeps every node in place and hit-testable, and the
 * second click of a double-click lands on the node (with new node objects it landed on the pane).
 */
export const ChainSelection = createContext<{ selected: string | null; path: Set<string> | null }>({ selected: null, path: null });

export function HopNode({ data }: NodeProps<Node<HopNodeData, 'hop'>>) {
  const h = data.hop;
  const { selected, path } = useContext(ChainSelection);
  const cls = ['hop-node', `proto-${h.protocol}`, data.dimmed ? 'dimmed' : '', path?.has(h.id) ? 'on-path' : '', selected === h.id ? 'selected' : ''].join(' ');
  return (
    <div className={cls} style={{ width: NODE_W, height: NODE_H }} data-testid="hop-node" data-session={h.id} title={h.id}>
      <Handle type="target" position={Position.Left} />
      <div className="hop-node-head">
        <span className={`proto proto-${h.protocol}`}>{h.protocol === 'postgres' ? 'PG' : h.protocol.toUpperCase()}</span>
        {/* The identity is on the pill the chain hangs from; a hop names it only when it differs (room for the target). */}
        <span className="hop-target">{h.identity !== data.rootIdentity ? `${h.identity ?? '?'} → ` : '→ '}<b>{h.target ?? '?'}</b></span>
      </div>
      <div className="hop-node-time">{clock(h.startMicros)} – {clock(h.endMicros)}</div>
      <div className="hop-node-id">{shortId(h.id)}</div>
      <div className="hop-node-badges">
        <IntegrityBadge integrity={h.integrity} sealed={h.sealed} chain={chainOf(h)} />
        {data.parentMissing && <span className="badge bad" title="the parent session is not in this case">parent missing</span>}
        <CountBadges counts={h.counts} revoked={h.revoked} revocation={revocationOf(h)} />
      </div>
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export function IdentityNode({ id, data }: NodeProps<Node<IdentityNodeData, 'identity'>>) {
  const { selected, path } = useContext(ChainSelection);
  return (
    <div className={`identity-node${path?.has(id) ? ' on-path' : ''}${selected === id ? ' selected' : ''}`} data-testid="identity-node"
      data-identity={data.identity} title={`${data.identity}: click for its sessions, what they ran and its revocations`}>
      <span className="identity-icon">●</span> {data.identity}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export const nodeTypes = { hop: HopNode, identity: IdentityNode };
