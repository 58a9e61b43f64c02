// The fixture of the SSH authentication suite: real PostgreSQL and OpenSSH behind
// one gateway whose identities (one per case, so one case's revocation does not
// bleed into another) may reach both and have one registered SSH key. Clients are
// the real ones: OpenSSH (password, keyboard-interactive, public key), sshpass,
// psql, Ansible.
import { existsSync } from 'node:fs';
import pg from 'pg';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventType, type RecordingEvent } from '../../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { libpqEnv, run, type RunResult } from '../helpers/processes.js';
import { startSshd, type SshdServer } from '../helpers/sshd.js';

export interface Fixture {
  db: PgServer;
  sshd: SshdServer;
  gw: TestGateway;
  /** Where the markers the target writes go, and the client's key. */
  work: string;
  /** The private key registered for every identity. */
  keyPath: string;
  stop(): Promise<void>;
}

export async function startFixture(identities: string[]): Promise<Fixture> {
  const [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  const work = await mkdtemp(join(tmpdir(), 'hopscope-ssh-auth-'));
  const keyPath = join(work, 'client_ed25519');
  const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ssh-auth-client', '-f', keyPath]);
  if (keygen.code !== 0) throw new Error(keygen.stderr);
  const publicKey = (await readFile(`${keyPath}.pub`, 'utf8')).trim();
  const gw = await startTestGateway(db, {
    identities: identities.map((name) => ({ name, kind: 'machine', targets: ['db', 'host'], publicKeys: [publicKey] })),
  }, { ssh: sshd });
  return {
    db, sshd, gw, work, keyPath,
    stop: async () => {
      await gw.stop();
      await Promise.all([sshd.stop(), db.stop()]);
      await rm(work, { recursive: true, force: true });
    },
  };
}

export type Login = { password: string } | { keyboard: string } | { key: string };

/**
 * OpenSSH's ssh through the gateway with exactly one login method. The token
 * comes from an SSH_ASKPASS script (forced), so no terminal is needed; INFO
 * level so the gateway's refusal banner reaches stderr.
 */
export async function openSsh(f: Fixture, identity: string, command: string, login: Login): Promise<RunResult> {
  const options = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=INFO',
    '-o', 'NumberOfPasswordPrompts=1', '-o', 'BatchMode=no', '-o', 'ConnectTimeout=20'];
  let env: Record<string, string | undefined> = { SSH_AUTH_SOCK: undefined };
  if ('key' in login) {
    options.push('-i', login.key, '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey');
  } else {
    const askpass = join(f.work, `askpass-${Math.random().toString(36).slice(2)}.sh`);
    await writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' '${'password' in login ? login.password : login.keyboard}'\n`, { mode: 0o700 });
    options.push('-o', 'PubkeyAuthentication=no', '-o', `PreferredAuthentications=${'password' in login ? 'password' : 'keyboard-interactive'}`);
    env = { ...env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
  }
  return run('ssh', [...options, '-p', String(f.gw.gateway.ssh!.port), `${identity}:host@127.0.0.1`, command], { env, timeoutMs: 40_000 });
}

/** psql through the gateway as `identity` with `password`, running `sql`. */
export function psql(f: Fixture, identity: string, password: string, sql: string): Promise<RunResult> {
  const conn = { ...f.gw.conn(identity), password };
  return run('psql', ['-X', '-A', '-t', '-c', sql], { env: libpqEnv(conn), timeoutMs: 30_000 });
}

/** Whether a table is absent from the target database, asked directly (not through the gateway). */
export async function tableAbsent(f: Fixture, table: string): Promise<boolean> {
  const client = new pg.Client(f.db.app);
  await client.connect();
  try {
    return (await client.query<{ absent: boolean }>('SELECT to_regclass($1) IS NULL AS absent', [table])).rows[0]!.absent;
  } finally {
    await client.end();
  }
}

/** A file the target creates when a command really ran there. */
export function marker(f: Fixture, name: string): { path: string; touch: string; exists: () => boolean } {
  const path = join(f.work, `marker-${name}`);
  return { path, touch: `touch ${path}`, exists: () => existsSync(path) };
}

/** The gateway's own recording (the audit), read once it holds what `match` looks for. */
export async function auditEvent(f: Fixture, match: (e: RecordingEvent) => boolean): Promise<RecordingEvent> {
  return eventually(async () => {
    try {
      return (await readEvents(f.gw.gateway.auditPath)).find(match);
    } catch {
      return undefined; // a line being written
    }
  });
}

/** The refusal of a revoked login of `identity` recorded after `afterSeq` (the audit's seq before the attempt). */
export function revokedRefusal(f: Fixture, identity: string, afterSeq: number, protocol: 'ssh' | 'postgres' = 'ssh'): Promise<RecordingEvent> {
  return auditEvent(f, (e) => e.seq > afterSeq && e.type === EventType.Refused && e.data.identity === identity
    && e.data.reason === 'TOKEN_REVOKED' && e.data.protocol === protocol);
}

export async function auditSeq(f: Fixture): Promise<number> {
  try {
    return (await readEvents(f.gw.gateway.auditPath)).at(-1)?.seq ?? 0;
  } catch {
    return 0;
  }
}

/** Every session recording of an identity, with its events. */
export async function sessionsOf(f: Fixture, identity: string): Promise<RecordingEvent[][]> {
  const out: RecordingEvent[][] = [];
  for (const file of await f.gw.sessionFiles()) {
    const events = await readEvents(file);
    if (events[0]?.data.identity === identity) out.push(events);
  }
  return out;
}

export async function adminCall(f: Fixture, method: string, path: string, body?: unknown, token = f.gw.gateway.admin.token): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${f.gw.gateway.admin.url}${path}`, {
    method, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * Waits until the wall clock is in a later second than `since` (ms): tokens carry
 * whole seconds, and the flaw this suite guards against let in a token issued
 * in a later second than the revocation.
 */
export async function nextSecond(since: number): Promise<void> {
  const wait = 1000 - (since % 1000) + 20;
  await new Promise((r) => setTimeout(r, wait));
}

/** The bin/hopscope CLI (needs a build: dist/). */
export function cli(...args: string[]): Promise<RunResult> {
  return run(process.execPath, ['bin/hopscope', ...args], { timeoutMs: 30_000 });
}
