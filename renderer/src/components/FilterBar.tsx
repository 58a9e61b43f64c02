import type { SessionRow } from '../../../common/api/index.js';
import { isFiltered, NO_FILTER, type Filter } from '../format.js';

const toInput = (micros: number | null) => (micros === null ? '' : new Date(Math.floor(micros / 1000)).toISOString().slice(0, 16));
const fromInput = (v: string) => (v ? Date.parse(`${v}:00Z`) * 1000 : null);

/** Identity, target and time window, shared by the chain, the session list and the export. */
export function FilterBar({ sessions, filter, setFilter, shown }: { sessions: SessionRow[]; filter: Filter; setFilter: (f: Filter) => void; shown: number }) {
  const identities = [...new Set(sessions.flatMap((s) => [s.rootIdentity, s.identity]).filter((x): x is string => Boolean(x)))].sort();
  const targets = [...new Set(sessions.map((s) => s.target).filter((x): x is string => Boolean(x)))].sort();
  return (
    <div className="filter-bar" data-testid="filter-bar">
      <label>identity
        <select value={filter.identity} onChange={(e) => setFilter({ ...filter, identity: e.target.value })} data-testid="filter-identity">
          <option value="">all</option>
          {identities.map((i) => <option key={i} value={i}>{i}</option>)}
        </select>
      </label>
      <label>target
        <select value={filter.target} onChange={(e) => setFilter({ ...filter, target: e.target.value })} data-testid="filter-target">
          <option value="">all</option>
          {targets.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
      </label>
      <label>from (UTC)
        <input type="datetime-local" value={toInput(filter.from)} onChange={(e) => setFilter({ ...filter, from: fromInput(e.target.value) })} />
      </label>
      <label>to (UTC)
        <input type="datetime-local" value={toInput(filter.to)} onChange={(e) => setFilter({ ...filter, to: fromInput(e.target.value) })} />
      </label>
      <span className="muted">{shown} of {sessions.length} sessions</span>
      {isFiltered(filter) && <button type="button" onClick={() => setFilter(NO_FILTER)}>clear</button>}
    </div>
  );
}
