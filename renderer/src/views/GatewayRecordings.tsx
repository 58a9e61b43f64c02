import { IntegrityBadge } from '../components/Badges.js';
import { chainOf, type GatewayRecordingRow } from '../evidence.js';
import { dateTime, shortId } from '../format.js';
import { go } from '../route.js';

/**
 * The gateways' own recordings in the case: one per gateway run, with its starts and stops, the refusals
 * that happened before a session existed, and who revoked or lifted what. Each opens in the hop view.
 */
export function GatewayRecordings({ gateways }: { gateways: GatewayRecordingRow[] }) {
  if (gateways.length === 0) return null;
  return (
    <section className="gateway-recordings" data-testid="gateway-recordings">
      <h3>Gateway recordings <span className="muted small">the gateway's own: starts and stops, refusals before a session, revocations and who made them</span></h3>
      <table className="grid">
        <thead><tr><th>recording</th><th>from (UTC)</th><th>to</th><th>revocations</th><th>lifted</th><th>refused logins</th><th>events</th><th>integrity</th></tr></thead>
        <tbody>
          {gateways.map((g) => (
            <tr key={g.id} className="clickable" data-testid="gateway-recording-row" data-session={g.id} onClick={() => go({ view: 'hop', session: g.id })}>
              <td className="mono" title={g.id}>{shortId(g.id)}</td>
              <td>{dateTime(g.startMicros)}</td>
              <td>{g.endMicros ? dateTime(g.endMicros) : 'no end'}</td>
              <td>{g.audit.revocations > 0 ? <span className="badge revoked">⚡ {g.audit.revocations}</span> : 0}</td>
              <td>{g.audit.unrevocations}</td>
              <td>{g.audit.refusals > 0 ? <span className="badge block">⊘ {g.audit.refusals}</span> : 0}</td>
              <td>{g.audit.events}</td>
              <td><IntegrityBadge integrity={g.integrity} sealed={g.sealed} chain={chainOf(g)} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
