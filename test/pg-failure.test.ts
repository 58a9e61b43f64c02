import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { loadTrustedKeys } from '../common/keys.js';
import { EventType, verifyRecordingFile } from '../common/recording/index.js';
import { issueToken } from '../common/tokens/index.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { readEvents, spawnGatewayProcess, startTestGateway, TARGET_PASSWORD_ENV, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, pgbenchInit, run, spawnLong, stopAll } from './helpers/processes.js';

let db: PgServer;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  db = await startPostgres({ auth: 'scram-sha-256', logStatements: true });
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
  await stopAll();
});
afterAll(async () => {
  await db?.stop();
});

async function gateway(overrides: Record<string, unknown> = {}) {
  const g = await startTestGateway(db, overrides);
  gateways.push(g);
  return g;
}

describe('fail closed when the recording cannot be written', () => {
  it('refuses a session whose recording cannot be created, before anything reaches the target', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hopscope-nodir-'));
    writeFileSync(join(dir, 'not-a-dir'), '');
    // recording.dir lies under a regular file: mkdir fails with ENOTDIR for every session.
    const g = await gateway({ recording: { dir: join(dir, 'not-a-dir', 'recordings') }, keys: { dir: join(dir, 'keys') } }).catch((e: Error) => e);
    // The gateway's own audit recording lives there too, so the gateway refuses to start at all.
    expect(g).toBeInstanceOf(Error);
    expect((g as Error).message).toMatch(/cannot be recorded|ENOTDIR/);
  });

  it('ends the session with a clear error when the disk fills mid-session, and forwards nothing unrecorded', async () => {
    const mount = await mkdtemp(join(tmpdir(), 'hopscope-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
    try {
      const g = await gateway({ recording: { dir: join(mount, 'rec'), fsync: 'always' }, keys: { dir: join(mount, 'keys') } });
      const marker = `never_forwarded_${Date.now()}`;
      // psql reads a script: a query that works, then a shell escape that fills the file system, then a query.
      const script = [
        'SELECT 1 AS ok;',
        `\\! dd if=/dev/zero of=${join(mount, 'filler')} bs=4k 2>/dev/null`,
        // Its text alone (20 kB) needs fresh pages of the full file system.
        `SELECT '${marker}' AS x, '${'y'.repeat(20_000)}' AS filler;`,
        'SELECT 2;',
      ].join('\n');
      const res = await run('psql', ['-X', '-A', '-t'], { env: libpqEnv(g.conn()), input: script });
      expect(res.stdout.trim().split('\n')[0]).toBe('1');
      expect(res.stderr).toMatch(/FATAL: +hopscope: the session cannot be recorded, so nothing more is forwarded/);
      expect(res.stdout).not.toContain(marker);
      expect((await db.loggedStatements()).filter((s) => s.includes(marker)).map((s) => s.slice(0, 300))).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', mount]);
    }
  });
});

describe('bad input from clients', () => {
  /** Sends each part as its own write, 100 ms apart; resolves with all the gateway answered once it hangs up (or after 3 s). */
  const send = (port: number, ...parts: Buffer[]) => new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => {
      parts.forEach((p, i) => setTimeout(() => s.write(p), i * 100));
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    setTimeout(() => s.destroy(), 3000);
  });

  it('answers garbage, oversized and truncated frames with an error and keeps serving others', async () => {
    const g = await gateway();
    const port = g.gateway.postgres!.port;
    const client = new pg.Client({ ...g.conn(), application_name: 'bystander' });
    await client.connect();

    const startup = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]); // SSLRequest
    const cases = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), // not PostgreSQL at all
      Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]), // startup length of 2 GiB
      Buffer.from([0, 0, 0, 2]), // length below the minimum
      Buffer.from([0, 0, 0, 12, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]), // unknown startup code
    ];
    for (const bytes of cases) {
      const answer = await send(port, bytes);
      expect(answer[0]).toBe(0x45); // 'E': an ErrorResponse, then the gateway hangs up
      expect(answer.toString('latin1')).toMatch(/08P01|0A000/);
    }
    // Bytes sent together with the SSLRequest, before any handshake, could be injected: refused (CVE-2021-23214).
    const injected = await send(port, Buffer.concat([startup, Buffer.from([0, 0])]));
    expect(injected.toString('latin1')).toMatch(/^NE[\s\S]*unencrypted data after SSL/);
    // A truncated frame: the gateway waits for the rest without answering; the client's close ends it.
    const truncated = await send(port, startup, Buffer.from([0, 0, 0, 40, 0, 3]));
    expect(truncated.toString('latin1')).toBe('N');
    const res = await client.query('SELECT 2 AS still_here');
    expect(res.rows).toEqual([{ still_here: 2 }]);
    await client.end();
  });
});

describe('TLS to the client', () => {
  it('serves sslmode=require with the configured certificate, and can require TLS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hopscope-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ed25519', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const g = await gateway({ tls: { cert: { file: join(dir, 'cert.pem') }, key: { file: join(dir, 'key.pem') }, require: true } });
    const env = libpqEnv(g.conn());
    const ok = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 7'], { env: { ...env, PGSSLMODE: 'require' } });
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('7');
    const plain = await run('psql', ['-X', '-c', 'SELECT 7'], { env: { ...env, PGSSLMODE: 'disable' } });
    expect(plain.stderr).toMatch(/requires TLS/);
    const files = await g.sessionFiles();
    const starts = await Promise.all(files.map(async (f) => (await readEvents(f)).find((e) => e.type === EventType.SessionStart)));
    expect(starts.some((s) => s?.data.tls === true)).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('upstream authentication methods', () => {
  for (const auth of ['md5', 'trust'] as const) {
    it(`authenticates to a ${auth} PostgreSQL with its own credentials`, async () => {
      const other = await startPostgres({ auth });
      try {
        const g = await startTestGateway(other);
        try {
          const res = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT current_user'], { env: libpqEnv(g.conn()) });
          expect(res.stderr).toBe('');
          expect(res.stdout.trim()).toBe(other.appUser);
        } finally {
          await g.stop();
        }
      } finally {
        await other.stop();
      }
    });
  }
});

describe('admin listener', () => {
  it('answers /healthz openly and /metrics only with the bearer token', async () => {
    const g = await gateway();
    const base = g.gateway.admin.url;
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    await run('psql', ['-X', '-c', 'SELECT 1'], { env: libpqEnv(g.conn()) });
    const token = readFileSync(join(g.keysDir, 'admin.token'), 'utf8').trim();
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(metrics).toMatch(/^hopscope_sessions_total\{protocol="postgres"\} [1-9]/m);
    expect(metrics).toMatch(/^hopscope_statements_total\{protocol="postgres"\} [1-9]/m);
    expect(metrics).toMatch(/^hopscope_recording_write_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^hopscope_bytes_total\{direction="target_to_client"\} [1-9]/m);
  });
});

describe('crash', () => {
  it('after SIGKILL mid-pgbench, every statement PostgreSQL logged is in an unsealed but intact recording', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hopscope-crash-'));
    mkdirSync(join(dir, 'keys'));
    const port = await freePort();
    const raw = {
      recording: { dir: join(dir, 'recordings'), fsync: 'batch' },
      keys: { dir: join(dir, 'keys') },
      admin: { listen: `127.0.0.1:${await freePort()}` },
      listeners: { postgres: `127.0.0.1:${port}` },
      targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
      identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    };
    await pgbenchInit(db.app, 1);
    const { proc } = await spawnGatewayProcess(raw, { [TARGET_PASSWORD_ENV]: db.appPassword });
    const token = issueToken(loadOrCreateSigner(join(dir, 'keys')), systemClock, { identity: 'agent', ttlSeconds: 600 }).token;
    const logStart = (await db.loggedStatements()).length;
    const bench = spawnLong('pgbench', ['-n', '-c', '4', '-T', '30', '-M', 'simple'],
      { env: { ...libpqEnv({ host: '127.0.0.1', port, user: 'agent', password: token, database: 'db' }) } });
    await new Promise((r) => setTimeout(r, 2500));
    process.kill(proc.pid, 'SIGKILL');
    await proc.exited;
    await bench.exited;

    const logged = (await db.loggedStatements()).slice(logStart).map((s) => s.trim());
    expect(logged.length).toBeGreaterThan(100);
    const files = (await readdir(join(dir, 'recordings'))).filter((f) => f.endsWith('.jsonl') && !f.startsWith('gateway-'));
    const recorded = new Set<string>();
    let unsealed = 0;
    const trusted = loadTrustedKeys([join(dir, 'keys')]);
    for (const file of files) {
      const path = join(dir, 'recordings', file);
      const report = await verifyRecordingFile(path, trusted);
      // Sessions cut by the crash are unsealed; any that ended before it are sealed. None is damaged.
      expect(['unverified', 'intact'], `${file}: ${JSON.stringify(report.findings)}`).toContain(report.status);
      expect(report.intactThroughSeq).toBe(report.lastSeq);
      if (report.status === 'unverified') unsealed++;
      for (const e of await readEvents(path)) if (e.type === EventType.PgQuery) recorded.add(String(e.data.sql).trim());
    }
    expect(unsealed).toBeGreaterThanOrEqual(4); // pgbench's four clients
    const missing = logged.filter((s) => !recorded.has(s));
    expect(missing).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
