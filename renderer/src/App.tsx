import { useCallback, useEffect, useState } from 'react';
import type { CaseInfo, SessionRow, SessionSearch } from '../../common/api/index.js';
import { api } from './api.js';
import type { GatewayRecordingRow } from './evidence.js';
import { NO_FILTER, type Filter } from './format.js';
import { go, href, useRoute, type View } from './route.js';
import { CaseView } from './views/CaseView.js';
import { ChainView } from './views/ChainView.js';
import { ExportView } from './views/ExportView.js';
import { GatewayView } from './views/GatewayView.js';
import { HopView } from './views/HopView.js';
import { SessionsView } from './views/SessionsView.js';
import { TimelineView } from './views/TimelineView.js';

const TABS: { view: View; label: string }[] = [
  { view: 'case', label: 'Case' }, { view: 'chain', label: 'Chain' }, { view: 'timeline', label: 'Timeline' }, { view: 'sessions', label: 'Sessions' },
  { view: 'hop', label: 'Hop' }, { view: 'export', label: 'Export' }, { view: 'gateway', label: 'Gateway' },
];

export function App() {
  const route = useRoute();
  const [info, setInfo] = useState<CaseInfo | null>(null);
  const [sessions, setSessions] = useState<SessionRow[]>([]);
  const [gateways, setGateways] = useState<GatewayRecordingRow[]>([]);
  const [filter, setFilter] = useState<Filter>(NO_FILTER);
  const [error, setError] = useState<string | null>(null);
  const [lastHop, setLastHop] = useState<string | undefined>(undefined);
  const [generation, setGeneration] = useState(0);

  const refresh = useCallback(() => {
    api.caseInfo().then(async (i) => {
      setInfo(i);
      const all = i.path ? await api.sessions({}) : null;
      setSessions(all?.sessions ?? []);
      // The gateways' own recordings ride beside the sessions (see forensics/query/evidence.ts).
      setGateways((all as (SessionSearch & { gatewayRecordings?: GatewayRecordingRow[] }) | null)?.gatewayRecordings ?? []);
      setGeneration((g) => g + 1);
      setError(null);
    }).catch((err: Error) => setError(err.message));
  }, []);
  useEffect(refresh, [refresh]);
  // Electron: an import from the application menu says so; the Case view and the graph refresh without a reload.
  useEffect(() => window.hopscope?.onCaseChanged(refresh), [refresh]);
  // Electron: an import started from the menu shows its progress in the Case view.
  const [menuImport, setMenuImport] = useState<string | undefined>(undefined);
  useEffect(() => window.hopscope?.onImportStarted((id) => {
    setMenuImport(id);
    go({ view: 'case' });
  }), []);
  useEffect(() => {
    if (route.session) setLastHop(route.session);
  }, [route.session]);

  const hopSession = route.view === 'hop' ? route.session ?? lastHop : undefined;
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">hopscope</span>
        <nav>
          {TABS.map((t) => (
            <a key={t.view} className={route.view === t.view ? 'tab active' : 'tab'} data-testid={`tab-${t.view}`}
              href={href(t.view === 'hop' && lastHop ? { view: 'hop', session: lastHop } : { view: t.view })}>{t.label}</a>
          ))}
        </nav>
        <span className="case-path" title={info?.path ?? ''}>
          {info?.path ? `${info.path} · ${info.sessions} sessions · ${info.events.toLocaleString()} events` : 'no case open'}
        </span>
      </header>
      {error && <div className="error-banner" role="alert">{error}</div>}
      <main className="content">
        {route.view === 'case' && <CaseView info={info} onChanged={refresh} {...(menuImport ? { announced: menuImport } : {})} />}
        {route.view === 'chain' && <ChainView sessions={sessions} filter={filter} setFilter={setFilter} generation={generation} />}
        {route.view === 'timeline' && <TimelineView session={route.session} />}
        {route.view === 'sessions' && <SessionsView sessions={sessions} gateways={gateways} filter={filter} setFilter={setFilter} />}
        {route.view === 'hop' && (hopSession
          ? <HopView key={hopSession} session={hopSession} {...(route.t ? { at: route.t } : {})}
            {...(sessions.find((x) => x.id === hopSession)?.protocol ? { protocol: sessions.find((x) => x.id === hopSession)!.protocol } : {})} />
          : <p className="empty">Pick a hop in the chain or the session list.</p>)}
        {route.view === 'export' && <ExportView sessions={sessions} filter={filter} setFilter={setFilter} {...(lastHop ? { hop: lastHop } : {})} />}
        {route.view === 'gateway' && <GatewayView onCaseChanged={refresh} />}
      </main>
    </div>
  );
}
