import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../common/recording/index.js';
import { startGateway } from '../gateway/index.js';
import { silentLogger } from '../gateway/log.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run, spawnLong, stopAll } from './helpers/processes.js';

let db: PgServer;
let gw: TestGateway;

const policies = {
  identities: [
    { name: 'agent', kind: 'machine', targets: ['db'] },
    { name: 'alice', kind: 'human', targets: ['db'], approver: true },
    { name: 'bob', kind: 'human', targets: ['db'] },
  ],
  masking: [
    { name: 'email', column: '*email*' },
    { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
    { name: 'card', builtin: 'credit-card' },
  ],
  guardrails: [
    { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
    { name: 'no-file-read', sql: { functions: ['pg_read_file', 'lo_export'] }, action: 'block' },
    { name: 'no-copy-program', sql: { statements: ['CopyStmt'], copyProgram: true }, action: 'block' },
    { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' },
  ],
  // Long enough for the CLI round trips on a loaded machine; the timeout path has its own gateway.
  approvals: { timeout: '60s' },
};

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query(`CREATE TABLE people (id int PRIMARY KEY, name text, email text, note text, card text);
    INSERT INTO people SELECT g, 'person ' || g, 'p' || g || '@example.com', 'ssn 123-45-' || lpad(g::text, 4, '0'), '4111 1111 1111 1111'
    FROM generate_series(1, 5) g;
    CREATE TABLE scratch (id int); INSERT INTO scratch SELECT generate_series(1, 7);`);
  await admin.end();
  gw = await startTestGateway(db, policies);
});
afterAll(async () => {
  await stopAll();
  await gw?.stop();
  await db?.stop();
});

const cli = (...args: string[]) => run(process.execPath, ['bin/hopscope', ...args], { timeoutMs: 20_000 });
const psql = (sql: string, identity = 'agent') =>
  run('psql', ['-X', '-A', '-t', '-c', sql], { env: libpqEnv(gw.conn(identity)) });

async function logged(fragment: string): Promise<boolean> {
  return (await db.loggedStatements()).some((s) => s.includes(fragment));
}

describe('guardrails', () => {
  it('blocks a DROP before it reaches the target, naming the rule, and records the block', async () => {
    const res = await psql('DROP TABLE scratch');
    expect(res.stderr).toMatch(/ERROR: +hopscope: blocked by rule no-drop: DropStmt/);
    expect(await logged('DROP TABLE scratch')).toBe(false);
    expect((await psql('SELECT count(*) FROM scratch')).stdout.trim()).toBe('7');
  });

  it('judges multi-statement strings per statement, and functions and COPY TO PROGRAM anywhere in the tree', async () => {
    for (const [sql, rule] of [
      ['SELECT 1; TRUNCATE scratch', 'no-drop'],
      ["SELECT length(x) FROM (SELECT pg_read_file('/etc/hostname') AS x) s", 'no-file-read'],
      ["COPY scratch TO PROGRAM 'cat > /tmp/x'", 'no-copy-program'],
    ] as const) {
      const res = await psql(sql);
      expect(res.stderr, sql).toMatch(new RegExp(`blocked by rule ${rule}`));
      expect(await logged(sql)).toBe(false);
    }
  });

  it('refuses SQL that does not parse, with the parser message (fail closed)', async () => {
    const res = await psql('SELEC * FROM scratch');
    expect(res.stderr).toMatch(/blocked by rule sql-parse: the SQL does not parse: syntax error at or near "SELEC"/);
    expect(await logged('SELEC *')).toBe(false);
  });

  it('judges extended-protocol Parse messages and keeps the session usable', async () => {
    const client = new pg.Client({ ...gw.conn(), application_name: 'extended-block' });
    await client.connect();
    await expect(client.query('DROP TABLE scratch /* $1 */', [])).rejects.toThrow(/blocked by rule no-drop/);
    await expect(client.query({ text: 'TRUNCATE scratch', values: [] , name: 'trunc' })).rejects.toThrow(/no-drop/);
    expect((await client.query('SELECT count(*)::int AS n FROM scratch WHERE id > $1', [0])).rows).toEqual([{ n: 7 }]);
    await client.end();
    const file = await eventually(async () => {
      for (const f of await gw.sessionFiles()) {
        const events = await readEvents(f);
        if ((events[0]?.data.params as Record<string, string>)?.application_name === 'extended-block' && events.at(-1)?.type === EventType.Seal) return events;
      }
      return undefined;
    });
    const blocks = file.filter((e) => e.type === EventType.PolicyBlock);
    expect(blocks.map((b) => b.data.rule)).toEqual(['no-drop', 'no-drop']);
  });
});

describe('masking', () => {
  it('masks by column name, pattern and built-in recognizer before the client and the recording see it', async () => {
    const res = await psql('SELECT id, email, note, card FROM people ORDER BY id LIMIT 2');
    expect(res.stdout.trim().split('\n')).toEqual([
      '1|[masked:email]|ssn [masked:ssn]|[masked:card]',
      '2|[masked:email]|ssn [masked:ssn]|[masked:card]',
    ]);
    const events = (await Promise.all((await gw.sessionFiles()).map(readEvents))).flat();
    const result = events.find((e) => e.type === EventType.PgResult && JSON.stringify(e.data.rows).includes('[masked:email]'))!;
    // Which fields were masked by which rule (DESIGN: "which fields were masked by which rule").
    expect(result.data.masked).toEqual([
      { column: 'email', rule: 'email', count: 2 }, { column: 'note', rule: 'ssn', count: 2 }, { column: 'card', rule: 'card', count: 2 },
    ]);
  });

  it('masks protected columns in COPY TO STDOUT (rewritten before it runs) and masks error texts', async () => {
    const copy = await run('psql', ['-X', '-c', 'COPY (SELECT id, email FROM people ORDER BY id) TO STDOUT'], { env: libpqEnv(gw.conn()) });
    expect(copy.stderr).toBe('');
    expect(copy.stdout.trim().split('\n')[0]).toBe('1\t[masked:email]');
    expect(copy.stdout).not.toContain('@example.com');
    const dup = await psql("CREATE TEMP TABLE u (note text UNIQUE); INSERT INTO u SELECT note FROM people WHERE id = 1; INSERT INTO u SELECT note FROM people WHERE id = 1");
    expect(dup.stderr).toMatch(/duplicate key/);
    // Under column masking the DETAIL (which can quote stored rows) is withheld whole.
    expect(dup.stderr).toMatch(/detail withheld by hopscope/);
    expect(dup.stderr).not.toMatch(/123-45-0001/);
  });

  it('keeps binary-format results well-formed: text-like columns carry the mask, others become NULL', async () => {
    const client = new pg.Client({ ...gw.conn(), application_name: 'binary' });
    await client.connect();
    // `binary` is a node-postgres query option its types do not list.
    const config = { text: 'SELECT id AS email_id, email, note FROM people WHERE id = $1', values: [3], binary: true } as pg.QueryConfig;
    const res = await client.query(config);
    expect(res.rows).toHaveLength(1);
    expect(res.rows[0].email_id).toBeNull(); // an int4 column matched by *email*: no integer can say "masked"
    expect(res.rows[0].email.toString()).toBe('[masked:email]');
    expect(res.rows[0].note.toString()).toBe('ssn [masked:ssn]');
    await client.end();
  });
});

describe('just-in-time approval', () => {
  const approvals = (...args: string[]) => cli('approvals', ...args, '--gateway', gw.gateway.admin.url);

  async function pendingFor(fragment: string) {
    return eventually(async () => {
      const res = await approvals('list', '--json', '--token', gw.token('alice'));
      const list = JSON.parse(res.stdout || '[]') as { id: string; operation: string; identity: string }[];
      return list.find((p) => p.operation.includes(fragment));
    }, 10_000);
  }

  it('holds a DELETE without WHERE until an approver approves it from the CLI; psql then sees DELETE n', async () => {
    const waiting = spawnLong('psql', ['-X', '-c', 'DELETE FROM scratch'], { env: libpqEnv(gw.conn('agent')) });
    const pending = await pendingFor('DELETE FROM scratch');
    expect(pending).toMatchObject({ identity: 'agent' });
    expect(await logged('DELETE FROM scratch')).toBe(false); // held: not forwarded yet

    const listed = await approvals('list', '--token', gw.token('alice'));
    expect(listed.stdout.split('\n')[0]).toMatch(new RegExp(`^${pending.id} `));
    // The operator's admin token sees it too (listing only).
    expect((await approvals('list', '--token', gw.gateway.admin.token)).stdout).toContain(pending.id);
    // Nobody approves their own request, and a non-approver cannot approve at all.
    expect((await approvals('approve', pending.id, '--token', gw.token('bob'))).stderr).toMatch(/bob is not an approver/);
    const approved = await approvals('approve', pending.id, '--token', gw.token('alice'), '--reason', 'cleanup ticket 42');
    expect(approved.code).toBe(0);
    await waiting.exited;
    expect(waiting.output()).toMatch(/held for approval ap-[0-9a-f]+/);
    expect(waiting.output()).toMatch(/DELETE 7/);
    const again = await approvals('approve', pending.id, '--token', gw.token('alice'));
    expect(again.stderr).toMatch(/already decided/);
    expect((await approvals('deny', 'ap-unknown', '--token', gw.token('alice'))).stderr).toMatch(/no pending approval ap-unknown/);
  });

  it('answers a denial and a timeout with an error, forwarding nothing', async () => {
    await psql('INSERT INTO scratch SELECT generate_series(1, 3)');
    const denied = spawnLong('psql', ['-X', '-c', 'UPDATE scratch SET id = id + 100'], { env: libpqEnv(gw.conn('bob')) });
    const pending = await pendingFor('UPDATE scratch');
    await approvals('deny', pending.id, '--token', gw.token('alice'), '--reason', 'not during the incident');
    await denied.exited;
    expect(denied.output()).toMatch(/approval ap-[0-9a-f]+ was denied by alice: not during the incident \(rule unbounded-write\)/);

    const quick = await startTestGateway(db, { ...policies, approvals: { timeout: '1s' } });
    try {
      const timedOut = await run('psql', ['-X', '-c', 'DELETE FROM scratch'], { env: libpqEnv(quick.conn('bob')) });
      expect(timedOut.stderr).toMatch(/approval ap-[0-9a-f]+ timed out/);
    } finally {
      await quick.stop();
    }
    expect(await logged('UPDATE scratch SET id')).toBe(false);
    expect((await psql('SELECT count(*) FROM scratch')).stdout.trim()).toBe('3');
  });

  it('refuses the approval API without a valid approver token', async () => {
    const none = await fetch(`${gw.gateway.admin.url}/approvals`);
    expect(none.status).toBe(403);
    const forged = await approvals('list', '--token', 'hs1.e30.AAAA');
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toMatch(/refused: the token is malformed/);
  });

  it("lists held operations with the operator's admin token, but decides only with an approver's", async () => {
    const listed = await approvals('list', '--json', '--token', gw.gateway.admin.token);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const decided = await approvals('approve', 'ap-any', '--token', gw.gateway.admin.token);
    expect(decided.code).toBe(1);
    expect(decided.stderr).toMatch(/the admin token lists held operations but cannot decide them/);
  });
});

describe('revocation', () => {
  it('cuts a live psql session of the identity within a second, refuses new connections, and survives a restart', async () => {
    const session = spawnLong('psql', ['-X', '-c', 'SELECT pg_sleep(20)'], { env: libpqEnv(gw.conn('bob')) });
    await eventually(async () => {
      const res = await fetch(`${gw.gateway.admin.url}/sessions`, { headers: { authorization: `Bearer ${gw.gateway.admin.token}` } });
      return ((await res.json()) as { identity: string }[]).some((s) => s.identity === 'bob') ? true : undefined;
    });
    // Revoking an identity refuses the tokens it was issued until then (a token issued later works again).
    const oldToken = gw.token('bob');
    const res = await cli('token', 'revoke', '--config', gw.configPath, '--identity', 'bob');
    expect(res.stdout).toMatch(/revoked identity bob; 1 live session\(s\) cut/);
    await session.exited;
    expect(session.output()).toMatch(/the session was revoked \(identity bob\)/);
    const refused = await run('psql', ['-X', '-c', 'SELECT 1'], { env: libpqEnv({ ...gw.conn('bob'), password: oldToken }) });
    expect(refused.stderr).toMatch(/the token is revoked: identity bob was revoked/);
    const persisted = JSON.parse(await readFile(`${gw.keysDir}/revocations.json`, 'utf8')) as { identity?: string }[];
    expect(persisted.some((r) => r.identity === 'bob')).toBe(true);
    // A restarted gateway on the same keys.dir still refuses bob's tokens of before.
    await gw.gateway.stop();
    const restarted = await startGateway(gw.config, { logger: silentLogger });
    try {
      const again = await run('psql', ['-X', '-c', 'SELECT 1'], { env: libpqEnv({ ...gw.conn('bob'), password: oldToken }) });
      expect(again.stderr).toMatch(/identity bob was revoked/);
    } finally {
      await restarted.stop();
    }
  });
});
