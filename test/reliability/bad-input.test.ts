// Bad input: random and mutated bytes to the PostgreSQL and SSH listeners of the
// gateway CLI over real sockets, with slow-loris connections held open the whole
// time. The gateway never crashes, and a PostgreSQL and an SSH session running
// alongside never see an error.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { stopAll } from '../helpers/processes.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, gatewayConfig, prng, startChildGateway, type ChildGateway } from './support.js';
import { mutateBytes, pgPassword, pgSession, pgStartup, poke, randomBytes, slowLoris, sshFirstFlight } from './wire.js';

const PER_KIND = 150;
const PARALLEL = 8;
const LORIS = 25; // per listener
const SEED = 4_2025;
const counts = new Counts('bad-input', 'Bad input: fuzzed listeners and slow-loris connections');
let db: PgServer;
let sshd: SshdServer;
let dir: string;
let raw: Record<string, unknown>;
let gw: ChildGateway;
let crashes = 0;
let crashLog = '';

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  dir = await mkdtemp(join(tmpdir(), 'hopscope-rel-fuzz-'));
  raw = await gatewayConfig(dir, db, sshd);
  gw = await startChildGateway(dir, raw, { password: db.appPassword });
});

/** After a crash: counted, its log kept for the report, and the gateway started again on the same configuration. */
async function restartIfDead(): Promise<boolean> {
  if (gw.alive()) return false;
  crashes++;
  crashLog ||= readFileSync(gw.logFile, 'utf8').split('\n').filter((l) => /Error|at /.test(l)).slice(0, 4).join(' | ');
  gw = await startChildGateway(dir, raw, { password: db.appPassword });
  return true;
}
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), sshd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs PER_KIND cases through `poke`, PARALLEL connections at a time. A case
 * passes when the gateway is still alive after it; after a crash the batch in
 * flight counts as one failure and the gateway is restarted, so later cases still run.
 */
async function fuzz(name: string, listener: 'pgPort' | 'sshPort', make: (n: number) => Buffer) {
  const answers = { closed: 0, idle: 0 };
  let failed = 0;
  for (let n = 0; n < PER_KIND; n += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, PER_KIND - n) }, (_, k) => make(n + k));
    for (const how of await Promise.all(batch.map((bytes) => poke(gw[listener], bytes)))) answers[how]++;
    await sleep(10); // let a dying gateway's exit be seen
    if (await restartIfDead()) failed++;
  }
  return counts.add({ check: name, tried: PER_KIND, passed: PER_KIND - failed, note: `gateway hung up on ${answers.closed}, waited on ${answers.idle}${failed ? `; crashed ${failed} time(s)` : ''}` });
}

it('survives fuzzed PostgreSQL and SSH input and slow-loris connections while legit sessions carry on', async () => {
  const rng = prng(SEED);
  // Bystanders: one session per protocol, working the whole time (reconnecting after a crash, which they count as failures).
  const bystander = { ok: 0, failed: [] as string[] };
  let fuzzing = true;
  const work = Promise.all([pgBystander(() => fuzzing, bystander), sshBystander(() => fuzzing, bystander)]);
  const startup = pgStartup('agent', 'db');
  const loris = [
    ...Array.from({ length: LORIS }, () => slowLoris(gw.pgPort, startup, 500)),
    ...Array.from({ length: LORIS }, () => slowLoris(gw.sshPort, Buffer.from('SSH-2.0-slowloris\r\n'), 500)),
  ];

  const flight = await sshFirstFlight(ssh2.Client);
  expect(flight.toString('latin1')).toMatch(/^SSH-2\.0-/);
  const token = gw.token();
  const rows = [
    await fuzz('PostgreSQL: random bytes', 'pgPort', () => randomBytes(rng, 2048)),
    await fuzz('PostgreSQL: mutated startup packets', 'pgPort', () => mutateBytes(startup, rng)),
    await fuzz('PostgreSQL: mutated messages after a valid login', 'pgPort', () => Buffer.concat([startup, pgPassword(token), mutateBytes(pgSession(rng), rng)])),
    await fuzz('PostgreSQL: mutated login (startup, token, messages)', 'pgPort', () => mutateBytes(Buffer.concat([startup, pgPassword(token), pgSession(rng)]), rng)),
    await fuzz('SSH: random bytes', 'sshPort', () => randomBytes(rng, 2048)),
    await fuzz('SSH: random bytes after a valid identification line', 'sshPort', () => Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), randomBytes(rng, 2048)])),
    await fuzz('SSH: mutated first flight of a real client (identification, KEXINIT)', 'sshPort', () => mutateBytes(flight, rng)),
  ];

  fuzzing = false;
  await work;
  const closedLoris = loris.filter((l) => l.closedByGateway()).length;
  for (const l of loris) l.stop();
  counts.add({ check: `gateway alive at the end with ${loris.length} slow-loris connections held during the fuzzing`, tried: 1, passed: Number(gw.alive()),
    note: `${closedLoris} cut by the gateway${crashes ? ' (or by its crashes)' : ''}, ${loris.length - closedLoris} still open at the end` });
  counts.add({ check: 'legit PostgreSQL and SSH operations alongside', tried: bystander.ok + bystander.failed.length, passed: bystander.ok,
    ...(bystander.failed.length ? { note: `${crashes ? 'after the crashes: ' : ''}${bystander.failed.slice(0, 2).join('; ')}` } : {}) });
  expect(bystander.failed.slice(0, 5)).toEqual([]);
  expect(bystander.ok).toBeGreaterThan(20);

  // Still alive and serving new sessions.
  expect(gw.alive()).toBe(true);
  expect(await (await fetch(`${gw.adminUrl}/healthz`)).text()).toBe('ok\n');
  const fresh = new pg.Client(gw.pg());
  await fresh.connect();
  expect((await fresh.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
  await fresh.end();
  const c = await ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() });
  expect((await ssh2Exec(c, 'echo fresh')).stdout).toBe('fresh\n');
  c.end();
  const memory = await gw.memory();
  const total = rows.reduce((a, r) => ({ tried: a.tried + r.tried, passed: a.passed + r.passed }), { tried: 0, passed: 0 });
  counts.add({ check: 'all fuzz cases (gateway alive after each)', tried: total.tried, passed: total.passed,
    note: `seed ${SEED}; gateway VmHWM ${Math.round(memory.hwm / 2 ** 20)} MiB at the end${crashes ? `; ${crashes} crash(es), first: ${crashLog}` : ''}` });
  expect(total).toEqual({ tried: rows.length * PER_KIND, passed: rows.length * PER_KIND });
});

// A minimal reproducer of the crash the fuzzing finds: a PasswordMessage whose
// password string ends before the message does. readPassword throws inside the
// listener's data handler (gateway/pg/listener.ts, case 'authResponse'), nothing
// catches it, and the whole gateway process exits — before any authentication.
it('refuses a PasswordMessage with bytes after its terminator without the gateway exiting', async () => {
  await restartIfDead();
  const password = Buffer.from('p\0\0\0\x08x\0yz', 'latin1'); // 'p', length 8, "x\0" then 2 trailing bytes
  const answer = await poke(gw.pgPort, Buffer.concat([pgStartup('agent', 'db'), password]));
  await sleep(200);
  const alive = gw.alive();
  counts.add({ check: 'malformed PasswordMessage (trailing bytes) answered without a crash', tried: 1, passed: Number(alive), note: alive ? `gateway ${answer}` : 'the gateway process exited: uncaught PROTOCOL_VIOLATION from readPassword' });
  expect(alive).toBe(true);
});

async function pgBystander(running: () => boolean, out: { ok: number; failed: string[] }): Promise<void> {
  let client: pg.Client | undefined;
  for (let n = 0; running(); n++) {
    try {
      if (!client) {
        client = new pg.Client({ ...gw.pg(), application_name: 'bystander' });
        client.on('error', () => undefined);
        await client.connect();
      }
      const res = await client.query('SELECT $1::int AS n', [n]);
      if (res.rows[0]?.n !== n) throw new Error(`answered ${String(res.rows[0]?.n)}`);
      out.ok++;
    } catch (err) {
      out.failed.push(`pg ${n}: ${(err as Error).message}`);
      client = undefined;
      await sleep(500);
    }
    await sleep(50);
  }
  await client?.end().catch(() => undefined);
}

async function sshBystander(running: () => boolean, out: { ok: number; failed: string[] }): Promise<void> {
  let client: ssh2.Client | undefined;
  for (let n = 0; running(); n++) {
    try {
      if (!client) {
        client = await ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() });
        client.on('error', () => undefined);
      }
      const res = await ssh2Exec(client, `echo bystander-${n}`);
      if (res.stdout !== `bystander-${n}\n`) throw new Error(`answered ${res.stdout}`);
      out.ok++;
    } catch (err) {
      out.failed.push(`ssh ${n}: ${(err as Error).message}`);
      client?.end();
      client = undefined;
      await sleep(500);
    }
    await sleep(300);
  }
  client?.end();
}
