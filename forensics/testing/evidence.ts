import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Signer } from '../../common/keys.js';
import { FixtureRecording, SECOND, T0 } from './scenario.js';

/**
 * Recordings for the workbench's evidence views, built with the real encoder: a session rewritten by
 * someone without the key (a statement edited, the hash chain recomputed, the seal's signature left
 * as it was), a session whose tail after its last checkpoint is unsigned (no seal), a session cut by a
 * revocation, and the gateway's own recording that says who revoked it, why, and which logins it
 * refused before any session existed.
 */
export interface EvidenceIds {
  tampered: string;
  tail: string;
  cut: string;
  gateway: string;
}

export interface EvidenceScenario {
  ids: EvidenceIds;
  files: Record<keyof EvidenceIds, string>;
  /** The last seq covered by a signature in the rewritten file: rows after it are past the break. */
  tamperedSignedThrough: number;
  /** The seq whose statement was rewritten. */
  tamperedSeq: number;
  /** The last signed seq of the unsealed file: rows after it are its unverified tail. */
  tailSignedThrough: number;
  /** The revocation as the gateway recorded it. */
  revocation: { identity: string; by: string; via: string; reason: string };
}

export const FORGED_SQL = 'select 1 /* nothing to see */';
const REVOCATION = { identity: 'agent', by: 'admin', via: 'workbench', reason: 'token leaked in CI logs' };

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * What a writer without the key can do: edit the event at `seq` and recompute every later link, so the
 * chain holds, but the signatures after the edit no longer cover what the lines say.
 */
export function rewriteWithoutKey(text: string, seq: number, edit: (line: string) => string): string {
  const lines = text.split('\n').filter((l) => l !== '');
  const at = lines.findIndex((l, i) => i > 0 && (JSON.parse(l) as { seq: number }).seq === seq);
  if (at < 0) throw new Error(`no event seq ${seq}`);
  lines[at] = edit(lines[at]!);
  for (let i = at + 1; i < lines.length; i++) {
    const e = JSON.parse(lines[i]!) as Record<string, unknown>;
    lines[i] = JSON.stringify({ ...e, prev: sha256(lines[i - 1]!) });
  }
  return lines.map((l) => `${l}\n`).join('');
}

export function writeEvidenceScenario(dir: string, signer: Signer): EvidenceScenario {
  const ids: EvidenceIds = {
    tampered: '20251009T091000Z-forged000001', tail: '20251009T091100Z-tail00000001', cut: '20251009T091200Z-cut000000001',
    gateway: 'gateway-20251009T090900Z-gw0000000001',
  };
  const start = (r: FixtureRecording, identity: string, client: string) =>
    r.event('session.start', { identity, tokenId: `tok-${identity}`, tokenKind: 'identity', target: 'prod-db', protocol: 'postgres', client, tls: true });

  // Signed through the checkpoint after the approval; the statement after it is rewritten.
  const forged = new FixtureRecording(ids.tampered, 'postgres', signer, T0 + 900 * SECOND);
  start(forged, 'batch-job', '10.0.0.7:40100');
  const q1 = forged.event('pg.query', { sql: 'select count(*) from customers' });
  forged.event('pg.result', { statement: q1, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'count', typeOid: 20, format: 0 }], rows: [['42']], rowsRecorded: 1 });
  const del = forged.event('pg.query', { sql: 'DELETE FROM sessions' });
  forged.event('approval.requested', { statement: del, id: 'apr-9', rule: 'unbounded-write', reason: 'DELETE without WHERE', operation: 'DELETE FROM sessions' });
  forged.event('approval.decided', { statement: del, id: 'apr-9', decision: 'approved', approver: 'alice', reason: 'ticket OPS-12: purge expired sessions', waitedMicros: 3_000_000 });
  forged.event('pg.result', { statement: del, command: 'DELETE 7', rowCount: 7 });
  forged.checkpoint();
  const signedThrough = del + 4; // result, then the checkpoint
  const drop = forged.event('pg.query', { sql: 'DROP TABLE customers' });
  forged.event('pg.error', { statement: drop, code: '42501', message: 'permission denied for table customers', severity: 'ERROR' });
  const q3 = forged.event('pg.query', { sql: 'select now()' });
  forged.event('pg.result', { statement: q3, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'now', typeOid: 1184, format: 0 }], rows: [['2025-10-09']], rowsRecorded: 1 });
  forged.event('session.end', { reason: 'client closed', cause: 'client-quit' });
  const tampered = join(dir, `${ids.tampered}.jsonl`);
  writeFileSync(tampered, rewriteWithoutKey(forged.text(), drop, (l) => l.replace('DROP TABLE customers', FORGED_SQL)));

  // A tail after the last checkpoint and no seal: the gateway stopped (or someone cut the file and dropped the seal).
  const tail = new FixtureRecording(ids.tail, 'postgres', signer, T0 + 960 * SECOND);
  start(tail, 'batch-job', '10.0.0.7:40200');
  const t1 = tail.event('pg.query', { sql: 'select 1' });
  tail.event('pg.result', { statement: t1, command: 'SELECT 1', rowCount: 1, columns: [{ name: '?column?', typeOid: 23, format: 0 }], rows: [['1']], rowsRecorded: 1 });
  tail.checkpoint();
  const tailSigned = t1 + 2;
  const t2 = tail.event('pg.query', { sql: 'update accounts set balance = 0' });
  tail.event('pg.result', { statement: t2, command: 'UPDATE 3', rowCount: 3 });
  tail.event('pg.query', { sql: 'select pg_sleep(1)' });
  const tailFile = tail.write(join(dir, `${ids.tail}.jsonl`), false);

  // Cut by the revocation the gateway's recording names.
  const cut = new FixtureRecording(ids.cut, 'postgres', signer, T0 + 1020 * SECOND);
  start(cut, REVOCATION.identity, '10.0.0.8:40300');
  const c1 = cut.event('pg.query', { sql: 'select email from customers' });
  cut.event('pg.result', { statement: c1, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'email', typeOid: 25, format: 0 }], rows: [['[masked:email]']],
    rowsRecorded: 1, masked: { email: 1 } });
  cut.event('session.end', { reason: `the session was revoked (identity ${REVOCATION.identity})`, cause: 'revoked', by: REVOCATION.by,
    revocation: { identity: REVOCATION.identity, by: REVOCATION.by, reason: REVOCATION.reason } });
  const cutFile = cut.write(join(dir, `${ids.cut}.jsonl`));

  const gw = new FixtureRecording(ids.gateway, 'gateway', signer, T0 + 840 * SECOND, 60 * SECOND);
  gw.event('gateway.start', { keyId: signer.keyId, listeners: { postgres: '127.0.0.1:6432', admin: '127.0.0.1:9090' }, config: '/etc/hopscope/gateway.yml' });
  gw.event('refused', { protocol: 'postgres', reason: 'TOKEN_INVALID', message: 'the token is not valid', client: '10.0.0.66:51000', identity: 'mallory', target: 'prod-db' });
  const at = Math.floor((T0 + 1080 * SECOND) / SECOND);
  gw.event('revoked', { identity: REVOCATION.identity, by: REVOCATION.by, client: '127.0.0.1:40001', via: REVOCATION.via, reason: REVOCATION.reason, at, sessionsCut: [ids.cut] });
  gw.event('refused', { protocol: 'postgres', reason: 'REVOKED', message: `identity ${REVOCATION.identity} was revoked`, client: '10.0.0.8:40301',
    identity: REVOCATION.identity, target: 'prod-db', revocation: { identity: REVOCATION.identity, by: REVOCATION.by, reason: REVOCATION.reason } });
  gw.event('unrevoked', { identity: REVOCATION.identity, by: 'alice', via: 'cli', at: at + 600, reason: 'token rotated',
    lifted: [{ identity: REVOCATION.identity, at, by: REVOCATION.by, reason: REVOCATION.reason }] });
  gw.event('gateway.stop', { sessionsEnded: 0 });
  const gwFile = gw.write(join(dir, `${ids.gateway}.jsonl`));

  return {
    ids, files: { tampered, tail: tailFile, cut: cutFile, gateway: gwFile },
    tamperedSignedThrough: signedThrough, tamperedSeq: drop, tailSignedThrough: tailSigned, revocation: REVOCATION,
  };
}
