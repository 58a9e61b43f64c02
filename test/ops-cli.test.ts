import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';
import { spawnGatewayProcess, TARGET_PASSWORD_ENV } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { hopscopeCli, smallConfig } from './helpers/cli.js';
import { stopAll } from './helpers/processes.js';

const cli = hopscopeCli;
let dir: string;

const config = smallConfig;

async function check(name: string, text: string) {
  await writeFile(join(dir, name), text);
  return cli('gateway', '--config', join(dir, name), '--check');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hopscope-check-'));
});

describe('hopscope gateway --check', () => {
  it('exits 0 with a one-line summary for a valid configuration, starting nothing', async () => {
    const res = await check('ok.yml', config(`masking:\n  - { name: email, column: "*email*" }\nguardrails:\n  - { name: no-drop, sql: { statements: [DropStmt] }, action: block }\n`));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${join(dir, 'ok.yml')}: ok: 1 targets, 1 identities, 1 masking rules, 1 guardrails; `
      + 'listeners postgres 127.0.0.1:18432, admin 127.0.0.1:18099; 1 secrets from the environment (not read here)\n');
  });

  it('a fleet member: names the gateway, and stops on a control-plane secret file that is missing, with its line', async () => {
    const member = await check('fleet.yml', config('controlPlane: { postgres: { env: CP_URL }, gatewayName: gw-a }\n'));
    expect(member.code, member.stderr).toBe(0);
    expect(member.stdout).toContain('; fleet member gw-a (control plane not contacted here); 2 secrets from the environment');
    const missing = await check('fleet-missing.yml', config('controlPlane: { postgres: { file: ./no-such-file }, gatewayName: gw-a }\n'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`hopscope: ${join(dir, 'fleet-missing.yml')}:9: controlPlane.postgres: secret file not found: ${join(dir, 'no-such-file')}\n`);
  });

  it('names the file, line and rule of a rule that does not compile', async () => {
    const res = await check('rule.yml', config(`guardrails:\n  - { name: fine, sql: { statements: [DropStmt] }, action: block }\n  - { name: typo, sql: { statements: [DropTabel] }, action: block }\n`));
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(new RegExp(`^hopscope: ${join(dir, 'rule.yml')}:11: guardrails\\[1\\] \\(rule typo\\): guardrail typo: unknown statement type DropTabel`));
  });

  it('names the line of a schema problem, of an identity naming an unknown target, and of bad YAML', async () => {
    const schema = await check('schema.yml', config('masking:\n  - { name: email, colum: "*email*" }\n'));
    expect(schema.code).toBe(1);
    expect(schema.stderr).toBe(`hopscope: ${join(dir, 'schema.yml')}:10: masking[0] (rule email): masking rule email: (rule): Unrecognized key: "colum"\n`);
    const fsync = await check('fsync.yml', config().replace('dir: ./keys }', 'dir: ./keys }\nadmin2: yes'));
    expect(fsync.stderr).toBe(`hopscope: ${join(dir, 'fsync.yml')}:3: (top): Unrecognized key: "admin2"\n`);
    const unknown = await check('unknown.yml', config().replace('targets: [db]', 'targets: [db, nowhere]'));
    expect(unknown.stderr).toBe(`hopscope: ${join(dir, 'unknown.yml')}:8: identities[0].targets[1]: identity ci lists unknown target nowhere\n`);
    const yaml = await check('yaml.yml', config('guardrails: [ { name: x\n'));
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(new RegExp(`^hopscope: ${join(dir, 'yaml.yml')}:\\d+: \\(file\\): not valid YAML`));
  });
});

describe('SIGHUP to a running gateway process', () => {
  let db: PgServer;
  beforeAll(async () => {
    db = await startPostgres();
    const setup = new pg.Client(db.app);
    await setup.connect();
    await setup.query('CREATE TABLE marks (label text)');
    await setup.end();
  });
  afterAll(async () => {
    await stopAll();
    await db?.stop();
  });

  it('reloads the policies for the live session, and refuses a bad file with its line while the old rules stay', async () => {
    const raw = {
      recording: { dir: './recordings', fsync: 'batch' },
      keys: { dir: './keys' },
      admin: { listen: `127.0.0.1:${await freePort()}` },
      listeners: { postgres: `127.0.0.1:${await freePort()}` },
      targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
      identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    };
    const gw = await spawnGatewayProcess(raw, { [TARGET_PASSWORD_ENV]: db.appPassword });
    const [host, port] = raw.listeners.postgres.split(':');
    const token = issueToken(loadOrCreateSigner(gw.config.keys.dir), systemClock, { identity: 'agent', ttlSeconds: 600 }).token;
    const session = new pg.Client({ host, port: Number(port), user: 'agent', password: token, database: 'db' });
    await session.connect();
    try {
      await session.query("INSERT INTO marks VALUES ('before')");

      const bad = stringify({ ...raw, guardrails: [{ name: 'typo', sql: { statements: ['InsertStatement'] }, action: 'block' }] });
      await writeFile(gw.configPath, bad);
      process.kill(gw.proc.pid, 'SIGHUP');
      const line = bad.split('\n').findIndex((l) => l.includes('name: typo')) + 1;
      await gw.proc.waitForOutput(new RegExp(`SIGHUP: reload refused, the policies in force stay: ${gw.configPath}:${line}: guardrails\\[0\\] \\(rule typo\\)`));
      await session.query("INSERT INTO marks VALUES ('after-refused-reload')");

      await writeFile(gw.configPath, stringify({ ...raw, guardrails: [{ name: 'no-inserts', sql: { statements: ['InsertStmt'] }, action: 'block' }] }));
      process.kill(gw.proc.pid, 'SIGHUP');
      await gw.proc.waitForOutput(/SIGHUP: policies reloaded from .* \(generation 2\)/);
      await expect(session.query("INSERT INTO marks VALUES ('after-reload')")).rejects.toThrow(/no-inserts/);
      expect((await session.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await session.end();
    }
    const direct = new pg.Client(db.app);
    await direct.connect();
    const labels = (await direct.query<{ label: string }>('SELECT label FROM marks ORDER BY label')).rows.map((r) => r.label);
    await direct.end();
    expect(labels).toEqual(['after-refused-reload', 'before']);
  });
});
