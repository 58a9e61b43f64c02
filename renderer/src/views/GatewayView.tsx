import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { FleetStatus, GatewayApproval, GatewaySession, GatewayTarget, LocalGatewayStatus, RemoteGateway } from '../../../common/api/index.js';
import { api, ApiError, chooseGatewayConfig, inElectron } from '../api.js';
import { ImportProgress, useImportJob } from '../components/ImportProgress.js';
import { Revocations } from '../components/Revocations.js';
import { href } from '../route.js';
import { FleetPanel } from './FleetPanel.js';

const CONFIG_KEY = 'hopscope.localGatewayConfig';
const LIVE = new Set<LocalGatewayStatus['state']>(['starting', 'running', 'stopping']);

/**
 * The gateway: a local one started from a config file (its own process; the backend holds its tokens),
 * or a remote one's admin API. Live sessions with revocation, pending approvals with approve/deny and a reason;
 * for a member of a fleet, its gateways and health, and each session's and approval's gateway.
 */
export function GatewayView({ onCaseChanged }: { onCaseChanged?: () => void }) {
  const [local, setLocal] = useState<LocalGatewayStatus | null>(null);
  const [remote, setRemote] = useState<RemoteGateway | null>(null);
  const [source, setSource] = useState<'local' | 'remote'>('local');
  const [approver, setApprover] = useState('');

  const pollLocal = useCallback(() => api.localGatewayStatus().then(setLocal, () => {}), []);
  useEffect(() => {
    void pollLocal();
    const timer = setInterval(() => void pollLocal(), 2000);
    return () => clearInterval(timer);
  }, [pollLocal]);
  const localRunning = local?.state === 'running' && local.id ? local.id : null;
  useEffect(() => {
    if (local && !local.approvers.includes(approver)) setApprover(local.approvers[0] ?? '');
  }, [local, approver]);

  const target = useMemo<GatewayTarget | null>(() => (source === 'remote' ? remote
    : localRunning ? { local: localRunning, ...(approver ? { approver } : {}) } : null), [source, remote, localRunning, approver]);
  return (
    <div className="gateway-view">
      <LocalGatewayCard status={local} setStatus={(s) => { setLocal(s); setSource('local'); }} onCaseChanged={onCaseChanged} />
      <RemoteGatewayCard connected={source === 'remote' ? remote : null} onConnect={(g) => { setRemote(g); setSource('remote'); }}
        onUseLocal={localRunning ? () => setSource('local') : undefined} />
      {target && (
        <LivePanels key={JSON.stringify(target)} target={target}
          title={'local' in target ? `local gateway ${local?.adminUrl ?? ''}` : target.url}
          approverPicker={'local' in target && local ? (
            local.approvers.length === 0
              ? <span className="muted small">No identity in this config has <code>approver: true</code>: approvals cannot be decided from here.</span>
              : <label className="small">decide as <select value={approver} onChange={(e) => setApprover(e.target.value)} data-testid="approver">
                {local.approvers.map((a) => <option key={a}>{a}</option>)}</select></label>
          ) : null} />
      )}
    </div>
  );
}

function LocalGatewayCard({ status, setStatus, onCaseChanged }: { status: LocalGatewayStatus | null; setStatus: (s: LocalGatewayStatus) => void; onCaseChanged: (() => void) | undefined }) {
  const [configPath, setConfigPath] = useState(() => window.localStorage.getItem(CONFIG_KEY) ?? '');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { job, follow } = useImportJob(onCaseChanged);
  useEffect(() => {
    if (!configPath && status?.configPath) setConfigPath(status.configPath);
  }, [status?.configPath, configPath]);

  const run = (what: string, p: () => Promise<unknown>) => {
    setBusy(what);
    setError(null);
    p().catch((err: Error) => setError(err.message)).finally(() => setBusy(null));
  };
  const start = () => run('starting…', async () => {
    window.localStorage.setItem(CONFIG_KEY, configPath);
    setStatus(await api.localGatewayStart(configPath));
  });
  const live = status !== null && LIVE.has(status.state);
  const s = status;
  return (
    <section className="card" data-testid="local-gateway">
      <h2>Local gateway</h2>
      <form className="row" onSubmit={(e) => { e.preventDefault(); start(); }}>
        <input value={configPath} onChange={(e) => setConfigPath(e.target.value)} placeholder="/path/to/gateway.yml" className="grow mono"
          data-testid="local-config" disabled={live} />
        {inElectron() && <button type="button" disabled={live || busy !== null} data-testid="local-choose" title="pick the config file"
          onClick={() => run('choosing…', async () => {
            const path = await chooseGatewayConfig();
            if (path) setConfigPath(path);
          })}>Choose…</button>}
        <button type="submit" className="start" disabled={live || busy !== null || !configPath.trim()} data-testid="local-start">Start</button>
        <button type="button" className="danger" disabled={!live || busy !== null} data-testid="local-stop"
          onClick={() => run('stopping…', async () => setStatus(await api.localGatewayStop()))}>Stop</button>
      </form>
      {s && s.state !== 'none' && (
        <div className="gateway-status" data-testid="local-status" data-state={s.state}>
          <span className={`badge state-${s.state}`}>{s.state}</span>
          {s.pid !== null && <span className="small">pid {s.pid}{s.adopted ? ' (started by an earlier workbench)' : ''}</span>}
          {s.state === 'running' && <>
            {s.listeners.postgres && <span className="small">postgres <code>{s.listeners.postgres}</code></span>}
            {s.listeners.ssh && <span className="small">ssh <code>{s.listeners.ssh}</code></span>}
            {s.adminUrl && <span className="small">admin <code>{s.adminUrl}</code></span>}
          </>}
          {s.exitCode !== null && <span className="small">exit status {s.exitCode}</span>}
          {s.signal && <span className="small">{s.signal}</span>}
        </div>
      )}
      {s?.configPath && <Revocations revocations={s.revocations} configPath={s.configPath}
        gatewayId={s.state === 'running' ? s.id : null} onChanged={() => void api.localGatewayStatus().then(setStatus, () => {})} />}
      {busy && <p className="muted small">{busy}</p>}
      {error && <div className="error-banner" role="alert" data-testid="local-error">{error}</div>}
      {s?.message && <div className={s.state === 'failed' ? 'error-banner pre' : 'muted small'} role={s.state === 'failed' ? 'alert' : undefined}
        data-testid="local-message">{s.message}</div>}
      {s && s.logTail.length > 0 && (
        <details open={s.state === 'failed'}>
          <summary className="small muted">gateway log{s.logFile ? ` (${s.logFile})` : ''}</summary>
          <pre className="log-tail">{s.logTail.join('\n')}</pre>
        </details>
      )}
      <div className="row">
        <button type="button" disabled={!s?.recordingsDir || busy !== null || job?.state === 'running'} data-testid="local-import"
          onClick={() => run('importing…', async () => follow(await api.localGatewayImport()))}>Open recordings in case</button>
        <span className="muted small">{s?.recordingsDir ? <>imports <code>{s.recordingsDir}</code>{s.state === 'running' ? '; live sessions come in unsealed until the gateway stops' : ''}</>
          : 'The gateway keeps running if the workbench closes or crashes; Stop ends its sessions and seals their recordings.'}</span>
      </div>
      {job && <ImportProgress job={job} />}
      {job?.state === 'done' && <p className="small"><a href={href({ view: 'sessions' })} data-testid="local-imported-sessions">Show the sessions →</a></p>}
    </section>
  );
}

function RemoteGatewayCard({ connected, onConnect, onUseLocal }: { connected: RemoteGateway | null; onConnect: (g: RemoteGateway) => void; onUseLocal: (() => void) | undefined }) {
  const [url, setUrl] = useState('http://127.0.0.1:8099');
  const [token, setToken] = useState('');
  return (
    <section className="card">
      <h2>Remote gateway</h2>
      <form className="row" onSubmit={(e) => { e.preventDefault(); onConnect({ url, token }); }}>
        <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="admin URL" className="grow" data-testid="gateway-url" />
        <input value={token} onChange={(e) => setToken(e.target.value)} type="password" placeholder="admin or approver token" className="grow" data-testid="gateway-token" />
        <button type="submit">Connect</button>
        {connected && onUseLocal && <button type="button" onClick={onUseLocal}>Back to the local gateway</button>}
      </form>
      <p className="muted small">The admin token (keys.dir/admin.token) lists live sessions and revokes; an approver's token (hopscope token issue) lists and decides approvals.</p>
    </section>
  );
}

function LivePanels({ target, title, approverPicker }: { target: GatewayTarget; title: string; approverPicker: ReactNode }) {
  const [sessions, setSessions] = useState<GatewaySession[] | null>(null);
  const [approvals, setApprovals] = useState<GatewayApproval[] | null>(null);
  const [errors, setErrors] = useState<{ sessions?: string; approvals?: string; action?: string }>({});
  const [reason, setReason] = useState('');
  const [fleet, setFleet] = useState<FleetView>({ status: null, error: null, at: 0, answeredAt: 0 });

  const refresh = useCallback(async () => {
    // The admin token lists sessions; an approver's token lists approvals: either may be refused.
    const [s, a] = await Promise.allSettled([api.gatewaySessions(target), api.gatewayApprovals(target)]);
    setSessions(s.status === 'fulfilled' ? s.value : null);
    setApprovals(a.status === 'fulfilled' ? a.value : null);
    // GET /fleet takes the admin token too: not asked with a token the gateway just refused (each refusal is recorded in its audit).
    const refused = s.status === 'rejected' && s.reason instanceof ApiError && ['GATEWAY_REFUSED', 'GATEWAY_UNREACHABLE'].includes(s.reason.code);
    const [f] = refused ? [{ status: 'fulfilled' as const, value: null }] : await Promise.allSettled([api.gatewayFleet(target)]);
    setFleet((prev) => fleetAfter(prev, f));
    const why = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason as Error).message : undefined);
    setErrors((e) => ({ ...(e.action ? { action: e.action } : {}), ...(why(s) ? { sessions: why(s) } : {}), ...(why(a) ? { approvals: why(a) } : {}) }));
  }, [target]);
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 2000);
    return () => clearInterval(timer);
  }, [refresh]);

  const act = (p: Promise<unknown>) => p.then(() => {
    setErrors(({ action: _, ...rest }) => rest);
    return refresh();
  }, (err: Error) => setErrors((e) => ({ ...e, action: err.message })));
  return (
    <>
      <h3 className="live-title" data-fleet={fleet.at === 0 ? 'unknown' : fleet.status ? 'member' : 'none'}>Live — <span className="mono">{title}</span></h3>
      {(errors.action ?? (errors.sessions && errors.approvals)) && <div className="error-banner" role="alert">{errors.action ?? errors.sessions}</div>}
      <FleetPanel fleet={fleet.status} error={fleet.error} now={fleet.at} answeredAt={fleet.answeredAt} />
      {!(errors.sessions && errors.approvals) && <>
        <section className="card" data-testid="approvals">
          <h2>Pending approvals {approvals && `(${approvals.length})`}</h2>
          <div className="row">
            <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="reason (recorded with the decision)" className="grow" data-testid="approval-reason" />
            {approverPicker}
          </div>
          {errors.approvals && !errors.sessions && <p className="muted small">Approvals: {errors.approvals}</p>}
          {approvals && (approvals.length === 0 ? <p className="muted small">Nothing is held for approval.</p> : (
            <table className="grid" data-testid="approvals-table">
              <thead><tr><th>id</th>{approvals.some((a) => a.gateway) && <th>gateway</th>}<th>identity</th><th>target</th><th>operation</th><th>requested</th><th /></tr></thead>
              <tbody>{approvals.map((a) => (
                <tr key={a.id} data-testid="approval-row">
                  <td className="mono">{a.id}</td>{approvals.some((x) => x.gateway) && <td data-testid="approval-gateway">{a.gateway ?? ''}</td>}<td>{a.identity}</td><td>{a.target}</td><td className="mono">{a.operation}</td><td>{a.requestedAt}</td>
                  <td className="actions">
                    <button type="button" onClick={() => void act(api.gatewayDecide(target, a.id, 'approve', reason))}>approve</button>
                    <button type="button" className="danger" onClick={() => void act(api.gatewayDecide(target, a.id, 'deny', reason))}>deny</button>
                  </td>
                </tr>
              ))}</tbody>
            </table>
          ))}
        </section>
        <section className="card" data-testid="live-sessions">
          <h2>Live sessions {sessions && `(${sessions.length})`}</h2>
          {errors.sessions && !errors.approvals && <p className="muted small">Sessions: {errors.sessions}</p>}
          {sessions && (sessions.length === 0 ? <p className="muted small">No live session.</p> : (
            <table className="grid" data-testid="live-sessions-table">
              <thead><tr><th>session</th>{sessions.some((x) => x.gateway) && <th>gateway</th>}<th>identity</th><th>target</th><th>protocol</th><th>since</th><th /></tr></thead>
              <tbody>{sessions.map((s) => (
                <tr key={s.id} data-testid="live-session-row">
                  <td className="mono">{s.id}</td>{sessions.some((x) => x.gateway) && <td data-testid="session-gateway">{s.gateway ?? ''}</td>}<td>{s.identity}</td><td>{s.target}</td><td>{s.protocol}</td>
                  <td className="small">{typeof s.startedAt === 'string' ? s.startedAt : ''}</td>
                  <td><button type="button" className="danger" onClick={() => window.confirm(`Revoke ${s.identity}? Every live session and hop under it is cut.`)
                    && void act(api.gatewayRevoke(target, 'identity', s.identity))}>revoke identity</button></td>
                </tr>
              ))}</tbody>
            </table>
          ))}
        </section>
      </>}
    </>
  );
}

/**
 * The fleet panel's next state: a lone gateway (null) has none; a token that may not read it (an approver's) or a
 * gateway out of reach (said above the panels) shows none; another failure (the control plane away: 503) keeps the
 * last list with the reason.
 */
type FleetView = { status: FleetStatus | null; error: string | null; at: number; answeredAt: number };

function fleetAfter(prev: FleetView, f: PromiseSettledResult<FleetStatus | null>): FleetView {
  const at = Date.now();
  if (f.status === 'fulfilled') return { status: f.value, error: null, at, answeredAt: at };
  const code = f.reason instanceof ApiError ? f.reason.code : '';
  if (code === 'GATEWAY_REFUSED' || code === 'GATEWAY_UNREACHABLE') return { status: null, error: null, at, answeredAt: 0 };
  return { status: prev.status, error: (f.reason as Error).message, at, answeredAt: prev.answeredAt };
}
