import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { buildChain } from '../chain/graph.js';
import { answersOf, chainJson, chainText } from '../chain/render.js';
import { exportCase } from '../export/index.js';
import { caseDb, openCase, type CaseFile } from '../store/case.js';
import { fixedSigner, writeScenario } from '../testing/scenario.js';
import { writeRevocationScenario } from '../testing/scenario-v2.js';
import { importPaths } from './paths.js';

let tmp: TempDir;
let c: CaseFile;
beforeEach(() => {
  tmp = new TempDir();
  c = openCase(join(tmp.path, 'case.db'));
});
afterEach(() => {
  c.close();
  tmp.remove();
});

const rows = (sql: string, ...args: unknown[]) => caseDb(c).prepare(sql).all(...args) as Record<string, unknown>[];

describe('typed events reach the case file, the chain and every export', () => {
  it('current version (the gateway encoder): who revoked, why, end causes, the refused reconnect, the approver\'s reason', async () => {
    const sc = writeRevocationScenario(tmp.path);
    const summary = await importPaths(c, sc.files, { trusted: sc.trusted });
    expect(summary).toMatchObject({ imported: 3, failed: 0 });
    expect(rows('SELECT id, end_cause, end_actor FROM sessions ORDER BY id')).toEqual([
      { id: sc.ids.root, end_cause: 'revoked', end_actor: 'alice' },
      { id: sc.ids.pg, end_cause: 'ancestor-revoked', end_actor: 'alice' },
      { id: sc.ids.gateway, end_cause: 'gateway-shutdown', end_actor: null },
    ].sort((a, b) => a.id.localeCompare(b.id)));
    expect(rows('SELECT session, action, rule, actor, message FROM policy_decisions WHERE session = ? ORDER BY seq', sc.ids.gateway)).toEqual([
      { session: sc.ids.gateway, action: 'revoked', rule: null, actor: 'alice', message: 'leaked token' },
      { session: sc.ids.gateway, action: 'refused', rule: 'TOKEN_REVOKED', actor: 'contractor-ci', message: 'the token is revoked: identity contractor-ci was revoked by alice' },
    ]);
    expect(rows("SELECT action, actor, message FROM policy_decisions WHERE action = 'revoked' AND session != ? ORDER BY session", sc.ids.gateway)).toEqual([
      { action: 'revoked', actor: 'alice', message: 'leaked token' },
      { action: 'revoked', actor: 'alice', message: 'leaked token' },
    ]);
    expect(rows('SELECT id, status, approver, reason FROM approvals')).toEqual([{ id: 'apr-9', status: 'approved', approver: 'bob', reason: 'maintenance window' }]);
    expect(rows("SELECT count(*) AS n FROM findings WHERE kind = 'undecodable-event'")).toEqual([{ n: 0 }]);

    const answers = answersOf(buildChain(c));
    expect(answers.ends).toEqual(expect.arrayContaining([
      { session: sc.ids.root, cause: 'revoked', reason: 'revoked: identity contractor-ci', actor: 'alice' },
      { session: sc.ids.pg, cause: 'ancestor-revoked', reason: `revoked: identity contractor-ci, via ancestor session ${sc.ids.root}`, actor: 'alice' },
    ]));
    expect(answers.gateway.map((g) => [g.action, g.rule, g.actor])).toEqual([['revoked', null, 'alice'], ['refused', 'TOKEN_REVOKED', 'contractor-ci']]);
    const json = JSON.parse(chainJson(buildChain(c))) as { answers: { policy: { actor: string | null; action: string }[] } };
    expect(json.answers.policy.filter((p) => p.action === 'revoked').map((p) => p.actor)).toEqual(['alice', 'alice']);
    expect(chainText(buildChain(c))).toContain('ended: revoked by alice: revoked: identity contractor-ci');

    const out = (format: 'csv' | 'jsonl' | 'timesketch' | 'ocsf' | 'html', session?: string) => {
      const path = join(tmp.path, `out.${format}${session ?? ''}`);
      exportCase(c, { format, out: path, session });
      return readFileSync(path, 'utf8');
    };
    const csv = out('csv');
    expect(csv.split('\r\n')[0]).toContain('policy_actor,end_cause');
    expect(csv).toContain('identity contractor-ci revoked by alice: leaked token (2 sessions cut)');
    expect(csv).toMatch(/session ended \(ancestor-revoked by alice\)/);
    const jsonl = out('jsonl').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl.find((r) => r.type === 'revoked')).toMatchObject({ policyActor: 'alice', endCause: 'gateway-shutdown' });
    expect(jsonl.find((r) => r.type === 'session.end' && r.session === sc.ids.root)).toMatchObject({ policyActor: 'alice', endCause: 'revoked' });
    const ts = out('timesketch').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ts.find((r) => r.event_type === 'refused')).toMatchObject({ policy_action: 'refused', policy_actor: 'contractor-ci' });
    const ocsf = out('ocsf').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ocsf.find((e) => e.class_uid === 3001)).toMatchObject({ activity_id: 5, actor: { user: { name: 'alice' } }, user: { name: 'contractor-ci' } });
    // A refused login is a failed Authentication Logon; its detail leads with the refusal's code.
    expect(ocsf.find((e) => e.class_uid === 3002)).toMatchObject({ activity_id: 1, status_id: 2, status_detail: expect.stringMatching(/^TOKEN_REVOKED: the token is revoked/) });
    expect(ocsf.find((e) => (e.unmapped as Record<string, unknown>).hopscope_event_type === 'session.end' && (e.unmapped as Record<string, unknown>).revoked_by))
      .toMatchObject({ unmapped: { revoked_by: 'alice', end_cause: 'revoked' } });
    const html = out('html');
    expect(html).toMatch(/<td>revoked<\/td><td><\/td><td><\/td><td>alice<\/td><td class="text">leaked token<\/td>/);
    expect(html).toContain('<h2>Refusals and revocations at the gateway</h2>');
    expect(html).toMatch(/<td>refused<\/td><td>TOKEN_REVOKED<\/td><td>contractor-ci<\/td>/);
    const castPath = join(tmp.path, 'root.cast');
    exportCase(c, { format: 'asciicast', out: castPath, session: sc.ids.root });
    expect(readFileSync(castPath, 'utf8').trim().split('\n').at(-1)).toMatch(/"m","session ended \(revoked by alice\): revoked: identity contractor-ci"\]$/);
  });

  it('version 1 (the older scenario): still imports, read by version, with nothing guessed from free text', async () => {
    const sc = writeScenario(tmp.path, fixedSigner());
    expect(JSON.parse(readFileSync(sc.files.root, 'utf8').split('\n')[0]!)).toMatchObject({ version: 1 });
    expect(await importPaths(c, [tmp.path], { trusted: sc.trusted })).toMatchObject({ imported: 3, failed: 0, allIntact: true });
    expect(rows('SELECT id, end_cause FROM sessions ORDER BY id').map((r) => r.end_cause)).toEqual(['revoked', 'unrecorded', 'unrecorded']);
    expect(rows('SELECT field, rule, count FROM sensitive_fields WHERE session = ? AND masked = 1', sc.ids.ssh2)).toEqual([{ field: 'stdout', rule: 'api-key', count: 1 }]);
    expect(rows('SELECT id, status, approver FROM approvals ORDER BY id')).toEqual([
      { id: 'apr-1', status: 'denied', approver: 'alice' }, { id: 'apr-2', status: 'approved', approver: 'alice' },
    ]);
    expect(rows("SELECT action, rule FROM policy_decisions WHERE session = ? AND action = 'review'", sc.ids.ssh2)).toEqual([{ action: 'review', rule: 'restarts' }]);
    expect(rows("SELECT count(*) AS n FROM findings WHERE kind = 'undecodable-event'")).toEqual([{ n: 0 }]);
  });

  it('a known event that does not match its schema is a finding; the event is kept as recorded', async () => {
    const sc = writeRevocationScenario(tmp.path);
    // Rewrite one event's data to a wrong shape, chain and signatures aside (the key is in the fixture): integrity is not the point here.
    const [, root] = sc.files;
    const text = readFileSync(root!, 'utf8').replace('"encoding":"utf8","bytes":24', '"encoding":"latin1","bytes":24');
    writeFileSync(root!, text);
    const summary = await importPaths(c, [root!], { trusted: sc.trusted });
    // The import's own summary names it too (what `hopscope import` prints).
    expect(summary.files[0]!.findings.filter((f) => f.kind === 'undecodable-event').map((f) => f.message))
      .toEqual([expect.stringMatching(/^ssh\.output does not match its schema/)]);
    const findings = rows("SELECT kind, seq, message FROM findings WHERE kind = 'undecodable-event'");
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toMatch(/^ssh\.output does not match its schema \(version \d\) at encoding/);
    expect(rows("SELECT data FROM events WHERE session = ? AND type = 'ssh.output'", sc.ids.root)[0]!.data).toContain('"encoding":"latin1"');
  });
});
