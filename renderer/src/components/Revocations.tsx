import { useState } from 'react';
import type { GatewayRevocation } from '../../../common/api/index.js';
import { api } from '../api.js';

type By = 'identity' | 'tokenId';
type Outcome = { ok: true; text: string } | { ok: false; text: string };

const whatOf = (r: GatewayRevocation): { by: By; value: string; label: string } => (r.identity !== undefined
  ? { by: 'identity', value: r.identity, label: `identity ${r.identity}` }
  : { by: 'tokenId', value: r.tokenId ?? '', label: `token ${r.tokenId ?? ''}` });

/**
 * What the local gateway's keys.dir revokes: every login of an identity, or a token and its hops, until
 * lifted. While the gateway runs, Unrevoke lifts it through its admin API (the backend holds the admin
 * token; the gateway records the lift in its audit with the actor); the CLI command does the same from a shell.
 */
export function Revocations({ revocations, configPath, gatewayId, onChanged }: {
  revocations: GatewayRevocation[];
  configPath: string;
  /** The running local gateway's id; null when it is not running (then only the CLI lifts it, in keys.dir). */
  gatewayId: string | null;
  /** Called after a lift, to read the list again. */
  onChanged: () => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const quoted = `'${configPath.replace(/'/g, "'\\''")}'`;

  const lift = (r: GatewayRevocation) => {
    const { by, value, label } = whatOf(r);
    if (!gatewayId) return;
    const effect = by === 'identity' ? 'every login of it (token, keyboard-interactive, registered key, hop token) is accepted again'
      : 'the token and the hop tokens derived from it are accepted again';
    if (!window.confirm(`Lift the revocation of ${label}?\n\nFrom now on ${effect}. The gateway records who lifted it.`)) return;
    setBusy(label);
    setOutcome(null);
    api.gatewayUnrevoke({ local: gatewayId }, by, value).then(
      ({ lifted }) => setOutcome({ ok: true, text: `Lifted ${label} (revoked since ${lifted[0]?.revokedAt ?? r.revokedAt}${lifted[0]?.by ? ` by ${lifted[0].by}` : ''}); recorded in the gateway's audit.` }),
      (err: Error) => setOutcome({ ok: false, text: `Could not lift ${label}: ${err.message}` }),
    ).finally(() => {
      setBusy(null);
      onChanged();
    });
  };

  return (
    <>
      {revocations.length > 0 && <p className="small muted">Revoked ({revocations.length}): refused at every login until lifted.</p>}
      {revocations.length > 0 && (
        <table className="grid" data-testid="local-revocations">
          <thead><tr><th>revoked</th><th>since</th><th>by</th><th>to lift it</th></tr></thead>
          <tbody>{revocations.map((r) => {
            const { label } = whatOf(r);
            const flag = r.identity !== undefined ? `--identity ${r.identity}` : `--token-id ${r.tokenId ?? ''}`;
            return (
              <tr key={`${label} ${r.at}`} data-testid="revocation-row">
                <td>{r.identity !== undefined ? <>identity <b>{r.identity}</b></> : <>token <code>{r.tokenId}</code></>}</td>
                <td className="small">{r.revokedAt}</td><td className="small">{r.by ?? ''}</td>
                <td className="actions">
                  <button type="button" data-testid="unrevoke" disabled={!gatewayId || busy !== null}
                    title={gatewayId ? 'lift it through the running gateway' : 'the gateway is not running: lift it with the command'}
                    onClick={() => lift(r)}>{busy === label ? 'lifting…' : 'Unrevoke'}</button>
                  <div className="small muted">or <code data-testid="unrevoke-command">hopscope token unrevoke {flag} --config {quoted}</code></div>
                </td>
              </tr>
            );
          })}</tbody>
        </table>
      )}
      {outcome && (outcome.ok
        ? <p className="small" role="status" data-testid="unrevoke-result"><span className="badge ok">lifted</span> {outcome.text}</p>
        : <div className="error-banner" role="alert" data-testid="unrevoke-result">{outcome.text}</div>)}
    </>
  );
}
