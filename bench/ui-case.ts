import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock } from '../common/clock.js';
import { trustedKeysOf } from '../common/keys.js';
import { RecordingEncoder, type EventMap, type EventName, type RecordingHeader } from '../common/recording/index.js';
import { importPaths, openCase } from '../forensics/index.js';
import { fixedSigner } from '../forensics/testing/scenario.js';

// The case of `npm run bench:ui`: trees of five hops (an SSH shell, its two psql hops, an inferred
// SSH hop and that one's psql hop), 200 events each, built with the real encoder and imported with
// the real importer (keyframes included). Kept between runs: building 1,000,000 events takes a while.
export const T0 = 1_760_000_000_000_000;
const MS = 1000;
const SQL = ['SELECT id, email, plan FROM customers WHERE id = $1', 'UPDATE accounts SET balance = balance - 10 WHERE id = 42',
  "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'", 'DELETE FROM sessions WHERE expires_at < now()'];
const LINES = ['make -j4', 'ls -la /srv/app', 'git log --oneline | head', 'psql -h gateway -d prod-db', 'cat /etc/os-release', 'ssh jump-host uptime'];

export interface UiCase {
  db: string;
  sessions: number;
  events: number;
}

class Recording {
  private readonly enc: RecordingEncoder;
  private readonly parts: string[] = [];
  events = 0;
  constructor(session: string, protocol: RecordingHeader['protocol'], start: number) {
    this.enc = new RecordingEncoder({ session, protocol, signer: fixedSigner(), clock: fixedClock(start, 40 * MS) });
    this.parts.push(this.enc.header);
  }
  event<K extends EventName>(type: K, data: EventMap[K]): number {
    this.parts.push(this.enc.event(type, data));
    this.events++;
    if (this.events % 100 === 0) this.parts.push(this.enc.checkpoint());
    return this.enc.lastSeq;
  }
  write(path: string): void {
    this.parts.push(this.enc.seal());
    const fd = openSync(path, 'w');
    writeSync(fd, this.parts.join(''));
    closeSync(fd);
  }
}

const out = (s: string) => ({ channel: 0, data: Buffer.from(s).toString('base64'), encoding: 'base64' as const, bytes: Buffer.byteLength(s), stream: 'stdout' as const });

function shell(id: string, identity: string, target: string, start: number, perSession: number, parent?: { id: string; kind: string; evidence?: unknown }): Recording {
  const r = new Recording(id, 'ssh', start);
  r.event('session.start', { identity, tokenId: `tok-${id}`, tokenKind: parent ? 'hop' : 'identity', target, protocol: 'ssh', client: '10.1.0.7:50000', tls: false,
    ...(parent ? { parent: parent.id, linkKind: parent.kind, ...(parent.evidence ? { evidence: parent.evidence } : {}) } : {}) });
  r.event('ssh.pty', { channel: 0, term: 'xterm-256color', cols: 100, rows: 30 });
  r.event('ssh.shell', { channel: 0, pty: true });
  for (let i = 0; r.events < perSession - 1; i++) {
    const line = LINES[i % LINES.length]!;
    r.event('ssh.input', out(`${line}\r`));
    r.event('ssh.output', out(`${line}\r\n\x1b[32mok\x1b[0m step ${i}: ${'#'.repeat(i % 40)} token=[masked:api-key]\r\nbuilder@${target}:~$ `));
  }
  r.event('session.end', { reason: 'client closed the connection', cause: 'client-quit' });
  return r;
}

function psql(id: string, identity: string, start: number, perSession: number, parent: string): Recording {
  const r = new Recording(id, 'postgres', start);
  r.event('session.start', { identity, tokenId: `tok-${id}`, tokenKind: 'hop', target: 'prod-db', protocol: 'postgres', client: '10.1.0.9:41000', tls: true,
    parent, linkKind: 'hop-token' });
  for (let i = 0; r.events < perSession - 1; i++) {
    const q = r.event('pg.query', { sql: SQL[i % SQL.length]! });
    if (i % 25 === 3) r.event('policy.block', { statement: q, rule: 'unbounded-write', reason: 'DELETE without WHERE', action: 'block' });
    else r.event('pg.result', { statement: q, command: 'SELECT 2', rowCount: 2, columns: [{ name: 'id', typeOid: 23, format: 'text' }, { name: 'email', typeOid: 25, format: 'text' }],
      rows: [[String(i), '[masked:email]'], [String(i + 1), '[masked:email]']], rowsRecorded: 2, durationMicros: 900, masked: [{ rule: 'email', count: 2 }] });
  }
  r.event('session.end', { reason: 'client closed the connection', cause: 'client-quit' });
  return r;
}

/** Builds (or reuses) a case of `sessions` hops, `events` events in all, under `dir`. */
export async function buildUiCase(dir: string, sessions: number, events: number, log: (s: string) => void): Promise<UiCase> {
  const db = join(dir, `case-${sessions}-${events}.db`);
  if (existsSync(db)) return { db, sessions, events };
  const rec = join(dir, `recordings-${sessions}`);
  rmSync(rec, { recursive: true, force: true });
  mkdirSync(rec, { recursive: true });
  const per = Math.floor(events / sessions);
  const trees = Math.ceil(sessions / 5);
  let written = 0;
  for (let t = 0; t < trees && written < sessions; t++) {
    const identity = `agent-${t % 40}`;
    const start = T0 + t * 60_000 * MS;
    const id = (k: string) => `${new Date(start / 1000).toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z-t${String(t).padStart(5, '0')}${k}`;
    const root = id('root');
    const ssh2 = id('ssh2');
    const hops: [string, Recording][] = [
      [root, shell(root, identity, `build-${t % 17}`, start, per)],
      [id('pg1'), psql(id('pg1'), identity, start + 500 * MS, per, root)],
      [id('pg2'), psql(id('pg2'), identity, start + 2000 * MS, per, root)],
      [ssh2, shell(ssh2, identity, 'jump-host', start + 3000 * MS, per, { id: root, kind: 'address-time', evidence: { clientAddress: '10.1.0.7', parentLive: true } })],
      [id('pg3'), psql(id('pg3'), identity, start + 4000 * MS, per, ssh2)],
    ];
    for (const [sid, r] of hops.slice(0, sessions - written)) r.write(join(rec, `${sid}.jsonl`));
    written += Math.min(5, sessions - written);
    if (t % 100 === 99) log(`  wrote ${written} recordings`);
  }
  log(`importing ${written} recordings (${(written * per).toLocaleString()} events)…`);
  const partial = `${db}.partial`;
  rmSync(partial, { force: true });
  const c = openCase(partial);
  try {
    const summary = await importPaths(c, [rec], { trusted: trustedKeysOf([fixedSigner().publicKey]) });
    if (!summary.allIntact) throw new Error(`the bench case did not import intact: ${summary.failed} failed, ${summary.rejected} rejected`);
  } finally {
    c.close();
  }
  renameSync(partial, db);
  rmSync(rec, { recursive: true, force: true });
  return { db, sessions, events };
}
