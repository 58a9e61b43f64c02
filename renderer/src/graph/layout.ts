import type { GraphLink, SessionRow } from '../../../common/api/index.js';

// Compact enough that the demo case fits its canvas at a zoom where node text (14 px) reads at 11 px or more.
export const NODE_W = 270;
export const NODE_H = 150;
/** Where the first hop column starts: the identity pills are narrower than hops. */
const FIRST_COL = 190;
const COL = NODE_W + 80;
const ROW = NODE_H + 18;

export interface LaidNode {
  id: string;
  kind: 'identity' | 'hop';
  x: number;
  y: number;
  hop?: SessionRow;
  identity?: string;
  /** Shown only as the ancestor of a hop that matches the filter. */
  dimmed: boolean;
}

export interface LaidEdge {
  id: string;
  from: string;
  to: string;
  kind: string;
  inferred: boolean;
  link: GraphLink | null;
}

export interface Layout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  /** Child → parent node id, to walk a hop's path to its root. */
  up: Map<string, string>;
  /** Hops that pass the filter (or lead to one), and how many of them were laid out within the budget. */
  visibleHops: number;
  laidHops: number;
}

export const identityNodeId = (name: string) => `identity:${name}`;

/**
 * A left-to-right tidy forest: identities in the first column, each hop one
 * column right of its parent, leaves stacked in depth-first order and each
 * parent centred on its children. Linear in the number of hops, so 5,000
 * sessions lay out in milliseconds. Hops that fail the filter are dropped
 * unless a descendant passes (then they stay, dimmed, to keep the path).
 * Whole chains are laid out, in start order, until `budget` hops are placed.
 */
export function layoutForest(hops: SessionRow[], links: GraphLink[], keep: (h: SessionRow) => boolean, budget = Infinity): Layout {
  const byId = new Map(hops.map((h) => [h.id, h]));
  const linkOf = new Map(links.map((l) => [l.to, l]));
  const children = new Map<string, SessionRow[]>();
  const roots = new Map<string, SessionRow[]>();
  for (const h of hops) {
    if (h.parent && byId.has(h.parent) && h.parent !== h.id) push(children, h.parent, h);
    else push(roots, h.identity ?? '(unknown identity)', h);
  }
  const visible = new Map<string, boolean>();
  const mark = (h: SessionRow, seen: Set<string>): boolean => {
    if (seen.has(h.id)) return false;
    seen.add(h.id);
    let any = keep(h);
    for (const c of children.get(h.id) ?? []) any = mark(c, seen) || any;
    visible.set(h.id, any);
    return any;
  };
  const seen = new Set<string>();
  for (const list of roots.values()) for (const h of list) mark(h, seen);

  const nodes: LaidNode[] = [];
  const edges: LaidEdge[] = [];
  const up = new Map<string, string>();
  let nextRow = 0;
  const place = (h: SessionRow, depth: number, parentId: string): number => {
    const kids = (children.get(h.id) ?? []).filter((c) => visible.get(c.id));
    const ys = kids.map((c) => place(c, depth + 1, h.id));
    const y = ys.length ? (ys[0]! + ys[ys.length - 1]!) / 2 : nextRow++ * ROW;
    nodes.push({ id: h.id, kind: 'hop', x: FIRST_COL + depth * COL, y, hop: h, dimmed: !keep(h) });
    const link = linkOf.get(h.id) ?? null;
    const proper = parentId.startsWith('identity:') ? null : link;
    edges.push({ id: `${parentId}->${h.id}`, from: parentId, to: h.id, kind: proper?.kind ?? 'triggered', inferred: proper?.inferred ?? false, link: proper });
    up.set(h.id, parentId);
    return y;
  };
  const visibleHops = [...visible.values()].filter(Boolean).length;
  let laid = 0;
  for (const [identity, list] of roots) {
    const shown: SessionRow[] = [];
    for (const h of list) {
      if (!visible.get(h.id)) continue;
      if (laid >= budget) break;
      shown.push(h);
      laid += treeSize(h, children, visible);
    }
    if (shown.length === 0) continue;
    const id = identityNodeId(identity);
    const ys = shown.map((h) => place(h, 0, id));
    // At its first chain rather than centred: with hundreds of chains, the centre is screens away.
    nodes.push({ id, kind: 'identity', x: 0, y: ys[0]!, identity, dimmed: false });
    nextRow++; // a gap between identities
  }
  return { nodes, edges, up, visibleHops, laidHops: Math.min(laid, visibleHops) };
}

function treeSize(h: SessionRow, children: Map<string, SessionRow[]>, visible: Map<string, boolean>, seen = new Set<string>()): number {
  if (seen.has(h.id) || !visible.get(h.id)) return 0;
  seen.add(h.id);
  return 1 + (children.get(h.id) ?? []).reduce((n, c) => n + treeSize(c, children, visible, seen), 0);
}

/** The node ids and edge ids on the way from a node to its identity. */
export function pathToRoot(layout: Layout, id: string): { nodes: Set<string>; edges: Set<string> } {
  const nodes = new Set<string>([id]);
  const edges = new Set<string>();
  for (let cur = id, parent = layout.up.get(cur); parent !== undefined && !nodes.has(parent); cur = parent, parent = layout.up.get(cur)) {
    nodes.add(parent);
    edges.add(`${parent}->${cur}`);
  }
  return { nodes, edges };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
