import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fixedClock } from '../../common/clock.js';
import { trustedKeysOf, type Signer, type TrustedKeys } from '../../common/keys.js';
import { EventType, RecordingEncoder, type EventMap, type EventName, type RecordingHeader } from '../../common/recording/index.js';
import { SECOND, T0, fixedSigner } from './scenario.js';

/** A recording written with the gateway's own encoder, in the current version (typed events). */
class CurrentRecording {
  private readonly enc: RecordingEncoder;
  private readonly lines: string[] = [];

  constructor(session: string, protocol: RecordingHeader['protocol'], signer: Signer, start: number) {
    this.enc = new RecordingEncoder({ session, protocol, signer, clock: fixedClock(start, 1000) });
    this.lines.push(this.enc.header);
  }

  event<K extends EventName>(type: K, data: EventMap[K]): number {
    this.lines.push(this.enc.event(type, data));
    return this.enc.lastSeq;
  }

  write(path: string): string {
    this.lines.push(this.enc.seal());
    writeFileSync(path, this.lines.join(''));
    return path;
  }
}

export interface RevocationScenario {
  ids: { gateway: string; root: string; pg: string };
  files: string[];
  trusted: TrustedKeys;
}

/**
 * Current-version fixture: alice revokes identity contractor-ci through the
 * admin API while its SSH session (root) and that session's psql hop (pg) run;
 * both end revoked (the hop through its ancestor), and the agent's reconnect is
 * refused before any session exists (the gateway's own recording). An approval
 * carries its approver's reason.
 */
export function writeRevocationScenario(dir: string, signer: Signer = fixedSigner(9)): RevocationScenario {
  const ids = { gateway: 'gateway-20251009T085300Z-000000000001', root: '20251009T085320Z-root00000002', pg: '20251009T085325Z-pg0000000002' };
  const revocation = { identity: 'contractor-ci', by: 'alice', reason: 'leaked token' };

  const gw = new CurrentRecording(ids.gateway, 'gateway', signer, T0 - 20 * SECOND);
  gw.event(EventType.GatewayStart, { keyId: signer.keyId, listeners: { postgres: '127.0.0.1:6432', ssh: '127.0.0.1:2222' }, config: 'hopscope.yaml' });
  gw.event(EventType.Revoked, { identity: 'contractor-ci', by: 'alice', client: '127.0.0.1:50000', via: 'hopscope-cli', reason: 'leaked token',
    at: Math.floor(T0 / 1e6) + 30, sessionsCut: [ids.root, ids.pg] });
  gw.event(EventType.Refused, { protocol: 'ssh', reason: 'TOKEN_REVOKED', message: 'the token is revoked: identity contractor-ci was revoked by alice',
    client: '10.0.0.5:50200', identity: 'contractor-ci', target: 'build-host', tokenId: 'tok-root', revocation: { ...revocation, at: Math.floor(T0 / 1e6) + 30 } });
  gw.event(EventType.GatewayStop, { sessionsEnded: 0 });
  gw.event(EventType.SessionEnd, { reason: 'gateway stopped', cause: 'gateway-shutdown', sessionsEnded: 0 });

  const root = new CurrentRecording(ids.root, 'ssh', signer, T0);
  root.event(EventType.SessionStart, { identity: 'contractor-ci', tokenId: 'tok-root', tokenKind: 'identity', target: 'build-host', protocol: 'ssh',
    client: '10.0.0.5:50122' });
  root.event(EventType.SshPty, { channel: 0, term: 'xterm-256color', cols: 80, rows: 24 });
  root.event(EventType.SshOutput, { channel: 0, stream: 'stdout', data: 'token=[masked:api-key]\r\n', encoding: 'utf8', bytes: 24, masked: [{ rule: 'api-key', count: 1 }] });
  const line = root.event(EventType.SshLine, { channel: 0, line: 'systemctl restart app', uncertain: false, action: 'review', rule: 'restarts', reason: 'restarts need approval' });
  root.event(EventType.ApprovalRequested, { statement: line, id: 'apr-9', rule: 'restarts', reason: 'restarts need approval', operation: 'systemctl restart app', channel: 0 });
  root.event(EventType.ApprovalDecided, { statement: line, id: 'apr-9', decision: 'approved', approver: 'bob', reason: 'maintenance window', waitedMicros: 3 * SECOND, channel: 0 });
  root.event(EventType.SessionEnd, { reason: 'revoked: identity contractor-ci', cause: 'revoked', by: 'alice', revocation });

  const pg = new CurrentRecording(ids.pg, 'postgres', signer, T0 + 5 * SECOND);
  pg.event(EventType.SessionStart, { identity: 'contractor-ci', tokenId: 'tok-hop', tokenKind: 'hop', target: 'prod-db', protocol: 'postgres',
    client: '10.0.0.9:41000', parent: ids.root, linkKind: 'hop-token' });
  const q = pg.event(EventType.PgQuery, { sql: 'select email from customers' });
  pg.event(EventType.PgResult, { statement: q, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'email', typeOid: 25, format: 'text' }],
    rows: [['[masked:email]']], rowsRecorded: 1, masked: [{ column: 'email', rule: 'email', count: 1 }], durationMicros: 900 });
  pg.event(EventType.SessionEnd, { reason: `revoked: identity contractor-ci, via ancestor session ${ids.root}`, cause: 'ancestor-revoked', by: 'alice',
    revocation, ancestor: ids.root, statementsInFlight: 0 });

  return {
    ids, trusted: trustedKeysOf([signer.publicKey]),
    files: [gw.write(join(dir, `${ids.gateway}.jsonl`)), root.write(join(dir, `${ids.root}.jsonl`)), pg.write(join(dir, `${ids.pg}.jsonl`))],
  };
}
