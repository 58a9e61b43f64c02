import { useEffect, useMemo, useState } from 'react';
import type { SessionRow, TextMatch } from '../../../common/api/index.js';
import { api } from '../api.js';
import { CountBadges, IntegrityBadge } from '../components/Badges.js';
import { chainOf, isGood, revocationOf, type GatewayRecordingRow } from '../evidence.js';
import { GatewayRecordings } from './GatewayRecordings.js';
import { FilterBar } from '../components/FilterBar.js';
import { dateTime, matches, shortId, type Filter } from '../format.js';
import { go } from '../route.js';

type Key = 'start' | 'identity' | 'target' | 'protocol' | 'depth' | 'issued' | 'integrity';
const COLUMNS: { key: Key; label: string }[] = [
  { key: 'start', label: 'start (UTC)' }, { key: 'identity', label: 'identity' }, { key: 'target', label: 'target' },
  { key: 'protocol', label: 'protocol' }, { key: 'depth', label: 'depth' }, { key: 'issued', label: 'issued' }, { key: 'integrity', label: 'integrity' },
];
const PAGE = 500;

function sortValue(s: SessionRow, k: Key): string | number {
  switch (k) {
    case 'start': return s.startMicros ?? 0;
    case 'identity': return s.identity ?? '';
    case 'target': return s.target ?? '';
    case 'protocol': return s.protocol;
    case 'depth': return s.depth;
    case 'issued': return s.counts.statements + s.counts.commands;
    case 'integrity': return isGood(s.integrity, s.sealed) ? 1 : 0;
  }
}

export function SessionsView({ sessions, gateways, filter, setFilter }: {
  sessions: SessionRow[]; gateways: GatewayRecordingRow[]; filter: Filter; setFilter: (f: Filter) => void;
}) {
  const [text, setText] = useState('');
  const [found, setFound] = useState<{ rows: SessionRow[]; matches: TextMatch[]; text: string } | null>(null);
  const [sort, setSort] = useState<{ key: Key; desc: boolean }>({ key: 'start', desc: false });
  const [limit, setLimit] = useState(PAGE);
  useEffect(() => {
    if (!text.trim()) return void setFound(null);
    const timer = setTimeout(() => {
      api.sessions({ text }).then((r) => setFound({ rows: r.sessions, matches: r.matches, text }), () => setFound({ rows: [], matches: [], text }));
    }, 200);
    return () => clearTimeout(timer);
  }, [text]);

  const hits = useMemo(() => {
    const m = new Map<string, TextMatch[]>();
    for (const x of found?.matches ?? []) m.set(x.session, [...(m.get(x.session) ?? []), x]);
    return m;
  }, [found]);
  const rows = useMemo(() => {
    const base = (found?.rows ?? sessions).filter((s) => matches(filter, s));
    const dir = sort.desc ? -1 : 1;
    return [...base].sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
  }, [found, sessions, filter, sort]);

  return (
    <div className="sessions-view" data-testid="sessions-view" data-searched={found?.text ?? ''}>
      <div className="search-row">
        <input type="search" placeholder="Search commands and SQL, identities, approvers, targets, what happened (revoked, cut, blocked, denied, timed out…)" value={text} autoFocus
          onChange={(e) => setText(e.target.value)} data-testid="session-search" />
      </div>
      <FilterBar sessions={sessions} filter={filter} setFilter={setFilter} shown={rows.length} />
      <table className="grid" data-testid="sessions-table">
        <thead>
          <tr>
            <th>session</th>
            {COLUMNS.map((c) => (
              <th key={c.key} className="sortable" onClick={() => setSort({ key: c.key, desc: sort.key === c.key ? !sort.desc : false })}>
                {c.label}{sort.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}
              </th>
            ))}
            <th>policy</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, limit).map((s) => (
            <tr key={s.id} onClick={() => go({ view: 'hop', session: s.id })} className="clickable" data-testid="session-row" data-session={s.id}>
              <td className="mono" title={s.id}>{'  '.repeat(s.depth)}{s.depth ? '↳ ' : ''}{shortId(s.id)}
                {(hits.get(s.id) ?? []).slice(0, 3).map((m) => <div key={`${m.kind}-${m.seq}`} className="match" data-testid="search-match">{m.kind === 'session' ? 'found' : m.kind}: <Highlight text={m.text} q={text} /></div>)}
              </td>
              <td>{dateTime(s.startMicros)}</td>
              <td>{s.identity}</td>
              <td>{s.target}</td>
              <td>{s.protocol}</td>
              <td>{s.depth}{s.linkKind ? ` (${s.linkKind}${s.inferred ? ', inferred' : ''})` : ''}</td>
              <td>{s.counts.statements + s.counts.commands}</td>
              <td><IntegrityBadge integrity={s.integrity} sealed={s.sealed} chain={chainOf(s)} /></td>
              <td><CountBadges counts={s.counts} revoked={s.revoked} revocation={revocationOf(s)} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length > limit && <button type="button" onClick={() => setLimit(limit + PAGE)}>show {Math.min(PAGE, rows.length - limit)} more of {rows.length - limit}</button>}
      {rows.length === 0 && <p className="empty">No session matches.</p>}
      <GatewayRecordings gateways={gateways} />
    </div>
  );
}

function Highlight({ text, q }: { text: string; q: string }) {
  const words = q.split(/\s+/).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!words.length) return <>{text}</>;
  const parts = text.slice(0, 300).split(new RegExp(`(${words.join('|')})`, 'i'));
  return <>{parts.map((p, i) => (i % 2 ? <mark key={i}>{p}</mark> : <span key={i}>{p}</span>))}</>;
}
