import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, isAddressInUse, waitForPort } from './ports.js';
import type { PgConn } from './postgres.js';
import { run, spawnLong, type LongRunning } from './processes.js';

export interface PgbouncerOptions {
  upstream: PgConn;
  poolMode: 'session' | 'transaction';
}

export interface Pgbouncer extends PgConn {
  /** pgbouncer's log so far. */
  output(): string;
  stop(): Promise<void>;
}

const PGBOUNCER = '/usr/sbin/pgbouncer'; // Debian's package; runuser's PATH may lack /usr/sbin

/**
 * Starts Debian's pgbouncer in front of `upstream`. Clients log in with the
 * upstream's user, password and database name (md5 against a plain-text
 * userlist); pgbouncer logs in to the upstream with the same credentials.
 * pgbouncer refuses to run as root, so as root it runs as the postgres user.
 */
export async function startPgbouncer(opts: PgbouncerOptions): Promise<Pgbouncer> {
  const { upstream } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-pgbouncer-'));
  try {
    const owner = process.getuid?.() === 0 ? await postgresIds() : undefined;
    const userlist = join(dir, 'userlist.txt');
    await writeFile(userlist, `${quote(upstream.user)} ${quote(upstream.password)}\n`, { mode: 0o600 });
    const ini = join(dir, 'pgbouncer.ini');
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await writeFile(ini, config(opts, port, userlist), { mode: 0o600 });
      if (owner) for (const f of [dir, userlist, ini]) await chown(f, owner.uid, owner.gid);
      const proc = owner ? spawnLong('runuser', ['-u', 'postgres', '--', PGBOUNCER, ini]) : spawnLong(PGBOUNCER, [ini]);
      try {
        await Promise.race([waitForPort('127.0.0.1', port, 15_000), proc.exited.then(() => Promise.reject(new Error('pgbouncer exited')))]);
      } catch (err) {
        await proc.stop();
        // Another process took the port between freePort() and pgbouncer's bind.
        if (attempt < 3 && isAddressInUse(proc.output())) continue;
        throw new Error(`pgbouncer failed to start (${(err as Error).message}):\n${proc.output()}`);
      }
      return handle(proc, { host: '127.0.0.1', port, user: upstream.user, password: upstream.password, database: upstream.database }, dir);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function handle(proc: LongRunning, conn: PgConn, dir: string): Pgbouncer {
  let stopping: Promise<void> | undefined;
  return {
    ...conn,
    output: () => proc.output(),
    stop() {
      stopping ??= proc.stop().then(() => rm(dir, { recursive: true, force: true }));
      return stopping;
    },
  };
}

function config({ upstream, poolMode }: PgbouncerOptions, port: number, userlist: string): string {
  const target = `host=${upstream.host} port=${upstream.port} dbname=${upstream.database} user=${upstream.user} password=${upstream.password}`;
  return [
    '[databases]',
    `${upstream.database} = ${target}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = md5',
    `auth_file = ${userlist}`,
    `pool_mode = ${poolMode}`,
    // Benchmarks and tests open 16+ clients; session pooling needs one server connection each.
    'max_client_conn = 500',
    'default_pool_size = 50',
    '',
  ].join('\n');
}

/** pgbouncer's userlist syntax: double-quoted, with inner quotes doubled. */
function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  if (uid.code !== 0 || gid.code !== 0) throw new Error('pgbouncer cannot run as root and there is no postgres user');
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}
