import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exchange, HopDetail } from '../../common/api/index.js';
import { openCase, type CaseFile } from '../../forensics/index.js';
import { FixtureRecording, SECOND, T0, bytesOf, fixedSigner, writeScenario, type Scenario } from '../../forensics/testing/scenario.js';
import { dispatch, MAX_PAGE_ROWS } from '../common/contract.js';
import { CaseBackend } from './backend.js';
import { FIRST_PAGE, exchangePage, hopDetail, sessionRows } from '../../forensics/index.js';

// A hop read in pages must give, joined, what one read of the whole hop gives: every row once, and
// each row with everything that names it, even when that comes pages later (pipelined results, an
// approval decided after later statements ran, a notice at the end of the session).
const PIPE = '20251009T090000Z-pipe00000001'; // PostgreSQL, pipelined statements and late results: more rows than FIRST_PAGE
const SHELL = '20251009T090100Z-exec00000001'; // SSH execs with output in chunks and held commands
const GROUPS = 50;
const PAGE_SIZES = [1, 2, 3, 7, 1000];

let dir: string;
let scenario: Scenario;
let backend: CaseBackend;
let reader: CaseFile;
let sessions: string[];
let early: { listen: number; held: number };

function pipeRecording(signer: Scenario['signer']): FixtureRecording {
  const r = new FixtureRecording(PIPE, 'postgres', signer, T0 + 60 * SECOND);
  r.event('session.start', { identity: 'contractor-ci', tokenId: 'tok-pipe', tokenKind: 'identity', target: 'prod-db', protocol: 'postgres', client: '10.0.0.9:41100', tls: true });
  // Two statements whose answers come at the very end, hundreds of rows (and many pages) later.
  const listen = r.event('pg.query', { sql: 'LISTEN jobs' });
  const held = r.event('pg.query', { sql: 'TRUNCATE sessions' });
  r.event('approval.requested', { statement: held, id: 'apr-early', rule: 'no-truncate', reason: 'TRUNCATE', operation: 'TRUNCATE sessions' });
  for (let g = 0; g < GROUPS; g++) {
    // Extended protocol, pipelined: three executes, then their results in order.
    const e1 = r.event('pg.execute', { statement: '', sql: `select ${g}` });
    const e2 = r.event('pg.execute', { statement: 's2', sql: `select email from customers where id = ${g}` });
    const e3 = r.event('pg.execute', { statement: '', sql: `update jobs set n = ${g} where id = ${g}` });
    r.event('pg.result', { statement: e1, command: 'SELECT 1', rowCount: 1, columns: [{ name: '?column?', typeOid: 23, format: 0 }], rows: [[g]], rowsRecorded: 1 });
    r.event('pg.result', { statement: e2, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'email', typeOid: 25, format: 0 }],
      rows: [['[masked:email]']], rowsRecorded: 1, masked: { email: 1 } });
    r.event('pg.notice', { statement: e3, severity: 'NOTICE', code: '00000', message: `notice ${g}` });
    r.event('pg.result', { statement: e3, command: 'UPDATE 1', rowCount: 1 });
    // Held for approval; the next statements run (and answer) before the decision and the result.
    const del = r.event('pg.query', { sql: `DELETE FROM audit WHERE g = ${g}` });
    r.event('approval.requested', { statement: del, id: `apr-${g}`, rule: 'review-delete', reason: 'DELETE', operation: 'DELETE FROM audit' });
    const now = r.event('pg.query', { sql: 'select now()' });
    r.event('pg.result', { statement: now, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'now', typeOid: 1184, format: 0 }], rows: [['2025-10-09']], rowsRecorded: 1 });
    const drop = r.event('pg.query', { sql: 'DROP TABLE audit' });
    r.event('policy.block', { statement: drop, rule: 'no-drop', reason: 'DropStmt is not allowed', action: 'block' });
    r.event('pg.notice', { severity: 'NOTICE', message: `unattributed ${g}` }); // names no statement: the row before it owns it
    if (g % 10 === 9) r.checkpoint();
    r.event('approval.decided', { statement: del, id: `apr-${g}`, decision: g % 2 ? 'approved' : 'denied', approver: 'alice', reason: null, waitedMicros: 1000 });
    if (g % 2) r.event('pg.result', { statement: del, command: 'DELETE 3', rowCount: 3 });
  }
  r.event('pg.notice', { statement: listen, severity: 'NOTICE', message: 'listening' });
  r.event('approval.decided', { statement: held, id: 'apr-early', decision: 'approved', approver: 'alice', reason: null, waitedMicros: 9000 });
  r.event('pg.result', { statement: held, command: 'TRUNCATE TABLE', rowCount: 0, masked: { email: 2 } });
  r.event('session.end', { reason: 'client closed' });
  early = { listen, held };
  return r;
}

function shellRecording(signer: Scenario['signer']): FixtureRecording {
  const r = new FixtureRecording(SHELL, 'ssh', signer, T0 + 70 * SECOND);
  r.event('session.start', { identity: 'contractor-ci', tokenId: 'tok-exec', tokenKind: 'identity', target: 'build-host', protocol: 'ssh', client: '10.0.0.5:50200', tls: false });
  for (let i = 0; i < 40; i++) {
    if (i % 5 === 4) {
      r.event('ssh.policy', { channel: i, operation: `systemctl restart app${i}`, rule: 'restarts', step: 'held' });
      r.event('ssh.policy', { channel: i, operation: `systemctl restart app${i}`, rule: 'restarts', step: 'approved', approver: 'alice', approvalId: `ssh-${i}`, waitedMicros: 5 });
    }
    r.event('ssh.exec', { channel: i, command: `cat /var/log/app${i}.log`, pty: false, action: 'allow' });
    for (let k = 0; k < 3; k++) r.event('ssh.output', { ...bytesOf(`line ${i}.${k} token=[masked:api-key]\n`, i), stream: 'stdout', masked: { 'api-key': 1 } });
    r.event('ssh.output', { ...bytesOf(`warn ${i}\n`, i), stream: 'stderr' });
    r.event('ssh.exit', { channel: i, status: i % 3 });
  }
  r.event('session.end', { reason: 'client closed' });
  return r;
}

/** The whole hop in one read, and in pages of `size` from its first row (the contract caps a page at MAX_PAGE_ROWS). */
async function pages(session: string, size: number): Promise<{ joined: Exchange[]; nextSeqs: (number | null)[] }> {
  const hop = await backend.hop(session);
  const joined: Exchange[] = [];
  const nextSeqs: (number | null)[] = [];
  let from: number | null = hop.index.seq[0] ?? null;
  while (from !== null) {
    const page = await backend.hopExchanges(session, from, Math.min(size, MAX_PAGE_ROWS));
    expect(page.exchanges.length, `a page of ${size} from seq ${from}`).toBe(page.nextSeq === null ? page.exchanges.length : Math.min(size, MAX_PAGE_ROWS));
    if (page.exchanges.length > 0) expect(page.exchanges[0]!.seq).toBe(from);
    joined.push(...page.exchanges);
    nextSeqs.push(page.nextSeq);
    from = page.nextSeq;
  }
  return { joined, nextSeqs };
}

const full = (session: string, fromSeq = 0) => exchangePage(reader, session, fromSeq, Number.MAX_SAFE_INTEGER - 1).exchanges;
const detail = (session: string, firstPage: number): HopDetail => {
  const all = sessionRows(reader);
  return hopDetail(reader, all.find((s) => s.id === session)!, all, firstPage);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-hop-'));
  mkdirSync(join(dir, 'rec'));
  const signer = fixedSigner();
  scenario = writeScenario(join(dir, 'rec'), signer);
  pipeRecording(signer).write(join(dir, 'rec', `${PIPE}.jsonl`));
  shellRecording(signer).write(join(dir, 'rec', `${SHELL}.jsonl`));
  backend = new CaseBackend({ trusted: scenario.trusted, workDir: join(dir, 'work'), deliver: async () => ({ href: 'download/x' }) });
  await backend.openCase(join(dir, 'case.db'));
  let job = await backend.importPaths([join(dir, 'rec')]);
  while (job.state === 'running') {
    await new Promise((r) => setTimeout(r, 10));
    job = await backend.importStatus(job.id);
  }
  expect(job.results.map((r) => [r.action, r.integrity])).toEqual(Array.from({ length: 5 }, () => ['imported', 'intact']));
  reader = openCase(join(dir, 'case.db'), { readonly: true });
  sessions = [PIPE, SHELL, ...Object.values(scenario.ids)];
});

afterAll(() => {
  reader?.close();
  backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('one read of a hop (what every paging must give)', () => {
  it('gives each pipelined statement its own result, notice and masking note', () => {
    const rows = full(PIPE);
    expect(rows).toHaveLength(1 + 2 + GROUPS * 6);
    const g = 7;
    const at = (text: string) => rows.find((x) => x.text === text)!;
    expect(at(`select ${g}`).responses.map((r) => [r.kind, r.rows])).toEqual([['result', [[String(g)]]]]);
    const email = at(`select email from customers where id = ${g}`);
    expect(email.responses.map((r) => r.rows)).toEqual([[['[masked:email]']]]);
    expect(email.masked).toEqual([{ field: 'email', rule: 'email', masked: true, count: 1 }]);
    expect(at(`update jobs set n = ${g} where id = ${g}`).responses.map((r) => [r.kind, r.summary, r.text ?? null])).toEqual([
      ['notice', 'NOTICE', `notice ${g}`], ['result', 'UPDATE 1', null]]);
    // A command's rowCount is rows changed, not rows returned: nothing was left unrecorded.
    expect(at(`update jobs set n = ${g} where id = ${g}`).responses.find((r) => r.kind === 'result')?.truncated).toBe(false);
  });

  it('gives a held statement its decision and result that came after later statements', () => {
    const rows = full(PIPE);
    const deletes = rows.filter((x) => x.text.startsWith('DELETE FROM audit'));
    expect(deletes).toHaveLength(GROUPS);
    deletes.forEach((x, g) => {
      expect(x.policy.map((p) => [p.action, p.actor, p.approvalId])).toEqual([['review', null, `apr-${g}`], [g % 2 ? 'approved' : 'denied', 'alice', `apr-${g}`]]);
      expect(x.responses.map((r) => r.summary)).toEqual(g % 2 ? ['DELETE 3'] : []);
    });
    // The statement that ran in between keeps only its own result; the blocked DROP its block and the notice that named nothing.
    const now = rows.filter((x) => x.text === 'select now()');
    expect(now.every((x) => x.responses.length === 1 && x.responses[0]!.summary === 'SELECT 1' && x.policy.length === 0)).toBe(true);
    const drops = rows.filter((x) => x.text === 'DROP TABLE audit');
    drops.forEach((x, g) => {
      expect(x.policy.map((p) => [p.action, p.rule])).toEqual([['block', 'no-drop']]);
      // The last row also holds the session's end (an `event` response), as `hopscope show` prints it.
      const events = g === drops.length - 1 ? [['event', 'client closed']] : [];
      expect(x.responses.map((r) => [r.kind, r.text])).toEqual([['notice', `unattributed ${g}`], ...events]);
    });
    const [, listen, held] = rows;
    expect(listen).toMatchObject({ seq: early.listen, responses: [{ kind: 'notice', text: 'listening' }] });
    expect(held!.seq).toBe(early.held);
    expect(held!.policy.map((p) => [p.action, p.actor])).toEqual([['review', null], ['approved', 'alice']]);
    expect(held!.responses.map((r) => r.summary)).toEqual(['TRUNCATE TABLE']);
    expect(held!.masked).toEqual([{ field: '*', rule: 'email', masked: true, count: 2 }]);
  });

  it('joins the output chunks of an SSH command and keeps held commands on their row', () => {
    const rows = full(SHELL);
    expect(rows).toHaveLength(41);
    const cat = rows.find((x) => x.text === 'cat /var/log/app4.log')!;
    // (stderr that follows stdout is joined into the same output response today, as a terminal shows them.)
    expect(cat.responses.map((r) => r.kind)).toEqual(['output', 'exit']);
    expect(cat.responses[0]!.text).toMatch(/^line 4\.0 token=\[masked:api-key\]\nline 4\.1 token=\[masked:api-key\]\nline 4\.2 token=\[masked:api-key\]\n/);
    expect(cat.responses[1]!.summary).toBe('exit 1');
    expect(cat.masked).toEqual([{ field: 'stdout', rule: 'api-key', masked: true, count: 3 }]);
    // ssh.policy names no statement: the steps before an exec belong to the row before it.
    expect(rows.find((x) => x.text === 'cat /var/log/app3.log')!.policy.map((p) => p.action)).toEqual(['review', 'approved']);
  });
});

describe('a hop read in pages', () => {
  it.each(PAGE_SIZES)('joins pages of %i into the one read: rows, index and markers, nextSeq null at the end', async (size) => {
    for (const session of sessions) {
      const whole = full(session);
      const { joined, nextSeqs } = await pages(session, size);
      expect(joined, `${session} in pages of ${size}`).toEqual(whole);
      expect(nextSeqs.at(-1)).toBeNull();
      expect(nextSeqs.slice(0, -1).every((s) => s !== null)).toBe(true);
      expect(nextSeqs).toHaveLength(Math.max(1, Math.ceil(whole.length / size)));
      // The hop opens with the same index and markers whatever its first page, and its first page is the page of that size.
      const opened = detail(session, size);
      const hop = await backend.hop(session);
      expect(opened.index).toEqual(hop.index);
      expect(opened.markers).toEqual(hop.markers);
      expect(hop.index).toEqual({ seq: whole.map((x) => x.seq), t: whole.map((x) => x.t), kind: whole.map((x) => x.kind) });
      expect(opened.exchanges).toEqual(whole.slice(0, size));
      expect(opened.nextSeq).toBe(whole[size]?.seq ?? null);
    }
  });

  it('opens a long hop with FIRST_PAGE rows, and hopExchanges from its nextSeq gives the rest', async () => {
    const whole = full(PIPE);
    expect(whole.length).toBeGreaterThan(FIRST_PAGE);
    const hop = await backend.hop(PIPE);
    expect(hop.exchanges).toEqual(whole.slice(0, FIRST_PAGE));
    expect(hop.nextSeq).toBe(whole[FIRST_PAGE]!.seq);
    const rest = await backend.hopExchanges(PIPE, hop.nextSeq!, MAX_PAGE_ROWS);
    expect(rest.nextSeq).toBeNull();
    expect([...hop.exchanges, ...rest.exchanges]).toEqual(whole);
    // Markers cover the whole hop, not the first page: every command, and every policy step of the held and blocked statements.
    expect(hop.markers.filter((m) => m.kind === 'command').map((m) => m.seq)).toEqual(whole.slice(1).map((x) => x.seq));
    expect(hop.markers.filter((m) => m.kind === 'block')).toHaveLength(GROUPS);
    expect(hop.markers.filter((m) => m.kind === 'approved').map((m) => m.label)).toHaveLength(GROUPS / 2 + 1);
    expect(hop.markers.filter((m) => m.kind === 'denied')).toHaveLength(GROUPS / 2);
  });

  it('starts a page at the row of fromSeq, or at the next row when fromSeq is not a row', async () => {
    const whole = full(PIPE);
    for (const k of [1, 2, 3, 150, 299, 300, 301, whole.length - 1]) {
      const at = await backend.hopExchanges(PIPE, whole[k]!.seq, 5);
      expect(at.exchanges, `from row ${k}`).toEqual(whole.slice(k, k + 5));
      expect(at.nextSeq).toBe(whole[k + 5]?.seq ?? null);
      // A seq between rows (a result, a policy step): the page starts at the next row, with nothing of the row before.
      const between = await backend.hopExchanges(PIPE, whole[k]!.seq - 1, 5);
      if (whole[k - 1]!.seq < whole[k]!.seq - 1) expect(between.exchanges, `from before row ${k}`).toEqual(whole.slice(k, k + 5));
    }
    expect(await backend.hopExchanges(PIPE, whole.at(-1)!.seq + 1, 10)).toEqual({ exchanges: [], nextSeq: null });
  });

  it('refuses bad arguments before reading, and an unknown session', async () => {
    const log: unknown[] = [];
    const call = (...args: unknown[]) => dispatch(backend, 'hopExchanges', args, (e) => log.push(e));
    for (const args of [[PIPE], [PIPE, -1, 10], [PIPE, 1.5, 10], [PIPE, '3', 10], [PIPE, 3, 0], [PIPE, 3, MAX_PAGE_ROWS + 1], [PIPE, 3, -5], [7, 3, 10]]) {
      expect(await call(...args), JSON.stringify(args)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(await call('no-such-session', 1, 10)).toMatchObject({ ok: false, error: { code: 'SESSION_UNKNOWN' } });
    expect(await call(PIPE, 1, 2)).toEqual({ ok: true, value: { exchanges: full(PIPE).slice(0, 2), nextSeq: full(PIPE)[2]!.seq } });
    expect(log).toEqual([]);
  });
});
