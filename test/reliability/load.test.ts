// Load: 200 concurrent sessions (PostgreSQL and SSH mixed) through the gateway
// CLI for a bounded time. Every operation a client completed is in its recording
// with its answer (zero lost events), every recording verifies intact and sealed
// (zero chain breaks), and the gateway's RSS, read from /proc, stays bounded.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { readEvents } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { stopAll } from '../helpers/processes.js';
import { ssh2Client, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, gatewayConfig, startChildGateway, verifyAll, within, type ChildGateway } from './support.js';

// PostgreSQL's default max_connections is 100 (3 reserved for superusers): 90 there, 110 over SSH.
const PG_SESSIONS = 90;
const SSH_SESSIONS = 110;
const STEADY_MS = 10_000;
const RSS_BOUND = 384 * 2 ** 20; // three times what 200 sessions took here
const counts = new Counts('load', `Load: ${PG_SESSIONS + SSH_SESSIONS} concurrent sessions`);
let db: PgServer;
let sshd: SshdServer;
let dir: string;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  dir = await mkdtemp(join(tmpdir(), 'hopscope-rel-load-'));
});
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), sshd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Opens `n` sessions with at most `parallel` handshakes at a time (sshd drops bursts of unauthenticated connections). */
async function openAll<T>(n: number, parallel: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await open(i);
    }
  }));
  return out;
}

it(`serves ${PG_SESSIONS + SSH_SESSIONS} concurrent sessions without losing an event or breaking a chain, in bounded memory`, async () => {
  const gw: ChildGateway = await startChildGateway(dir, await gatewayConfig(dir, db, sshd), { password: db.appPassword });
  let peak = { rss: 0, hwm: 0 };
  const sampler = setInterval(() => void gw.memory().then((m) => (peak = { rss: Math.max(peak.rss, m.rss), hwm: Math.max(peak.hwm, m.hwm) }), () => undefined), 200);
  try {
    const pgClients = await openAll(PG_SESSIONS, 10, async (i) => {
      const c = new pg.Client({ ...gw.pg(), application_name: `load-pg-${i}` });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    });
    // Each SSH session keeps one shell (`sh` over exec) and types commands into it: starting a
    // process per command costs sshd more than two cores give (about 7 execs/s here, direct or not).
    // A shell counts as open once it has answered a first `echo`: the gateway accepts the channel at
    // once, but the target's sshd starts the 110 shells at its own pace (a CI run saw the last ones
    // take over 30 s), and that pace is sshd's, not the path's.
    const sshClients = await openAll(SSH_SESSIONS, 6, async (i) => {
      const c = await within(ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() }), 30_000, 'ssh connect');
      c.on('error', () => undefined);
      const shell = await within(openShell(c), 30_000, 'ssh shell');
      await within(shell.run(`load_ssh_ready_${i}`), 120_000, `first answer of shell ${i}`);
      return { client: c, shell };
    });
    const adminToken = readFileSync(join(gw.keysDir, 'admin.token'), 'utf8').trim();
    const live = (await (await fetch(`${gw.adminUrl}/sessions`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as unknown[];
    counts.add({ check: 'sessions open at once (admin /sessions)', tried: PG_SESSIONS + SSH_SESSIONS, passed: live.length });
    expect(live.length).toBe(PG_SESSIONS + SSH_SESSIONS);

    // What the clients saw answered: marker → answer.
    const pgDone = new Map<string, string>();
    const sshDone = new Map<string, string>();
    const failures: string[] = [];
    const until = Date.now() + STEADY_MS;
    await Promise.all([
      ...pgClients.map(async (c, i) => {
        for (let n = 0; Date.now() < until; n++) {
          const marker = `load_pg_${i}_${n}`;
          try {
            const res = await within(c.query(`SELECT '${marker}' AS m, ${n} AS n`), 30_000, 'query');
            pgDone.set(marker, String(res.rows[0]?.m));
          } catch (err) {
            failures.push(`${marker}: ${(err as Error).message}`);
          }
          await sleep(100 + ((i * 37 + n * 11) % 200));
        }
      }),
      ...sshClients.map(async ({ shell }, i) => {
        await sleep((i * 97) % 1000);
        for (let n = 0; Date.now() < until; n++) {
          const marker = `load_ssh_${i}_${n}`;
          try {
            sshDone.set(marker, await within(shell.run(marker), 30_000, 'shell command'));
          } catch (err) {
            failures.push(`${marker}: ${(err as Error).message}; its stderr: ${JSON.stringify(shell.stderr())}`);
          }
          await sleep(300 + ((i * 53 + n * 7) % 400));
        }
      }),
    ]);
    await Promise.all([...pgClients.map((c) => c.end().catch(() => undefined)), ...sshClients.map(({ client, shell }) => (shell.close(), client.end()))]);
    await sleep(500);
    const mem = await gw.memory();
    peak = { rss: Math.max(peak.rss, mem.rss), hwm: Math.max(peak.hwm, mem.hwm) };
    clearInterval(sampler);
    await gw.proc.stop(30_000); // SIGTERM seals every recording

    const wrong = [...pgDone, ...sshDone].filter(([marker, answer]) => marker !== answer);
    counts.add({ check: 'client operations answered correctly during the load', tried: pgDone.size + sshDone.size + failures.length, passed: pgDone.size + sshDone.size - wrong.length, note: `${pgDone.size} queries, ${sshDone.size} shell commands in ${STEADY_MS / 1000} s` });
    expect(failures.slice(0, 5)).toEqual([]);
    expect(wrong).toEqual([]);

    // The recordings: every completed operation there with its answer; every file intact and sealed.
    const reports = await verifyAll(gw.recordingsDir, gw.keysDir);
    const pgRecorded = new Set<string>();
    const sshRecorded = new Set<string>();
    for (const { file } of reports) {
      const events = await readEvents(file);
      const queries = new Map(events.filter((e) => e.type === EventType.PgQuery).map((e) => [e.seq, /'(load_pg_\d+_\d+)'/.exec(String(e.data.sql))?.[1]]));
      for (const e of events) {
        if (e.type === EventType.PgResult) {
          const marker = queries.get(e.data.statement as number);
          if (marker && JSON.stringify(e.data.rows).includes(`"${marker}"`)) pgRecorded.add(marker);
        }
      }
      const text = (type: string) => events.filter((e) => e.type === type)
        .map((e) => (e.data.encoding === 'base64' ? Buffer.from(String(e.data.data), 'base64').toString() : String(e.data.data))).join('');
      const input = text(EventType.SshInput);
      const output = text(EventType.SshOutput);
      for (const m of input.matchAll(/^echo (load_ssh_\d+_\d+)$/gm)) if (output.includes(`${m[1]}\n`)) sshRecorded.add(m[1]!);
    }
    const lostPg = [...pgDone.keys()].filter((m) => !pgRecorded.has(m));
    const lostSsh = [...sshDone.keys()].filter((m) => !sshRecorded.has(m));
    const intact = reports.filter((r) => r.report.status === 'intact' && r.report.sealed);
    counts.add({ check: 'PostgreSQL queries recorded with their result', tried: pgDone.size, passed: pgDone.size - lostPg.length });
    counts.add({ check: 'SSH shell commands recorded with their output', tried: sshDone.size, passed: sshDone.size - lostSsh.length });
    counts.add({ check: 'recordings verified intact and sealed (no hash-chain break)', tried: reports.length, passed: intact.length });
    const mib = (b: number) => Math.round(b / 2 ** 20);
    counts.add({ check: `gateway peak RSS below ${mib(RSS_BOUND)} MiB (VmHWM from /proc)`, tried: 1, passed: Number(peak.hwm < RSS_BOUND), note: `peak VmHWM ${mib(peak.hwm)} MiB, sampled VmRSS max ${mib(peak.rss)} MiB` });
    expect(lostPg.slice(0, 5)).toEqual([]);
    expect(lostSsh.slice(0, 5)).toEqual([]);
    expect(reports.length).toBeGreaterThanOrEqual(PG_SESSIONS + SSH_SESSIONS + 1);
    expect(reports.filter((r) => !intact.includes(r)).map((r) => `${r.file}: ${r.report.status}`)).toEqual([]);
    expect(peak.hwm).toBeLessThan(RSS_BOUND);
  } finally {
    clearInterval(sampler);
  }
});

/** A shell on the target; `run(marker)` types `echo marker` and resolves with the line it answers. */
function openShell(client: ssh2.Client): Promise<{ run(marker: string): Promise<string>; stderr(): string; close(): void }> {
  return new Promise((resolve, reject) => {
    client.exec('sh', (err, channel) => {
      if (err) return reject(err);
      let out = '';
      let waiter: { marker: string; done: (line: string) => void } | undefined;
      channel.on('data', (d: Buffer) => {
        out += d.toString();
        if (waiter && out.includes(`${waiter.marker}\n`)) {
          const w = waiter;
          waiter = undefined;
          out = '';
          w.done(w.marker);
        }
      });
      let errText = '';
      channel.stderr.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-500)));
      channel.on('exit', (code: number | null, signal?: string) => (errText += `[exit ${code ?? signal}]`));
      resolve({
        stderr: () => errText,
        run: (marker) => new Promise((done) => {
          waiter = { marker, done };
          channel.write(`echo ${marker}\n`);
        }),
        close: () => channel.end('exit\n'),
      });
    });
  });
}
