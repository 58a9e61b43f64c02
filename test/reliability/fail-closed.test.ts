// Fail closed: the recording folder on a tiny tmpfs filled mid-session, for a
// PostgreSQL and an SSH session at once; and the folder taken away (replaced by a
// file) for new sessions. Nothing reaches a target unrecorded; clients get a clear error.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { run } from '../helpers/processes.js';
import { ssh2Client, ssh2Exec, sshClientOf, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, within } from './support.js';

const counts = new Counts('fail-closed', 'Fail closed: recording folder full or gone');
let db: PgServer;
let sshd: SshdServer;
let ranLog: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres({ logStatements: true }), startSshd()]);
  ranLog = join(sshd.dir, 'ran.log');
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  await Promise.all([db?.stop(), sshd?.stop()]);
});

async function gatewayOn(recordings: string): Promise<TestGateway> {
  const keys = await mkdtemp(join(tmpdir(), 'hopscope-rel-keys-'));
  const gw = await startTestGateway(db, { recording: { dir: recordings, fsync: 'always' }, keys: { dir: keys } }, { ssh: sshd });
  cleanups.push(() => rm(keys, { recursive: true, force: true }), () => gw.stop());
  return gw;
}

/** A command that, if it ever runs on the target, leaves its marker in ran.log; the padding makes its recording need fresh pages. */
const markedCommand = (marker: string) => `printf '%s\\n' ${marker} >> ${ranLog} # ${'p'.repeat(20_000)}`;
const ran = async () => (await readFile(ranLog, 'utf8').catch(() => '')).split('\n');

/** Statement and command each sent once the folder is broken; returns what the clients saw. */
async function breakMidSession(gw: TestGateway, marker: string) {
  const client = new pg.Client(gw.conn());
  client.on('error', () => undefined);
  await client.connect();
  expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  const ssh: ssh2.Client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
  ssh.on('error', () => undefined);
  expect((await ssh2Exec(ssh, 'echo before')).stdout).toBe('before\n');
  return {
    pg: async () => client.query(`SELECT '${marker}_pg' AS x, '${'y'.repeat(20_000)}' AS filler`).then(() => 'answered', (e: Error) => e.message),
    ssh: async () => within(ssh2Exec(ssh, markedCommand(`${marker}_ssh`)), 15_000, 'ssh exec').then((r) => `${r.stderr} exit ${r.code}`, (e: Error) => e.message),
    end: () => {
      ssh.end();
      return client.end().catch(() => undefined);
    },
  };
}

async function checkNothingForwarded(marker: string): Promise<{ pg: boolean; ssh: boolean }> {
  const logged = await db.loggedStatements();
  return { pg: !logged.some((s) => s.includes(`${marker}_pg`)), ssh: !(await ran()).includes(`${marker}_ssh`) };
}

/** The client's line that quotes the gateway. */
const said = (stderr: string) => /hopscope: [^\r\n]*/.exec(stderr)?.[0] ?? stderr.trim().slice(0, 120);

/** New sessions while recording is impossible: refused before anything reaches the target. */
async function newSessions(gw: TestGateway, marker: string) {
  const psql = await run('psql', ['-X', '-A', '-t', '-c', `SELECT '${marker}_newpg'`], {
    env: { PGHOST: '127.0.0.1', PGPORT: String(gw.gateway.postgres!.port), PGUSER: 'agent', PGPASSWORD: gw.token(), PGDATABASE: 'db' },
  });
  const { options, env } = await sshClientOf(sshd.dir, gw.token(), { logLevel: 'INFO' });
  const ssh = await run('ssh', [...options, '-p', String(gw.gateway.ssh!.port), 'agent:host@127.0.0.1', `printf '%s\\n' ${marker}_newssh >> ${ranLog}`], { env });
  const logged = await db.loggedStatements();
  return {
    pgRefused: psql.code !== 0 && /cannot be recorded/.test(psql.stderr) && !logged.some((s) => s.includes(`${marker}_newpg`)),
    sshRefused: ssh.code !== 0 && /cannot be recorded/.test(ssh.stderr) && !(await ran()).includes(`${marker}_newssh`),
    detail: `psql: ${said(psql.stderr)} | ssh: ${said(ssh.stderr)}`,
  };
}

it('fails closed for PostgreSQL and SSH sessions when the recording file system fills mid-session', async () => {
  const mount = await mkdtemp(join(tmpdir(), 'hopscope-rel-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mount]);
  cleanups.push(() => rm(mount, { recursive: true, force: true }), async () => execFileSync('umount', ['-l', mount]));
  const gw = await gatewayOn(join(mount, 'rec'));
  const marker = `full_${Date.now()}`;
  const live = await breakMidSession(gw, marker);
  // Fill every free page of the file system.
  execFileSync('sh', ['-c', `dd if=/dev/zero of=${join(mount, 'filler')} bs=4k 2>/dev/null || true`]);
  const [pgAnswer, sshAnswer] = [await live.pg(), await live.ssh()];
  await live.end();
  const clean = await checkNothingForwarded(marker);
  const pgOk = clean.pg && /cannot be recorded/.test(pgAnswer);
  const sshOk = clean.ssh && /cannot be recorded/.test(sshAnswer);
  counts.add({ check: 'disk full mid-session, PostgreSQL: statement not forwarded, client told', tried: 1, passed: Number(pgOk), note: pgAnswer.slice(0, 120) });
  counts.add({ check: 'disk full mid-session, SSH exec: command not run, client told', tried: 1, passed: Number(sshOk), note: sshAnswer.trim().slice(0, 120) });
  const fresh = await newSessions(gw, marker);
  counts.add({ check: 'disk full, new PostgreSQL and SSH sessions refused with a clear error', tried: 2, passed: Number(fresh.pgRefused) + Number(fresh.sshRefused), note: fresh.detail });
  expect({ pgAnswer, sshAnswer, ...clean }).toMatchObject({ pgAnswer: expect.stringMatching(/cannot be recorded/), sshAnswer: expect.stringMatching(/cannot be recorded/), pg: true, ssh: true });
  expect(fresh).toMatchObject({ pgRefused: true, sshRefused: true });
});

it('refuses new PostgreSQL and SSH sessions once the recording folder is gone, and keeps serving when it is back', async () => {
  const root = await mkdtemp(join(tmpdir(), 'hopscope-rel-gone-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const rec = join(root, 'rec');
  const gw = await gatewayOn(rec);
  const marker = `gone_${Date.now()}`;
  // The folder moved away and a regular file in its place: every new recording fails with ENOTDIR/EEXIST.
  await rename(rec, join(root, 'moved'));
  await writeFile(rec, 'not a folder');
  const fresh = await newSessions(gw, marker);
  counts.add({ check: 'recording folder replaced by a file: new PostgreSQL and SSH sessions refused', tried: 2, passed: Number(fresh.pgRefused) + Number(fresh.sshRefused), note: fresh.detail });
  expect(fresh).toMatchObject({ pgRefused: true, sshRefused: true });
  await rm(rec);
  await rename(join(root, 'moved'), rec);
  const res = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 5'], {
    env: { PGHOST: '127.0.0.1', PGPORT: String(gw.gateway.postgres!.port), PGUSER: 'agent', PGPASSWORD: gw.token(), PGDATABASE: 'db' },
  });
  expect(res.stdout.trim()).toBe('5');
  counts.add({ check: 'recording folder back: sessions served again', tried: 1, passed: 1 });
});
