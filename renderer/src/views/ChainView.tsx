import { Background, Controls, MarkerType, ReactFlow, type Edge, type Node } from '@xyflow/react';
import { useEffect, useMemo, useState } from 'react';
import type { GraphData, SessionRow } from '../../../common/api/index.js';
import { api } from '../api.js';
import { AnswersPanel } from './AnswersPanel.js';
import { FilterBar } from '../components/FilterBar.js';
import { clock, matches, type Filter } from '../format.js';
import { layoutForest, pathToRoot, type LaidEdge, type Layout } from '../graph/layout.js';
import { ChainSelection, nodeTypes } from '../graph/nodes.js';
import { go } from '../route.js';
import { EvidencePanel, HopPanel } from './ChainPanels.js';
import { IdentityPanel } from './IdentityPanel.js';

/** The identity a laid-out node's chain hangs from (its path's last node). */
function rootOf(layout: Layout, id: string): string | null {
  let cur = id;
  for (let up = layout.up.get(cur), steps = 0; up !== undefined && steps < 10_000; cur = up, up = layout.up.get(cur), steps++);
  return cur.startsWith('identity:') ? cur.slice('identity:'.length) : null;
}

/** Hops laid out at once; beyond it whole chains wait for a narrower filter or "show all" (5,000 nodes take React Flow seconds). */
const BUDGET = 300;

export function ChainView({ sessions, filter, setFilter, generation }: { sessions: SessionRow[]; filter: Filter; setFilter: (f: Filter) => void; generation: number }) {
  const [graph, setGraph] = useState<GraphData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [edge, setEdge] = useState<LaidEdge | null>(null);
  const [all, setAll] = useState(false);
  useEffect(() => {
    api.graph().then(setGraph, (err: Error) => setError(err.message));
  }, [generation]);

  const layout = useMemo(() => (graph ? layoutForest(graph.hops, graph.links, (h) => matches(filter, h), all ? Infinity : BUDGET) : null), [graph, filter, all]);
  const path = useMemo(() => (layout && selected ? pathToRoot(layout, selected) : null), [layout, selected]);
  const missing = useMemo(() => new Set(graph?.links.filter((l) => l.parentMissing).map((l) => l.to)), [graph]);

  // Selection and path are not in the nodes' data (see ChainSelection): a click must not give React Flow new nodes.
  const nodes: Node[] = useMemo(() => (layout?.nodes ?? []).map((n) => n.kind === 'hop'
    ? { id: n.id, type: 'hop', position: { x: n.x, y: n.y }, data: { hop: n.hop!, dimmed: n.dimmed, parentMissing: missing.has(n.id), rootIdentity: rootOf(layout!, n.id) } }
    : { id: n.id, type: 'identity', position: { x: n.x, y: n.y + 38 }, data: { identity: n.identity! } }), [layout, missing]);
  const selection = useMemo(() => ({ selected, path: path?.nodes ?? null }), [selected, path]);
  const edges: Edge[] = useMemo(() => (layout?.edges ?? []).map((e) => {
    const onPath = path?.edges.has(e.id) ?? false;
    const color = onPath ? '#2563eb' : e.kind === 'triggered' ? '#94a3b8' : e.inferred ? '#d97706' : '#15803d';
    return {
      id: e.id, source: e.from, target: e.to, // Short, to fit between the columns: the kind and its evidence are in the panel a click on the edge opens.
      label: e.kind === 'triggered' ? undefined : e.inferred ? 'inferred' : 'proven',
      className: `edge-${e.kind === 'triggered' ? 'triggered' : e.inferred ? 'inferred' : 'proven'}`,
      style: { stroke: color, strokeWidth: onPath ? 4 : 2, ...(e.inferred ? { strokeDasharray: '7 5' } : {}) },
      labelStyle: { fill: color, fontWeight: 600, fontSize: 14 }, labelBgStyle: { fill: '#fff' },
      markerEnd: { type: MarkerType.ArrowClosed, color }, data: { kind: e.kind, inferred: e.inferred },
    };
  }), [layout, path]);

  if (error) return <p className="error-banner">{error}</p>;
  if (!graph || !layout) return <p className="muted">Loading the chain…</p>;
  if (graph.hops.length === 0) return <p className="empty">No sessions in this case yet: import recordings in the <a href="#/case">Case</a> view.</p>;
  const hop = selected ? graph.hops.find((h) => h.id === selected) : undefined;
  const identity = selected?.startsWith('identity:') ? selected.slice('identity:'.length) : null;
  // Beyond a screenful, open at the first chains at a readable zoom instead of fitting everything.
  const big = layout.laidHops > 40;
  return (
    <div className="chain-view">
      <div className="chain-toolbar">
        <FilterBar sessions={sessions} filter={filter} setFilter={setFilter} shown={graph.hops.filter((h) => matches(filter, h)).length} />
        <div className="legend">
          <span className="legend-proven">━ proven (hop token)</span>
          <span className="legend-inferred">╍ inferred</span>
          <span className="legend-path">━ path to root</span>
        </div>
      </div>
      {layout.laidHops < layout.visibleHops && (
        <div className="notice" data-testid="chain-budget">
          Showing the first {layout.laidHops.toLocaleString()} of {layout.visibleHops.toLocaleString()} hops (whole chains, by start time).
          Narrow the filter by identity, target or time, or <button type="button" onClick={() => setAll(true)}>show all (slow)</button>
        </div>
      )}
      <div className="chain-body">
        <div className="chain-canvas" data-testid="chain-canvas" data-nodes={layout.nodes.length}>
          <ChainSelection.Provider value={selection}>
          <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onlyRenderVisibleElements={big} minZoom={0.05} maxZoom={2}
            nodesDraggable={false} nodesConnectable={false} elementsSelectable
            // d3-zoom's double-click zoom stops the dblclick before React sees it on an undraggable node (no
            // 'nopan' class): the hop would never open. Zoom stays on the wheel, pinch and the controls.
            zoomOnDoubleClick={false}
            {...(big ? { defaultViewport: { x: 20, y: 20, zoom: 0.8 } } : { fitView: true, fitViewOptions: { padding: 0.02, maxZoom: 1 } })}
            onNodeClick={(_e, n) => {
              setEdge(null);
              setSelected(n.id);
            }}
            onNodeDoubleClick={(_e, n) => n.type === 'hop' && go({ view: 'hop', session: n.id })}
            onEdgeClick={(_e, ed) => {
              setEdge(layout.edges.find((x) => x.id === ed.id) ?? null);
              setSelected(ed.target);
            }}
            onPaneClick={() => {
              setSelected(null);
              setEdge(null);
            }}
            proOptions={{ hideAttribution: true }}>
            <Background gap={24} />
            <Controls showInteractive={false} />
          </ReactFlow>
          </ChainSelection.Provider>
        </div>
        <aside className="chain-side" data-testid="chain-side">
          {edge ? <EvidencePanel edge={edge} /> : identity !== null ? <IdentityPanel identity={identity} hops={graph.hops} /> : hop ? (
            <>
              <HopPanel hop={hop} path={path ? [...path.nodes] : []} />
              <AnswersPanel session={hop.id} />
            </>
          ) : (
            <>
              <div className="muted">
                <p>{graph.identities.length} identit{graph.identities.length === 1 ? 'y' : 'ies'}, {graph.hops.length} hops,
                  {' '}{graph.links.filter((l) => l.inferred).length} inferred links.</p>
                <p>Click a hop to see its path to the root; click an identity for what its sessions ran; click an edge for its evidence; double-click a hop to open it.</p>
                <p>First session {clock(graph.hops[0]?.startMicros)}.</p>
              </div>
              <AnswersPanel session={null} />
            </>
          )}
        </aside>
      </div>
    </div>
  );
}
