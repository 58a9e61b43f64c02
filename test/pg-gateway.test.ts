import { connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigner, trustedKeysOf } from '../common/keys.js';
import { systemClock, fixedClock } from '../common/clock.js';
import { EventType, verifyRecordingFile } from '../common/recording/index.js';
import { issueToken } from '../common/tokens/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run, runPgbench, pgbenchInit } from './helpers/processes.js';

let db: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  db = await startPostgres({ auth: 'scram-sha-256', logStatements: true });
  gw = await startTestGateway(db);
});

afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

const psql = (conn: ReturnType<TestGateway['conn']>, sql: string, extra: string[] = []) =>
  run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', ...extra, '-c', sql], { env: libpqEnv(conn) });

/** The recording of the session whose start event names this client application. */
async function recordingOf(app: string) {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const events = await readEvents(file);
      const start = events.find((e) => e.type === EventType.SessionStart);
      if ((start?.data.params as Record<string, string> | undefined)?.application_name === app && events.at(-1)?.type === EventType.Seal) {
        return { file, events };
      }
    }
    return undefined;
  });
}

describe('PostgreSQL through the gateway', () => {
  it('runs psql -c, records statement and result, and seals an intact recording', async () => {
    const res = await psql(gw.conn(), "SELECT 40 + 2 AS answer, 'hello' AS greeting", ['-v', 'x=1']);
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('42|hello');

    const { file, events } = await recordingOf('psql');
    const start = events.find((e) => e.type === EventType.SessionStart)!;
    expect(start.data).toMatchObject({ identity: 'agent', target: 'db', protocol: 'postgres', tls: false });
    const query = events.find((e) => e.type === EventType.PgQuery)!;
    expect(query.data.sql).toBe("SELECT 40 + 2 AS answer, 'hello' AS greeting");
    const result = events.find((e) => e.type === EventType.PgResult && e.data.statement === query.seq)!;
    expect(result.data).toMatchObject({ command: 'SELECT 1', rowCount: 1, rows: [['42', 'hello']] });
    expect((result.data.columns as { name: string }[]).map((c) => c.name)).toEqual(['answer', 'greeting']);
    expect(result.data.durationMicros).toBeGreaterThanOrEqual(0);

    const report = await verifyRecordingFile(file, trustedKeysOf([gw.gateway.signer.publicKey]));
    expect(report.status).toBe('intact');
    expect(report.sealed).toBe(true);
  });

  it('serves interactive psql on a terminal (script gives it a pty)', async () => {
    const conn = gw.conn();
    const input = 'SELECT 6 * 7 AS answer;\n\\q\n';
    const res = await run('sh', ['-c', `(sleep 1; printf '${input.replace(/\\/g, '\\\\')}') | script -qfec "psql -X" /dev/null`],
      { env: { ...libpqEnv(conn), PGAPPNAME: 'psql-interactive' } });
    expect(res.stdout).toMatch(/answer\s*\r?\n-+\r?\n\s*42/);
    const { events } = await recordingOf('psql-interactive');
    expect(events.some((e) => e.type === EventType.PgQuery && e.data.sql === 'SELECT 6 * 7 AS answer;')).toBe(true);
  });

  it('records the statement before PostgreSQL sees it (write before forward)', async () => {
    const marker = `wbf_${Date.now()}`;
    await psql(gw.conn(), `SELECT '${marker}'`, []);
    const logged = await db.loggedStatements();
    expect(logged.some((s) => s.includes(marker))).toBe(true);
    const files = await gw.sessionFiles();
    const texts = await Promise.all(files.map(async (f) => (await readEvents(f)).map((e) => JSON.stringify(e.data)).join('\n')));
    expect(texts.some((t) => t.includes(marker))).toBe(true);
  });

  it('serves node-postgres with the extended protocol, recording parameters', async () => {
    const conn = gw.conn();
    const client = new pg.Client({ ...conn, application_name: 'node-extended' });
    await client.connect();
    const res = await client.query('SELECT $1::int * 2 AS doubled, $2::text AS label', [21, 'param-text']);
    expect(res.rows).toEqual([{ doubled: 42, label: 'param-text' }]);
    const prepared = await client.query({ name: 'by-name', text: 'SELECT $1::text AS v', values: ['again'] });
    expect(prepared.rows[0].v).toBe('again');
    await client.query({ name: 'by-name', text: 'SELECT $1::text AS v', values: ['reused'] });
    await client.end();

    const { events } = await recordingOf('node-extended');
    const executes = events.filter((e) => e.type === EventType.PgExecute);
    expect(executes.map((e) => e.data.params)).toEqual([['21', 'param-text'], ['again'], ['reused']]);
    expect(executes[2]!.data).toMatchObject({ sql: 'SELECT $1::text AS v', statement: 'by-name' });
    const results = events.filter((e) => e.type === EventType.PgResult);
    expect(results.map((r) => r.data.rows)).toEqual([[['42', 'param-text']], [['again']], [['reused']]]);
  });

  it('keeps an error in the recording and the session usable', async () => {
    const client = new pg.Client({ ...gw.conn(), application_name: 'node-error' });
    await client.connect();
    await expect(client.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();
    const { events } = await recordingOf('node-error');
    const error = events.find((e) => e.type === EventType.PgError)!;
    expect(error.data).toMatchObject({ code: '42P01', severity: 'ERROR' });
  });

  it('relays COPY in both directions', async () => {
    const env = libpqEnv(gw.conn());
    const copyIn = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE TEMP TABLE t(a int, b text)', '-c', "\\copy t FROM STDIN", '-c', 'SELECT count(*) FROM t'],
      { env, input: '1\tone\n2\ttwo\n' });
    expect(copyIn.stderr).toBe('');
    expect(copyIn.stdout).toMatch(/COPY 2[\s\S]*\b2\b/);
    const copyOut = await run('psql', ['-X', '-c', 'COPY (SELECT g FROM generate_series(1,3) g) TO STDOUT'], { env });
    expect(copyOut.stdout).toBe('1\n2\n3\n');
  });

  it('runs pgbench in simple and extended mode', async () => {
    const admin = gw.conn();
    await pgbenchInit(admin, 1);
    for (const protocol of ['simple', 'extended'] as const) {
      const r = await runPgbench(gw.conn(), { clients: 2, seconds: 2, selectOnly: false, protocol });
      expect(r.failed).toBe(0);
      expect(r.transactions).toBeGreaterThan(10);
    }
  });

  it('passes a cancel request to the right upstream backend', async () => {
    const client = new pg.Client({ ...gw.conn(), application_name: 'node-cancel' });
    await client.connect();
    const slow = client.query('SELECT pg_sleep(30)');
    await new Promise((r) => setTimeout(r, 500));
    // psql sends a CancelRequest when interrupted; here we do what libpq does, with the key the gateway gave.
    const key = (client as unknown as { processID: number; secretKey: number });
    await new Promise<void>((resolve, reject) => {
      const s = connect(gw.gateway.postgres!.port, gw.gateway.postgres!.host, () => {
        const buf = Buffer.alloc(16);
        buf.writeInt32BE(16, 0); buf.writeInt32BE(80877102, 4); buf.writeInt32BE(key.processID, 8); buf.writeInt32BE(key.secretKey, 12);
        s.end(buf);
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    await expect(slow).rejects.toMatchObject({ code: '57014' });
    await client.end();
    const { events } = await recordingOf('node-cancel');
    expect(events.some((e) => e.type === EventType.PgCancel)).toBe(true);
  });
});

describe('refusals', () => {
  async function refused(conn: ReturnType<TestGateway['conn']>) {
    const before = (await db.loggedStatements()).length;
    const res = await psql(conn, 'SELECT 1');
    expect(res.code).not.toBe(0);
    // Nothing reached the target: PostgreSQL logged no new statement.
    expect((await db.loggedStatements()).length).toBe(before);
    return res.stderr;
  }

  it('refuses forged, expired, wrong-identity and malformed tokens with 28P01', async () => {
    const forged = issueToken({ ...generateSigner(), keyId: gw.gateway.signer.keyId }, systemClock, { identity: 'agent', ttlSeconds: 60 }).token;
    const expired = issueToken(gw.gateway.signer, fixedClock(Date.now() * 1000 - 3_600_000_000), { identity: 'agent', ttlSeconds: 60 }).token;
    const otherIdentity = gw.token('outsider');
    const cases: [string, RegExp][] = [
      [forged, /signature is invalid/],
      [expired, /expired/],
      [otherIdentity, /not issued to agent/],
      ['hs1.bm90LWpzb24.c2ln', /malformed/],
      ['password', /malformed/],
    ];
    for (const [token, message] of cases) {
      const stderr = await refused({ ...gw.conn(), password: token });
      expect(stderr).toMatch(message);
      expect(stderr).not.toContain(token.slice(4, 30)); // the token is never echoed
    }
  });

  it('refuses an identity without the target, an unknown identity and an unknown target with 28000', async () => {
    expect(await refused(gw.conn('outsider', 'db'))).toMatch(/may not reach target db/);
    expect(await refused({ ...gw.conn(), user: 'nobody', password: gw.token('agent') })).toMatch(/not issued to nobody/);
    expect(await refused(gw.conn('agent', 'elsewhere'))).toMatch(/unknown PostgreSQL target elsewhere/);
  });

  it('records every refusal with its reason in the gateway audit recording', async () => {
    const events = await eventually(async () => {
      const all = await readEvents(gw.gateway.auditPath);
      const reasons = new Set(all.filter((e) => e.type === EventType.Refused).map((e) => e.data.reason));
      return ['TOKEN_BAD_SIGNATURE', 'TOKEN_EXPIRED', 'TOKEN_WRONG_IDENTITY', 'TOKEN_MALFORMED', 'TARGET_NOT_ALLOWED', 'TARGET_UNKNOWN']
        .every((r) => reasons.has(r)) ? all : undefined;
    });
    const refusal = events.find((e) => e.type === EventType.Refused && e.data.reason === 'TARGET_NOT_ALLOWED')!;
    expect(refusal.data).toMatchObject({ protocol: 'postgres', identity: 'outsider', target: 'db' });
    expect(JSON.stringify(events)).not.toContain(gw.token('agent').split('.')[2]!.slice(0, 20));
  });
});
