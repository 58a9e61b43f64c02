// Crash: SIGKILL the gateway (the real CLI, a child process) three times during
// mixed pgbench and SSH load. After each kill, every statement PostgreSQL logged
// and every command the SSH target ran is in a recording, every recording's chain
// is unbroken (unverified where the crash cut it: no seal), and the gateway
// restarts on the same configuration, recovers what the crash left open (every
// earlier file is then `recovered` or `intact` against the journal), and serves.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadTrustedKeys } from '../../common/keys.js';
import { EventType, FolderCheck, verifyRecordingFile, type IntegrityState } from '../../common/recording/index.js';
import { readEvents } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { libpqEnv, pgbenchInit, run, spawnLong, stopAll } from '../helpers/processes.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, gatewayConfig, recordingFiles, startChildGateway, verifyAll, within, type ChildGateway } from './support.js';

const ROUNDS = 3;
const SSH_CLIENTS = 4;
const counts = new Counts('crash', 'Crash: SIGKILL of the gateway during mixed load');
let db: PgServer;
let sshd: SshdServer;
let dir: string;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres({ logStatements: true }), startSshd()]);
  await pgbenchInit(db.app, 1);
  dir = await mkdtemp(join(tmpdir(), 'hopscope-rel-crash-'));
});
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), sshd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** An SSH client that runs commands until the gateway goes away; each command appends its marker to ran.log on the target. */
async function sshLoad(gw: ChildGateway, name: string, ranLog: string, stop: () => boolean): Promise<number> {
  let sent = 0;
  let client: ssh2.Client | undefined;
  try {
    client = await within(ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() }), 15_000, 'ssh connect');
    client.on('error', () => undefined);
    while (!stop()) {
      const marker = `${name}-${sent++}`;
      await within(ssh2Exec(client, `printf '%s\\n' ${marker} >> ${ranLog}`), 15_000, 'ssh exec');
    }
  } catch {
    // the gateway was killed under it
  } finally {
    client?.end();
  }
  return sent;
}

/** The folder check of `hopscope verify` over the files that existed before this start: what each file says now. */
async function statesOf(gw: ChildGateway, files: ReadonlySet<string>): Promise<{ states: Map<string, IntegrityState>; journal: string | undefined }> {
  const trusted = loadTrustedKeys([gw.keysDir]);
  const check = new FolderCheck([gw.recordingsDir], trusted);
  const states = new Map<string, IntegrityState>();
  for (const file of recordingFiles(gw.recordingsDir)) {
    const verdict = check.judge(file, await verifyRecordingFile(file, trusted));
    if (files.has(file)) states.set(file, verdict.state);
  }
  return { states, journal: check.finish().journals[0]?.state };
}

/** After a restart: every file of the crashed runs is recovered or intact. */
async function expectRecovered(gw: ChildGateway, before: ReadonlySet<string>, round: number): Promise<void> {
  const { states, journal } = await statesOf(gw, before);
  expect(journal).toBe('intact');
  const bad = [...states].filter(([, state]) => state !== 'recovered' && state !== 'intact');
  const recovered = [...states.values()].filter((st) => st === 'recovered').length;
  counts.add({ check: `restart ${round}: files of the crashed run end recovered or intact`, tried: states.size, passed: states.size - bad.length, note: `${recovered} recovered` });
  expect(bad).toEqual([]);
  expect(recovered).toBeGreaterThanOrEqual(4 + 1);
}

it(`keeps every logged statement and every executed command recorded across ${ROUNDS} SIGKILLs`, async () => {
  const raw = await gatewayConfig(dir, db, sshd);
  const ranLog = join(sshd.dir, 'ran.log');
  const totals = { tried: 0, passed: 0 };
  for (let round = 1; round <= ROUNDS; round++) {
    const existing = new Set(round > 1 ? recordingFiles(join(dir, 'recordings')) : []); // the folder is made by the first start
    const gw = await startChildGateway(dir, raw, { password: db.appPassword });
    if (round > 1) await expectRecovered(gw, existing, round - 1);
    const logStart = (await db.loggedStatements()).length;
    const bench = spawnLong('pgbench', ['-n', '-c', '4', '-T', '60', '-M', round === 2 ? 'extended' : 'simple'], { env: libpqEnv(gw.pg()) });
    let killed = false;
    const ssh = Array.from({ length: SSH_CLIENTS }, (_, i) => sshLoad(gw, `r${round}c${i}`, ranLog, () => killed));
    await sleep(3000);
    killed = true;
    process.kill(gw.proc.pid, 'SIGKILL');
    expect((await gw.proc.exited).signal).toBe('SIGKILL');
    await within(bench.exited, 30_000, 'pgbench');
    const sent = (await Promise.all(ssh)).reduce((a, b) => a + b, 0);

    // What reached the targets: PostgreSQL's own log, and the markers the shell on the SSH target wrote.
    const logged = (await db.loggedStatements()).slice(logStart).map((s) => s.trim());
    const ran = (await readFile(ranLog, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith(`r${round}c`));
    expect(logged.length).toBeGreaterThan(50);
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThanOrEqual(sent);

    const reports = await verifyAll(gw.recordingsDir, gw.keysDir);
    const recordedSql = new Set<string>();
    const recordedCommands = new Set<string>();
    for (const { file, report } of reports) {
      expect(['unverified', 'intact', 'recovered'], `${file}: ${JSON.stringify(report.findings)}`).toContain(report.status);
      expect(report.intactThroughSeq, file).toBe(report.lastSeq);
      for (const e of await readEvents(file)) {
        if (e.type === EventType.PgQuery || e.type === EventType.PgParse || e.type === EventType.PgExecute) recordedSql.add(String(e.data.sql).trim());
        const marker = e.type === EventType.SshExec ? /^printf '%s\\n' (\S+) >>/.exec(String(e.data.command))?.[1] : undefined;
        if (marker) recordedCommands.add(marker);
      }
    }
    const unsealed = reports.filter((r) => r.report.status === 'unverified').length;
    expect(unsealed).toBeGreaterThanOrEqual(4 + 1); // pgbench's clients (and the SSH sessions, and the audit file) were cut
    const missingSql = logged.filter((s) => !recordedSql.has(s));
    const missingCommands = ran.filter((m) => !recordedCommands.has(m));
    counts.add({ check: `round ${round}: statements PostgreSQL logged are recorded`, tried: logged.length, passed: logged.length - missingSql.length });
    counts.add({ check: `round ${round}: commands the SSH target ran are recorded`, tried: ran.length, passed: ran.length - missingCommands.length });
    counts.add({ check: `round ${round}: recordings' chains unbroken after SIGKILL (unsealed or sealed)`, tried: reports.length, passed: reports.filter((r) => ['unverified', 'intact', 'recovered'].includes(r.report.status)).length, note: `${unsealed} unsealed` });
    totals.tried += logged.length + ran.length;
    totals.passed += logged.length + ran.length - missingSql.length - missingCommands.length;
    expect(missingSql.slice(0, 5)).toEqual([]);
    expect(missingCommands.slice(0, 5)).toEqual([]);
  }

  // A fourth start on the same configuration serves both protocols and seals what it records.
  const before = new Set(recordingFiles(join(dir, 'recordings')));
  const gw = await startChildGateway(dir, raw, { password: db.appPassword });
  await expectRecovered(gw, before, ROUNDS);
  const q = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT 40 + 2'], { env: libpqEnv(gw.pg()) });
  expect(q.stdout.trim()).toBe('42');
  const client = await ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() });
  expect((await ssh2Exec(client, 'echo after-crash')).stdout).toBe('after-crash\n');
  client.end();
  await sleep(200);
  await gw.proc.stop(15_000); // SIGTERM: drains and seals
  const fresh = (await verifyAll(gw.recordingsDir, gw.keysDir)).filter((r) => !before.has(r.file));
  expect(fresh.map((r) => r.report.status)).toEqual(fresh.map(() => 'intact'));
  expect(fresh.length).toBeGreaterThanOrEqual(3); // psql, ssh, audit
  counts.add({ check: 'restart on the same configuration serves PostgreSQL and SSH, then seals', tried: 1, passed: 1, note: `${fresh.length} new recordings intact and sealed` });
  counts.add({ check: `all ${ROUNDS} kills: logged statements and executed commands found in recordings`, tried: totals.tried, passed: totals.passed });
});
