// A second fixture for pg_dump: Debian's pg_dump is version 15 and refuses a
// PostgreSQL 18 server, so this starts Debian's PostgreSQL 15 (initdb and postgres
// from /usr/lib/postgresql/15/bin, run as the postgres user: they refuse root),
// with its data folder under /tmp owned by postgres, seeded with the same example
// database, and gateways in front of it like the PostgreSQL 18 fixture's.
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../helpers/ports.js';
import type { PgServer } from '../../helpers/postgres.js';
import { run, spawnLong } from '../../helpers/processes.js';
import { SEED_SQL } from './seed.js';
import { gatewaysOf, type AdversarialPg } from './support.js';

const BIN = '/usr/lib/postgresql/15/bin';

async function postgresUid(): Promise<{ uid: number; gid: number }> {
  const id = await run('id', ['postgres']);
  const uid = Number(/uid=(\d+)/.exec(id.stdout)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(id.stdout)?.[1]);
  if (!(uid > 0)) throw new Error(`no postgres user: ${id.stderr}`);
  return { uid, gid };
}

/**
 * PostgreSQL 15 with the example database, its app role's password set to
 * `appPassword` (the test gateway reads every target's password from one
 * environment variable, so both fixtures of a file share it).
 */
export async function startAdversarialPg15(appPassword: string): Promise<AdversarialPg> {
  const { uid, gid } = await postgresUid();
  const root = await mkdtemp('/tmp/hopscope-pg15-');
  await chown(root, uid, gid);
  await chmod(root, 0o700);
  const data = join(root, 'data');
  const superPassword = randomBytes(12).toString('hex');
  await writeFile(join(root, 'pw'), superPassword);
  await chown(join(root, 'pw'), uid, gid);
  const init = await run('runuser', ['-u', 'postgres', '--', `${BIN}/initdb`, '-D', data, '-U', 'postgres', '--pwfile', join(root, 'pw'), '--auth', 'scram-sha-256', '--no-sync'], { timeoutMs: 120_000 });
  if (init.code !== 0) throw new Error(`initdb 15 failed: ${init.stderr}`);
  await writeFile(join(data, 'pg_hba.conf'), 'host all all 127.0.0.1/32 scram-sha-256\n');
  const port = await freePort();
  const server = spawnLong('runuser', ['-u', 'postgres', '--', `${BIN}/postgres`, '-D', data, '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`,
    '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'log_statement=all']);
  await server.waitForOutput(/ready to accept connections/, 60_000);
  const superConn = { host: '127.0.0.1', port, user: 'postgres', password: superPassword, database: 'postgres' };
  const s = new pg.Client(superConn);
  await s.connect();
  await s.query("SET password_encryption = 'scram-sha-256'");
  await s.query(`CREATE ROLE app LOGIN PASSWORD ${s.escapeLiteral(appPassword)}`);
  await s.query('CREATE DATABASE app OWNER app');
  await s.end();
  const app = { host: '127.0.0.1', port, user: 'app', password: appPassword, database: 'app' };
  const direct = async () => {
    const c = new pg.Client(app);
    await c.connect();
    return c;
  };
  const seed = await direct();
  await seed.query(SEED_SQL);
  await seed.end();
  const db = {
    host: '127.0.0.1', port, superuser: 'postgres', superPassword, dataDir: data, logFile: '', appUser: 'app', appPassword, appDatabase: 'app', app,
    stop: async () => undefined,
    loggedStatements: async () => [...server.output().matchAll(/LOG: {2}(?:statement|execute [^:]*): (.*)/g)].map((m) => m[1]!),
  } satisfies PgServer;
  const gateways = gatewaysOf(db);
  return {
    db,
    direct,
    gateway: gateways.gateway,
    async stop() {
      await gateways.stop();
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
