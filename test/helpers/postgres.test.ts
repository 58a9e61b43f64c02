import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgAuth, type PgConn, type PgServer } from './postgres.js';
import { libpqEnv, run } from './processes.js';

async function query(conn: PgConn, text: string, values?: unknown[]): Promise<unknown[]> {
  const client = new pg.Client(conn);
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe.each<PgAuth>(['scram-sha-256', 'md5', 'trust'])('startPostgres with %s', (auth) => {
  let server: PgServer;
  afterAll(() => server?.stop());

  it('serves the app role to node-postgres and psql, and logs what they ran', async () => {
    server = await startPostgres({ auth, logStatements: true });
    const tag = auth.replace(/\W/g, '_');

    expect(await query(server.app, `SELECT 'simple_${tag}' AS v`)).toEqual([{ v: `simple_${tag}` }]);
    expect(await query(server.app, 'SELECT $1::text AS v', [`extended_${tag}`])).toEqual([{ v: `extended_${tag}` }]);
    const psql = await run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', `SELECT 'psql_${tag}'`], {
      env: libpqEnv(server.app),
    });
    expect(psql).toMatchObject({ code: 0, stdout: `psql_${tag}\n` });

    const logged = await server.loggedStatements();
    expect(logged).toContain(`SELECT 'simple_${tag}' AS v`);
    expect(logged).toContain('SELECT $1::text AS v');
    expect(logged).toContain(`SELECT 'psql_${tag}'`);
    expect(logged.join('\n')).not.toContain('CREATE ROLE');
  });

  it('stores the password and checks it as the auth method says', async () => {
    const superConn = { ...server.app, user: server.superuser, password: server.superPassword };
    const [row] = (await query(superConn, "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")) as [{ rolpassword: string }];
    expect(row.rolpassword.startsWith(auth === 'md5' ? 'md5' : 'SCRAM-SHA-256$')).toBe(true);

    const wrong = query({ ...server.app, password: 'wrong' }, 'SELECT 1');
    if (auth === 'trust') await expect(wrong).resolves.toHaveLength(1);
    else await expect(wrong).rejects.toThrow(/password authentication failed/);
  });

  it('stops and removes its temporary folder', async () => {
    await server.stop();
    expect(existsSync(server.dataDir)).toBe(false);
    await expect(query(server.app, 'SELECT 1')).rejects.toThrow();
  });
});
