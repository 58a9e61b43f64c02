import { useCallback, useEffect, useState } from 'react';
import type { GatewayApproval, GatewaySession, GatewayTarget } from '../../../common/api/index.js';
import { api } from '../api.js';

/** A gateway's admin API: live sessions with revocation, pending approvals with approve/deny and a reason. */
export function GatewayView() {
  const [url, setUrl] = useState('http://127.0.0.1:8099');
  const [token, setToken] = useState('');
  const [target, setTarget] = useState<GatewayTarget | null>(null);
  const [sessions, setSessions] = useState<GatewaySession[] | null>(null);
  const [approvals, setApprovals] = useState<GatewayApproval[] | null>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async (g: GatewayTarget) => {
    // The admin token lists sessions; an approver's token lists approvals: either may be refused.
    const [s, a] = await Promise.allSettled([api.gatewaySessions(g), api.gatewayApprovals(g)]);
    setSessions(s.status === 'fulfilled' ? s.value : null);
    setApprovals(a.status === 'fulfilled' ? a.value : null);
    const failed = [s, a].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    setError(failed.length === 2 ? (failed[0]!.reason as Error).message : null);
  }, []);
  useEffect(() => {
    if (!target) return;
    void refresh(target);
    const timer = setInterval(() => void refresh(target), 3000);
    return () => clearInterval(timer);
  }, [target, refresh]);

  const act = (p: Promise<unknown>) => p.then(() => target && refresh(target), (err: Error) => setError(err.message));
  return (
    <div className="gateway-view">
      <section className="card">
        <h2>Gateway</h2>
        <form className="row" onSubmit={(e) => { e.preventDefault(); setTarget({ url, token }); }}>
          <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="admin URL" className="grow" data-testid="gateway-url" />
          <input value={token} onChange={(e) => setToken(e.target.value)} type="password" placeholder="admin or approver token" className="grow" data-testid="gateway-token" />
          <button type="submit">Connect</button>
        </form>
        <p className="muted small">The admin token lists live sessions and revokes; an approver's token (hopscope token issue) lists and decides approvals.
          Starting a local gateway from here is not built yet: run <code>hopscope gateway --config FILE</code>.</p>
        {error && <div className="error-banner" role="alert">{error}</div>}
      </section>
      {approvals && (
        <section className="card">
          <h2>Pending approvals ({approvals.length})</h2>
          <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="reason (recorded with the decision)" className="grow" />
          <table className="grid" data-testid="approvals-table">
            <thead><tr><th>id</th><th>identity</th><th>target</th><th>operation</th><th>requested</th><th /></tr></thead>
            <tbody>{approvals.map((a) => (
              <tr key={a.id}>
                <td className="mono">{a.id}</td><td>{a.identity}</td><td>{a.target}</td><td className="mono">{a.operation}</td><td>{a.requestedAt}</td>
                <td>
                  <button type="button" onClick={() => void act(api.gatewayDecide(target!, a.id, 'approve', reason))}>approve</button>
                  <button type="button" onClick={() => void act(api.gatewayDecide(target!, a.id, 'deny', reason))}>deny</button>
                </td>
              </tr>
            ))}</tbody>
          </table>
        </section>
      )}
      {sessions && (
        <section className="card">
          <h2>Live sessions ({sessions.length})</h2>
          <table className="grid" data-testid="live-sessions-table">
            <thead><tr><th>session</th><th>identity</th><th>target</th><th>protocol</th><th /></tr></thead>
            <tbody>{sessions.map((s) => (
              <tr key={s.id}>
                <td className="mono">{s.id}</td><td>{s.identity}</td><td>{s.target}</td><td>{s.protocol}</td>
                <td><button type="button" className="danger" onClick={() => window.confirm(`Revoke ${s.identity}? Every live session and hop under it is cut.`)
                  && void act(api.gatewayRevoke(target!, 'identity', s.identity))}>revoke identity</button></td>
              </tr>
            ))}</tbody>
          </table>
        </section>
      )}
    </div>
  );
}
