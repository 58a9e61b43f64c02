import { run } from './processes.js';

/** The built CLI (bin/hopscope) run as a user runs it; resolves with its exit code and output. */
export const hopscopeCli = (...args: string[]) => run(process.execPath, ['bin/hopscope', ...args], { timeoutMs: 30_000 });

/**
 * A small valid gateway config as YAML (a PostgreSQL target `db` whose password comes from an unset variable,
 * an identity `ci` that may reach it), with `extra` sections appended: for CLI commands that only read a config.
 */
export const smallConfig = (extra = '') => `recording: { dir: ./rec }
keys: { dir: ./keys }
admin: { listen: 127.0.0.1:18099 }
listeners: { postgres: 127.0.0.1:18432 }
targets:
  - { name: db, type: postgres, host: 127.0.0.1, port: 5432, database: app, user: app, password: { env: NOPE } }
identities:
  - { name: ci, kind: machine, targets: [db] }
${extra}`;
