import type { FleetGateway, FleetStatus } from '../../../common/api/index.js';
import { duration } from '../format.js';

/**
 * The fleet the connected gateway belongs to (GET /fleet): each gateway with its state, whether it heartbeats
 * within its lease and how long ago it last did, its live sessions, admin URL and signing key. Drawn only for a
 * member of a fleet; a lone gateway has none. `error`: the fleet is known but could not be read this time
 * (its control plane is away): the last list stays, marked stale.
 */
export function FleetPanel({ fleet, error, now, answeredAt }: { fleet: FleetStatus | null; error: string | null; now: number; answeredAt: number }) {
  if (!fleet && !error) return null;
  const stale = fleet !== null && error !== null;
  return (
    <section className={`card fleet${stale ? ' stale' : ''}`} data-testid="fleet" data-stale={String(stale)}>
      <h2>Fleet {fleet && `(${fleet.gateways.length} gateway${fleet.gateways.length === 1 ? '' : 's'})`}</h2>
      {fleet && (
        <p className="muted small" data-testid="fleet-self">
          seen from <b>{fleet.self}</b>; {stale ? `its last answer, ${duration(Math.max(0, now - answeredAt) * 1000)} ago, when its link to the control plane was` : 'its link to the control plane is'}
          {' '}<span className={`badge link-${fleet.state}`}>{fleet.state}</span>
          {' '}· {fleet.sessions.length} live session{fleet.sessions.length === 1 ? '' : 's'}, {fleet.approvals.length} pending approval{fleet.approvals.length === 1 ? '' : 's'} across the fleet
        </p>
      )}
      {error && <div className="error-banner" role="alert" data-testid="fleet-error">{fleet ? 'Not refreshed: ' : ''}{error}</div>}
      {fleet && (
        <table className="grid" data-testid="fleet-table">
          <thead><tr><th>gateway</th><th>state</th><th>health</th><th>last heartbeat</th><th>live sessions</th><th>admin URL</th><th>key id</th><th>host · pid</th></tr></thead>
          <tbody>{fleet.gateways.map((g) => <FleetRow key={g.name} g={g} self={g.name === fleet.self} now={now} />)}</tbody>
        </table>
      )}
    </section>
  );
}

function FleetRow({ g, self, now }: { g: FleetGateway; self: boolean; now: number }) {
  return (
    <tr data-testid="fleet-row" data-gateway={g.name} data-healthy={String(g.healthy)} className={self ? 'fleet-self' : undefined}>
      <td><b>{g.name}</b>{self && <span className="muted small"> (connected)</span>}</td>
      <td><span className={`badge fleet-${g.state}`}>{g.state}</span></td>
      <td>{g.healthy ? <span className="badge ok">healthy</span> : <span className="badge bad" title="not live, or no heartbeat within its lease">unhealthy</span>}</td>
      <td className="small" title={g.heartbeatAt}>{heartbeatAge(g.heartbeatAt, now)}</td>
      <td>{g.sessions}</td>
      <td className="mono small">{g.adminUrl}</td>
      <td className="mono small">{g.keyId}</td>
      <td className="small">{g.host} · {g.pid}</td>
    </tr>
  );
}

/** How long ago, by the page's clock (the heartbeat is stamped by the control plane's; a skew of a second or two shows as such). */
function heartbeatAge(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const ms = Math.max(0, now - at);
  return `${duration(ms * 1000)} ago`;
}
