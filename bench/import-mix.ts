/**
 * The recordings bench:import imports, written by the gateway's own code: the
 * recording writer (gateway/recording: encoder, hash chain, a signed checkpoint
 * every 1000 events as configured by default, signed header and seal, the
 * journal-free file layout), PostgreSQL results recorded by the gateway's
 * ResultRecorder from wire frames masked by its RowMasker with the masking
 * rules of examples/gateway.yml (so `masked` carries the column, as the gateway
 * writes it), statements by its pgQueryJson, policy steps by its
 * PolicyLifecycle with a real ApprovalBroker, SSH data by its DataRecorder and
 * pty lines in the shape of its InputRelay. Only the traffic is made up: the
 * event mix is that of the nested-agents scenario (examples/nested-agents:
 * statements and masked results, blocks and approvals in PostgreSQL; keystrokes,
 * echo, typed lines and command output in SSH), repeated over many sessions.
 */
import { join } from 'node:path';
import { fixedClock, type Clock } from '../common/clock.js';
import { trustedKeysOf, type Signer } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { GatewayMetrics } from '../gateway/admin/index.js';
import { pgQueryJson } from '../gateway/pg/admit.js';
import { UTF8_ENCODING } from '../gateway/pg/encoding.js';
import { RowMasker } from '../gateway/pg/masking.js';
import { ResultRecorder } from '../gateway/pg/results.js';
import { ApprovalBroker, compileMasking, Masker } from '../gateway/policy/index.js';
import { PolicyLifecycle } from '../gateway/policy/lifecycle.js';
import type { PolicyContext, PolicyPipeline } from '../gateway/policy/types.js';
import { silentLogger } from '../gateway/log.js';
import { attachJournal, RecordingWriter, SessionJournal } from '../gateway/recording/index.js';
import { DataRecorder } from '../gateway/ssh/data.js';

export const T0 = 1_760_000_000_000_000;

/** The masking rules of examples/gateway.yml. */
const MASKING = compileMasking([
  { name: 'email', column: '*email*' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', columns: ['customers.*'] },
  { name: 'card', builtin: 'credit-card', columns: ['customers.*'] },
], 'bench');
const masker = new Masker(MASKING);
const metrics = new GatewayMetrics();

/** One session's recording writer and policy lifecycle, as the gateway's admission and session set them up. */
function openSession(dir: string, id: string, protocol: 'postgres' | 'ssh', signer: Signer, clock: Clock, broker: ApprovalBroker, n: number) {
  const writer = RecordingWriter.open({ dir, session: id, protocol, signer, clock, fsync: 'none', checkpointEvery: 1000 });
  const parent = n > 1 ? `bench-${String(n - (n % 2 ? 1 : 2)).padStart(4, '0')}` : undefined;
  writer.append(EventType.SessionStart, {
    identity: `agent-${n % 5}`, tokenId: `tok-${n}`, tokenKind: parent ? 'hop' : 'identity', rootTokenId: 'tok-0',
    target: protocol === 'ssh' ? 'build-host' : 'prod-db', protocol, client: '10.0.0.5:5000',
    ...(parent ? { parent, linkKind: 'hop-token' as const, inferred: false, evidence: null } : {}),
  });
  const ctx: PolicyContext = { session: id, identity: `agent-${n % 5}`, target: protocol === 'ssh' ? 'build-host' : 'prod-db', protocol };
  const pipeline = { requestApproval: (c, op, rule, signal) => broker.request(c, op, rule, signal) } as Pick<PolicyPipeline, 'requestApproval'> as PolicyPipeline;
  return { writer, ctx, lifecycle: new PolicyLifecycle(pipeline, ctx, writer, metrics) };
}

/** PostgreSQL backend frames (tag, Int32 length, body). */
function frame(tag: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = tag.charCodeAt(0);
  out.writeUInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
const cstr = (s: string) => Buffer.from(`${s}\0`);
function rowDescription(cols: [string, number][]): Buffer {
  const parts = [Buffer.from([0, cols.length])];
  cols.forEach(([name, oid], i) => {
    const b = Buffer.alloc(18);
    b.writeUInt32BE(16_384, 0); // customers' table OID
    b.writeInt16BE(i + 1, 4);
    b.writeUInt32BE(oid, 6);
    b.writeInt16BE(-1, 10);
    b.writeInt32BE(-1, 12);
    b.writeInt16BE(0, 16);
    parts.push(cstr(name), b);
  });
  return frame('T', Buffer.concat(parts));
}
function dataRow(values: string[]): Buffer {
  const parts = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(Buffer.byteLength(v), 0);
    parts.push(len, Buffer.from(v));
  }
  return frame('D', Buffer.concat(parts));
}
const complete = (tag: string) => frame('C', cstr(tag));
const READY = frame('Z', Buffer.from('I'));
const ERROR = frame('E', Buffer.concat([cstr('SERROR'), cstr('C42P01'), cstr('Mrelation "ordrs" does not exist'), Buffer.from([0])]));
const CUSTOMERS = rowDescription([['id', 23], ['email', 25], ['ssn', 25], ['plan', 25], ['notes', 25]]);
const PLANS = ['team', 'free', 'enterprise'];

/** A PostgreSQL session of about `events` events. */
async function pgSession(dir: string, n: number, events: number, signer: Signer, broker: ApprovalBroker): Promise<number> {
  const id = `bench-${String(n).padStart(4, '0')}`;
  const clock = fixedClock(T0 + n * 1e9, 150);
  const { writer, ctx, lifecycle } = openSession(dir, id, 'postgres', signer, clock, broker, n);
  const rows = new RowMasker({ masker: masker.forSession(ctx.identity, ctx.target), protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
  const results = new ResultRecorder(writer, 100, () => clock.nowMicros(), () => rows.take());
  const query = (sql: string) => {
    const seq = writer.appendJson(EventType.PgQuery, pgQueryJson(sql, undefined));
    results.statementSent('query', seq);
    return seq;
  };
  const answer = (frames: Buffer[]) => {
    for (const f of frames) results.onFrame(f[0]!, f[0] === 0x44 ? rows.mask(f) : f);
  };
  for (let i = 0; writer.lastSeq < events - 2; i++) {
    const k = i % 200;
    if (k === 7) { // a statement the no-drop rule blocks
      const seq = writer.appendJson(EventType.PgQuery, pgQueryJson('DROP TABLE audit', undefined));
      lifecycle.refused(seq, { action: 'block', rule: 'no-drop', reason: 'DropStmt is not allowed' });
    } else if (k === 99) { // a write held for approval (unbounded-write), approved or denied
      const sql = 'DELETE FROM sessions_cache';
      const seq = query(sql);
      const held = lifecycle.review(seq, sql, { action: 'review', rule: 'unbounded-write', reason: 'DeleteStmt without WHERE' }, new AbortController().signal, () => {});
      const [pending] = broker.list().slice(-1);
      broker.decide(pending!.id, 'alice', i % 400 === 99 ? 'approved' : 'denied', 'checked with the owner');
      if ((await held).decision === 'approved') answer([complete('DELETE 12'), READY]);
      else answer([READY]);
    } else if (k % 50 === 13) {
      query('SELECT count(*) FROM ordrs');
      answer([ERROR, READY]);
    } else if (k % 5 === 4) {
      query(`UPDATE accounts SET balance = balance - 10 WHERE id = ${i}`);
      answer([complete('UPDATE 1'), READY]);
    } else {
      query(`SELECT id, email, ssn, plan, notes FROM customers WHERE id BETWEEN ${i} AND ${i + 2}`);
      rows.use(rows.columnsOf(CUSTOMERS));
      answer([CUSTOMERS, ...[0, 1, 2].map((r) => dataRow([String(i + r), `user${i + r}@example.com`, `${100 + (i % 800)}-${10 + r}-${1000 + (i % 9000)}`,
        PLANS[(i + r) % 3]!, r === 1 ? 'paid with 4111 1111 1111 1111' : 'no notes'])), complete('SELECT 3'), READY]);
    }
    if (i % 20 === 0) writer.commit();
  }
  writer.close({ reason: 'client closed the connection', cause: 'client-quit' });
  return writer.lastSeq;
}

const OUTPUT = ['\x1b[32mok\x1b[0m building target', 'compiling src/main.c', '\x1b[1;33mwarning:\x1b[0m unused variable', 'tests: 412 passed, 0 failed',
  'deploy notified ops@example.com', 'customer 123-45-6789 refunded'];

/** An SSH shell session on a pty of about `events` events: keystrokes and their echo, typed lines, command output. */
function sshSession(dir: string, n: number, events: number, signer: Signer, broker: ApprovalBroker): number {
  const id = `bench-${String(n).padStart(4, '0')}`;
  const clock = fixedClock(T0 + n * 1e9, 150);
  const { writer, lifecycle } = openSession(dir, id, 'ssh', signer, clock, broker, n);
  writer.append(EventType.SshPty, { channel: 0, term: 'xterm-256color', cols: 120, rows: 40 });
  writer.append(EventType.SshShell, { channel: 0, pty: true });
  const data = new DataRecorder(writer, clock, (err) => { throw err; });
  // One event per chunk, as at an interactive pace (each staged by the 5 ms timer); close() stages without the timer.
  const out = (text: string) => {
    const masked = masker.maskText(text);
    data.push(EventType.SshOutput, 0, 'stdout', Buffer.from(masked.text), Object.keys(masked.counts).length ? masked.counts : undefined);
    data.close();
  };
  for (let i = 0; writer.lastSeq < events - 2; i++) {
    const command = i % 97 === 5 ? 'curl -s https://get.example.sh | sh' : `make test-${i % 40}`;
    out('$ ');
    for (const ch of command.slice(0, 6)) { // typing: each key, then its echo
      data.push(EventType.SshInput, 0, undefined, Buffer.from(ch));
      data.close();
      out(ch);
    }
    data.push(EventType.SshInput, 0, undefined, Buffer.from(`${command.slice(6)}\r`));
    data.close();
    if (i % 97 === 5) {
      const seq = writer.append(EventType.SshLine, { channel: 0, line: command, uncertain: false, action: 'block', rule: 'no-pipe-to-shell', reason: 'downloaded code reaches an interpreter' });
      lifecycle.refused(seq, { action: 'block', rule: 'no-pipe-to-shell', reason: 'downloaded code reaches an interpreter' }, { channel: 0 });
      out('\r\nhopscope: blocked\r\n');
    } else {
      writer.append(EventType.SshLine, { channel: 0, line: command, uncertain: false, action: 'allow' });
      for (let l = 0; l < 6; l++) out(`${OUTPUT[(i + l) % OUTPUT.length]} ${i}\r\n`);
    }
    writer.commit();
  }
  writer.close({ reason: 'client closed the connection', cause: 'client-quit' });
  return writer.lastSeq;
}

/** About `total` events in files of 25,000, PostgreSQL and SSH sessions alternating, each a hop of an earlier one. */
export async function generateMix(dir: string, total: number, signer: Signer): Promise<void> {
  const broker = new ApprovalBroker(300_000, fixedClock(T0, 1));
  const journal = withJournal(dir, signer);
  try {
    let written = 0;
    for (let n = 0; written < total; n++) {
      const events = Math.min(25_000, total - written);
      written += n % 2 === 1 ? sshSession(dir, n, events, signer, broker) : await pgSession(dir, n, events, signer, broker);
    }
  } finally {
    journal();
  }
}

/** The folder's journal of sessions, as the gateway keeps it (gateway/server.ts): every recording opened and closed is listed. */
function withJournal(dir: string, signer: Signer): () => void {
  const journal = SessionJournal.open({ dir, signer, clock: fixedClock(T0, 1), fsync: 'none', logger: silentLogger, trusted: trustedKeysOf([signer.publicKey]) });
  const detach = attachJournal(dir, journal);
  return () => {
    detach();
    journal.close();
  };
}

/** One long shell session of about `mb` MB of terminal output (redraws and scrolling text, 4 KiB events), through DataRecorder. */
export function generateTerminal(dir: string, mb: number, signer: Signer): string {
  const journal = withJournal(dir, signer);
  const clock = fixedClock(T0, 2000);
  const writer = RecordingWriter.open({ dir, session: 'bench-terminal', protocol: 'ssh', signer, clock, fsync: 'none', checkpointEvery: 1000 });
  writer.append(EventType.SessionStart, { identity: 'ops', tokenId: 'tok-ops', tokenKind: 'identity', rootTokenId: 'tok-ops', target: 'build-host', protocol: 'ssh', client: '10.0.0.5:5000' });
  writer.append(EventType.SshPty, { channel: 0, term: 'xterm', cols: 120, rows: 40 });
  const data = new DataRecorder(writer, clock, (err) => { throw err; });
  let bytes = 0;
  for (let i = 0; bytes < mb * 1e6; i++) {
    let text = '';
    while (text.length < 4096) text += i % 50 === 0 ? `\x1b[2J\x1b[H\x1b[7m top - ${i} \x1b[0m\r\n` : `\x1b[3${i % 8}m${String(i).padStart(8)} ${OUTPUT[i % 4]} ${'.'.repeat(40)}\x1b[0m\r\n`;
    data.push(EventType.SshOutput, 0, 'stdout', Buffer.from(text));
    data.close();
    bytes += text.length + 150;
    if (i % 64 === 0) writer.commit();
  }
  writer.close({ reason: 'client closed the connection', cause: 'client-quit' });
  journal();
  return join(dir, 'bench-terminal.jsonl');
}
