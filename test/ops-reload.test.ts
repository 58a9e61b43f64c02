import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { systemClock } from '../common/clock.js';
import { EventType } from '../common/recording/index.js';
import { issueToken } from '../common/tokens/index.js';
import { loadConfig, startGateway, type RunningGateway } from '../gateway/index.js';
import { silentLogger } from '../gateway/log.js';
import { eventually, readEvents, TARGET_PASSWORD_ENV } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';

let db: PgServer;
let gw: RunningGateway;
let configPath: string;
let base: Record<string, unknown>;
const clients: pg.Client[] = [];

const NO_INSERTS = { name: 'no-inserts', sql: { statements: ['InsertStmt'] }, action: 'block' };

/** Writes the gateway's config file: the base plus `policies`; returns the file's text. */
async function writeConfig(policies: Record<string, unknown>): Promise<string> {
  const text = stringify({ ...base, ...policies });
  await writeFile(configPath, text);
  return text;
}

async function connect(identity = 'agent'): Promise<pg.Client> {
  const c = new pg.Client({
    host: gw.postgres!.host, port: gw.postgres!.port, user: identity, database: 'db',
    password: issueToken(gw.signer, systemClock, { identity, ttlSeconds: 600 }).token,
  });
  c.on('error', () => {}); // a refused session's end is asserted on its queries
  await c.connect();
  clients.push(c);
  return c;
}

/** What the target holds, read directly (not through the gateway): the marker of what it ran. */
async function marks(): Promise<string[]> {
  const direct = new pg.Client(db.app);
  await direct.connect();
  try {
    return (await direct.query<{ label: string }>('SELECT label FROM marks ORDER BY label')).rows.map((r) => r.label);
  } finally {
    await direct.end();
  }
}

async function metrics(): Promise<string> {
  return (await fetch(`${gw.admin.url}/metrics`, { headers: { authorization: `Bearer ${gw.admin.token}` } })).text();
}

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  process.env[TARGET_PASSWORD_ENV] = db.appPassword;
  const setup = new pg.Client(db.app);
  await setup.connect();
  await setup.query(`CREATE TABLE marks (label text);
    CREATE TABLE people (id int, email text); INSERT INTO people VALUES (1, 'ada@example.com');`);
  await setup.end();
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-reload-'));
  configPath = join(dir, 'gateway.yml');
  base = {
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: `127.0.0.1:${await freePort()}` },
    targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
    identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
  };
  await writeConfig({});
  gw = await startGateway(loadConfig(configPath), { logger: silentLogger });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await gw?.stop();
  await db?.stop();
});

describe('policy reload (SIGHUP)', () => {
  it('a live session is judged by the new guardrails at its next statement; a bad file is refused with file, line and rule and changes nothing', async () => {
    const session = await connect();
    await session.query("INSERT INTO marks VALUES ('1-before')");

    await writeConfig({ guardrails: [NO_INSERTS] });
    expect(await gw.reload()).toMatchObject({ applied: true, generation: 2 });
    await expect(session.query("INSERT INTO marks VALUES ('2-after-tightening')")).rejects.toThrow(/no-inserts/);
    expect((await session.query('SELECT count(*)::int AS n FROM marks')).rows[0].n).toBe(1); // the session lives on

    // A rule that does not compile: refused, located, recorded; the rule in force still blocks.
    const text = await writeConfig({ guardrails: [{ name: 'typo', sql: { statements: ['DropTabel'] }, action: 'block' }] });
    const line = text.split('\n').findIndex((l) => l.includes('name: typo')) + 1;
    const bad = await gw.reload();
    expect(bad.applied).toBe(false);
    if (bad.applied) return;
    expect(bad.problem).toMatchObject({ file: configPath, line, where: 'guardrails[0] (rule typo)' });
    expect(bad.problem.problem).toMatch(/unknown statement type DropTabel/);
    await expect(session.query("INSERT INTO marks VALUES ('3-after-bad-reload')")).rejects.toThrow(/no-inserts/);

    // A section only a restart applies: refused too, named.
    await writeConfig({ guardrails: [NO_INSERTS], listeners: { postgres: `127.0.0.1:${await freePort()}` } });
    expect(await gw.reload()).toMatchObject({ applied: false, problem: { where: 'listeners' } });

    await writeConfig({});
    expect(await gw.reload()).toMatchObject({ applied: true, generation: 3 });
    await session.query("INSERT INTO marks VALUES ('4-after-loosening')");

    expect(await marks()).toEqual(['1-before', '4-after-loosening']);
    const audit = await readEvents(gw.auditPath);
    // Each applied reload is recorded too, with the file and the generation it put in force.
    expect(audit.filter((e) => e.type === EventType.GatewayReload).map((e) => [e.data.file, e.data.generation])).toEqual([[configPath, 2], [configPath, 3]]);
    const refused = audit.filter((e) => e.type === EventType.Refused && e.data.reason === 'CONFIG_INVALID');
    expect(refused.map((e) => e.data.detail)).toEqual([
      expect.stringContaining(`${configPath}:${line}: guardrails[0] (rule typo): guardrail typo: unknown statement type DropTabel`),
      expect.stringMatching(/: listeners: section listeners changed: a restart applies it/),
    ]);
    const text2 = await metrics();
    expect(text2).toMatch(/^hopscope_policy_reloads_total\{result="applied"\} 2$/m);
    expect(text2).toMatch(/^hopscope_policy_reloads_total\{result="refused"\} 2$/m);
    expect(text2).toMatch(/^hopscope_policy_generation 3$/m);
    expect(text2).toMatch(/^hopscope_policy_step_seconds_count\{protocol="postgres",step="sql"\} [1-9]/m);
  });

  it('fails closed for a live session that started without the masking now in force, and for an identity that lost its target', async () => {
    const before = await connect();
    await before.query("SELECT 'started-unmasked'");
    await writeConfig({ masking: [{ name: 'email', column: '*email*' }] });
    expect((await gw.reload()).applied).toBe(true);
    await expect(before.query("SELECT email, 'marker-unmasked-session' FROM people")).rejects.toThrow(/policy-reload|masking now applies/);
    expect((await db.loggedStatements()).some((s) => s.includes('marker-unmasked-session'))).toBe(false);

    const after = await connect();
    expect((await after.query('SELECT email FROM people')).rows[0].email).not.toContain('ada@example.com');

    await writeConfig({ masking: [{ name: 'email', column: '*email*' }], identities: [{ name: 'agent', kind: 'machine', targets: [] }] });
    expect((await gw.reload()).applied).toBe(true);
    await expect(after.query("SELECT 'marker-lost-reach'")).rejects.toThrow(/may no longer reach target db/);
    await expect(connect()).rejects.toThrow(/may not reach target db/);
    expect((await db.loggedStatements()).some((s) => s.includes('marker-lost-reach'))).toBe(false);
  });

  it('a statement prepared before a tightening reload does not run after it, whichever way it is prepared and run', async () => {
    const NO_DROP = { name: 'no-drop', sql: { statements: ['DropStmt'] }, action: 'block' };
    await writeConfig({ guardrails: [NO_DROP] });
    expect((await gw.reload()).applied).toBe(true);
    const session = await connect();
    // Prepared and run while inserts are allowed: a named extended-protocol statement (node-postgres sends
    // Parse once, then only Bind/Execute) and a SQL PREPARE.
    const named = (label: string) => session.query({ name: 'ins', text: 'INSERT INTO marks VALUES ($1)', values: [label] });
    await named('p1-named-before');
    await session.query('PREPARE ins_sql(text) AS INSERT INTO marks VALUES ($1)');
    await session.query("EXECUTE ins_sql('p2-sql-before')");

    await writeConfig({ guardrails: [NO_DROP, NO_INSERTS] });
    expect((await gw.reload()).applied).toBe(true);
    // The Bind of the statement the server holds is judged again, and refused: it must be prepared again.
    await expect(named('p3-named-after')).rejects.toThrow(/policy-reload: statement "ins" was prepared before the policies were reloaded.*no-inserts.*prepare it again/);
    // SQL EXECUTE of a name prepared before: the session's memory of it carried over the reload, judged by the new rule.
    await expect(session.query("EXECUTE ins_sql('p4-sql-after')")).rejects.toThrow(/no-inserts/);
    // The session lives on, and what it prepares now is judged by the rules in force.
    await expect(session.query({ name: 'ins2', text: 'INSERT INTO marks VALUES ($1)', values: ['p5-new-after'] })).rejects.toThrow(/no-inserts/);
    expect((await session.query('SELECT 1 AS one')).rows[0].one).toBe(1);

    // Loosened again: what the server still holds runs, judged again under the rules in force.
    await writeConfig({ guardrails: [NO_DROP] });
    expect((await gw.reload()).applied).toBe(true);
    await named('p6-named-loosened');
    await session.query("EXECUTE ins_sql('p7-sql-loosened')");

    // A session that started with no SQL rule kept no memory of what it prepared: after rules arrive, EXECUTE of
    // that name is SQL the gateway cannot see, and gets the dynamic default (here block).
    await writeConfig({});
    expect((await gw.reload()).applied).toBe(true);
    const bare = await connect();
    await bare.query('PREPARE ins_bare(text) AS INSERT INTO marks VALUES ($1)');
    await writeConfig({ guardrails: [NO_INSERTS], sql: { dynamic: 'block' } });
    expect((await gw.reload()).applied).toBe(true);
    await expect(bare.query("EXECUTE ins_bare('p8-bare-after')")).rejects.toThrow(/sql-dynamic/);

    expect((await marks()).filter((m) => m.startsWith('p'))).toEqual(['p1-named-before', 'p2-sql-before', 'p6-named-loosened', 'p7-sql-loosened']);
    expect((await db.loggedStatements()).some((s) => /p3-named-after|p4-sql-after|p5-new-after|p8-bare-after/.test(s))).toBe(false);
  });

  it('a session open across a reload counts the values masked at the source by a pattern rule that reload added', async () => {
    const direct = new pg.Client(db.app);
    await direct.connect();
    await direct.query("CREATE TABLE patients (id int, note text); INSERT INTO patients VALUES (1, 'ssn 123-45-6789')");
    await direct.end();
    // The session starts with text patterns in force (a card rule), so it can take more of them at the reload.
    const card = { name: 'card', builtin: 'credit-card' };
    await writeConfig({ masking: [{ name: 'email', column: '*email*' }, card] });
    expect((await gw.reload()).applied).toBe(true);
    const live = await connect();
    await live.query("SELECT 'counted-session'");
    await writeConfig({ masking: [{ name: 'email', column: '*email*' }, card, { name: 'ssn', pattern: '\\d{3}-\\d{2}-\\d{4}', columns: ['patients.note'] }] });
    expect((await gw.reload()).applied).toBe(true);
    const { rows } = await live.query("SELECT note, 'marker-counted' AS m FROM patients");
    expect(rows[0].note).not.toContain('123-45-6789');
    const dir = join(configPath, '..', 'recordings');
    const { readdirSync } = await import('node:fs');
    // Results are written within a few milliseconds of the answer (not before it): waited for.
    const result = await eventually(async () => {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl') && !n.startsWith('gateway-'))) {
        const events = await readEvents(join(dir, f));
        const query = events.find((e) => e.type === EventType.PgQuery && String(e.data.sql).includes('marker-counted'));
        if (query) return events.find((e) => e.type === EventType.PgResult && e.seq > query.seq)?.data;
      }
      return undefined;
    });
    expect(result).toMatchObject({ masked: expect.arrayContaining([expect.objectContaining({ rule: 'ssn', count: 1 })]) });
  });
});
