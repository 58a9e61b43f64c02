import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import type { SessionRow } from '../../../common/api/index.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { chainOf, revocationOf } from '../evidence.js';
import { clock, shortId } from '../format.js';
import { NODE_H, NODE_W } from './layout.js';

export type HopNodeData = { hop: SessionRow; dimmed: boolean; onPath: boolean; parentMissing: boolean };
export type IdentityNodeData = { identity: string; onPath: boolean };

export function HopNode({ data, selected }: NodeProps<Node<HopNodeData, 'hop'>>) {
  const h = data.hop;
  const cls = ['hop-node', `proto-${h.protocol}`, data.dimmed ? 'dimmed' : '', data.onPath ? 'on-path' : '', selected ? 'selected' : ''].join(' ');
  return (
    <div className={cls} style={{ width: NODE_W, height: NODE_H }} data-testid="hop-node" data-session={h.id} title={h.id}>
      <Handle type="target" position={Position.Left} />
      <div className="hop-node-head">
        <span className={`proto proto-${h.protocol}`}>{h.protocol === 'postgres' ? 'PG' : h.protocol.toUpperCase()}</span>
        <span className="hop-target">{h.identity ?? '?'} → <b>{h.target ?? '?'}</b></span>
      </div>
      <div className="hop-node-time">{clock(h.startMicros)} – {clock(h.endMicros)} · {shortId(h.id)}</div>
      <div className="hop-node-badges">
        <IntegrityBadge integrity={h.integrity} sealed={h.sealed} chain={chainOf(h)} />
        {data.parentMissing && <span className="badge bad" title="the parent session is not in this case">parent missing</span>}
        <CountBadges counts={h.counts} revoked={h.revoked} revocation={revocationOf(h)} />
      </div>
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export function IdentityNode({ data }: NodeProps<Node<IdentityNodeData, 'identity'>>) {
  return (
    <div className={`identity-node${data.onPath ? ' on-path' : ''}`} data-testid="identity-node" data-identity={data.identity}>
      <span className="identity-icon">●</span> {data.identity}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

export const nodeTypes = { hop: HopNode, identity: IdentityNode };
