import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { readEvents } from './helpers/gateway.js';
import { run } from './helpers/processes.js';
import { STEPS_SQL } from './scenarios/nested-agents/agent.js';
import { CUSTOMERS } from './scenarios/nested-agents/environment.js';
import { runNestedAgents, type ScenarioResult } from './scenarios/nested-agents/scenario.js';

// The nested-agents incident, run for real (PostgreSQL, two sshd targets, the
// gateway with the policies of examples/gateway.yml, the OpenSSH client, psql and
// the CLI), then judged by its recordings alone.

let out: string;
let result: ScenarioResult;
/** Session recordings by session id; the gateway's own audit log apart. */
let sessions: Map<string, RecordingEvent[]>;
let audit: RecordingEvent[];
let raw: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hopscope-scenario-'));
  result = await runNestedAgents({ out });
  sessions = new Map();
  const files = (await readdir(result.recordingsDir)).filter((f) => f.endsWith('.jsonl')).sort();
  for (const f of files) {
    const events = await readEvents(join(result.recordingsDir, f));
    if (f.startsWith('gateway-')) audit = events;
    else sessions.set(f.replace(/\.jsonl$/, ''), events);
  }
  raw = (await Promise.all(files.map((f) => readFile(join(result.recordingsDir, f), 'utf8')))).join('');
}, 240_000);
afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

const start = (id: string) => sessions.get(id)![0]!.data;
const ofType = (id: string, type: string) => sessions.get(id)!.filter((e) => e.type === type).map((e) => e.data);
const childrenOf = (parent: string) => [...sessions.keys()].filter((id) => start(id).parent === parent);
/** The PostgreSQL hop whose psql set this application_name. */
const pgHop = (app: string) => {
  const id = [...sessions.keys()].find((s) => (start(s).params as Record<string, string> | undefined)?.application_name === app);
  expect(id, `a postgres session of ${app}`).toBeDefined();
  return id!;
};
const sshHopWith = (type: string) => childrenOf(result.rootSession).find((id) => start(id).protocol === 'ssh' && ofType(id, type).length > 0)!;

describe('the nested-agents scenario, from its recordings', () => {
  it('starts from contractor-ci → build-host, opened with an identity token', () => {
    expect(start(result.rootSession)).toMatchObject({
      identity: 'contractor-ci', target: 'build-host', protocol: 'ssh', tokenKind: 'identity',
    });
    expect(start(result.rootSession).parent).toBeUndefined();
    expect(ofType(result.rootSession, EventType.SshHop)).toHaveLength(1);
    expect(ofType(result.rootSession, EventType.SshExec)[0]).toMatchObject({ action: 'allow' });
    // Every session of the run descends from the root's token.
    for (const id of sessions.keys()) expect(start(id).rootTokenId).toBe(start(result.rootSession).rootTokenId);
  });

  it('links the psql hop on build-host to the SSH session with the hop token, proven', () => {
    const id = pgHop('ci-maintenance');
    expect(start(id)).toMatchObject({ parent: result.rootSession, linkKind: 'hop-token', inferred: false, tokenKind: 'hop', target: 'prod-db' });
    // Every step the job ran, recorded in order (the refused and held ones too).
    expect(ofType(id, EventType.PgQuery).map((q) => q.sql)).toEqual(STEPS_SQL);
  });

  it('records the customers read masked, with counts per rule, and no raw value anywhere', () => {
    const [read] = ofType(pgHop('ci-maintenance'), EventType.PgResult);
    expect(read).toMatchObject({ rowCount: 5, masked: [
      { column: 'email', rule: 'email', count: 5 }, { column: 'ssn', rule: 'ssn', count: 5 }, { column: 'card', rule: 'card', count: 5 },
    ] });
    for (const row of read!.rows as string[][]) expect(row.slice(2, 5)).toEqual(['[masked:email]', '[masked:ssn]', '[masked:card]']);
    // The local export printed on build-host is masked in the SSH output too.
    expect(ofType(result.rootSession, EventType.SshOutput).some((o) => JSON.stringify(o.masked) === '[{"rule":"ssn","count":2},{"rule":"card","count":2}]')).toBe(true);
    for (const [, email, ssn, card] of CUSTOMERS) {
      for (const secret of [email, ssn, card]) {
        expect(raw).not.toContain(secret);
        expect(result.transcript).not.toContain(secret);
      }
    }
  });

  it('blocks the DROP before it reaches prod-db', () => {
    const id = pgHop('ci-maintenance');
    const drop = sessions.get(id)!.find((e) => e.type === EventType.PgQuery && e.data.sql === 'DROP TABLE customers;')!;
    expect(ofType(id, EventType.PolicyBlock)[0]).toMatchObject({ statement: drop.seq, rule: 'no-drop', action: 'block' });
    expect(result.transcript).toMatch(/ERROR: +hopscope: blocked by rule no-drop: DropStmt/);
    expect(ofType(id, EventType.PgResult).at(-1)!.rows).toEqual([['5']]); // the table is still there, every row of it
  });

  it('holds the unbounded writes: denied and approved by alice at the CLI, one timed out', () => {
    const id = pgHop('ci-maintenance');
    const requested = ofType(id, EventType.ApprovalRequested);
    expect(requested.map((r) => [r.operation, r.rule])).toEqual([
      ['DELETE FROM customers;', 'unbounded-write'], ['DELETE FROM build_cache;', 'unbounded-write'], ["UPDATE customers SET tier = 'free';", 'unbounded-write'],
    ]);
    const decided = ofType(id, EventType.ApprovalDecided);
    expect(decided.map((d) => [d.id, d.decision, d.approver])).toEqual([
      [requested[0]!.id, 'denied', 'alice'], [requested[1]!.id, 'approved', 'alice'], [requested[2]!.id, 'timeout', null],
    ]);
    expect(decided[0]!.reason).toBe('INC-4711: no bulk deletes on customers');
    expect(result.decided.map((d) => d.id)).toEqual([requested[0]!.id, requested[1]!.id]);
    expect(ofType(id, EventType.PgResult).map((r) => r.command)).toContain('DELETE 12');
  });

  it('links the second SSH hop (build-host → deploy-host) to the first, and its psql one level deeper', () => {
    const deploy = sshHopWith(EventType.SshShell);
    expect(start(deploy)).toMatchObject({ target: 'deploy-host', parent: result.rootSession, linkKind: 'hop-token', inferred: false, tokenKind: 'hop' });
    const lines = ofType(deploy, EventType.SshLine);
    expect(lines.find((l) => String(l.line).startsWith('curl'))).toMatchObject({ action: 'block', rule: 'no-pipe-to-shell' });
    expect(lines.filter((l) => l.action === 'block')).toHaveLength(1);
    expect(ofType(deploy, EventType.SshExit)).toEqual([{ channel: 0, status: 0 }]);
    const deeper = pgHop('deploy-check');
    expect(start(deeper)).toMatchObject({ parent: deploy, linkKind: 'hop-token', inferred: false });
    expect(ofType(deeper, EventType.PgResult)[0]).toMatchObject({ rowCount: 2, masked: [{ column: 'email', rule: 'email', count: 2 }, { column: 'ssn', rule: 'ssn', count: 2 }] });
  });

  it('revokes contractor-ci mid-session, cutting the root and its still-running descendants', () => {
    const nightly = pgHop('nightly-report');
    const watcher = sshHopWith(EventType.SshExec);
    expect(start(watcher)).toMatchObject({ target: 'deploy-host', parent: result.rootSession, linkKind: 'hop-token' });
    expect(new Set(result.sessionsCut)).toEqual(new Set([result.rootSession, nightly, watcher]));
    for (const id of result.sessionsCut) {
      // Who revoked and what travel with the cause: the session itself, or cut through the revoked session it descends from.
      expect(ofType(id, EventType.SessionEnd)[0], id).toMatchObject({
        cause: id === result.rootSession ? 'revoked' : 'ancestor-revoked', by: 'admin', revocation: { identity: 'contractor-ci', by: 'admin' },
        ...(id === result.rootSession ? {} : { ancestor: result.rootSession }),
      });
      expect(sessions.get(id)!.at(-1)!.type).toBe(EventType.Seal);
    }
    expect(String(ofType(nightly, EventType.SessionEnd)[0]!.reason)).toContain(`via ancestor session ${result.rootSession}`);
    // Hops that had finished before are not cut.
    expect(ofType(pgHop('ci-maintenance'), EventType.SessionEnd)[0]!.cause).toBe('client-quit');
    const revoked = audit.find((e) => e.type === EventType.Revoked)!.data;
    expect(revoked).toMatchObject({ identity: 'contractor-ci', by: 'admin' });
    expect(new Set(revoked.sessionsCut as string[])).toEqual(new Set(result.sessionsCut));
    expect(result.transcript).toContain('hopscope: the session was revoked (identity contractor-ci)');
    expect(result.refusedAfterRevoke).toMatch(/identity contractor-ci was revoked/);
    expect(audit.some((e) => e.type === EventType.Refused && e.data.reason === 'TOKEN_REVOKED' && e.data.identity === 'contractor-ci')).toBe(true);
  });

  it('leaves every recording intact and sealed: `hopscope verify` with the public key exits 0', async () => {
    const res = await run(process.execPath, ['bin/hopscope', 'verify', result.recordingsDir, '--key', result.publicKeyPath]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`${sessions.size + 1} files: ${sessions.size + 1} intact, 0 problems`);
    expect(sessions.size).toBe(6);
  });
});
