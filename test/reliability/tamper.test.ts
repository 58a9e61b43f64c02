// Tamper: 1,000 random mutations of real recordings made through the gateway
// (PostgreSQL and SSH sessions, and the gateway's audit file); verifyRecordingFile
// and the forensic importFile must flag every one as not intact.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSigner, loadTrustedKeys } from '../../common/keys.js';
import { verifyRecordingFile } from '../../common/recording/index.js';
import { importFile, openCase } from '../../forensics/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { MUTATION_KINDS, mutate, type MutationKind } from './mutations.js';
import { Counts, prng, recordingFiles } from './support.js';

const MUTATIONS = 1000;
const SEED = 7_2025;
const counts = new Counts('tamper', 'Tamper: random mutations of real recordings');
let db: PgServer;
let sshd: SshdServer;
let gw: TestGateway;
let work: string;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  // Checkpoints every 10 events, so mutations hit signed checkpoints as well as the seal.
  gw = await startTestGateway(db, { recording: { dir: './recordings', fsync: 'batch', checkpointEvery: 10 } }, { ssh: sshd });
  work = await mkdtemp(join(tmpdir(), 'hopscope-tamper-'));
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([db?.stop(), sshd?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

it(`detects each of ${MUTATIONS} random mutations of real recordings, in verify and in import`, async () => {
  // Real sessions: PostgreSQL simple and extended protocol, an SSH exec session.
  const client = new pg.Client(gw.conn());
  await client.connect();
  for (let i = 0; i < 25; i++) await client.query(`SELECT ${i} AS n, 'row ${i}' AS label`);
  for (let i = 0; i < 10; i++) await client.query('SELECT $1::int + 1 AS next', [i]);
  await client.end();
  const ssh = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
  for (let i = 0; i < 8; i++) expect((await ssh2Exec(ssh, `echo tamper-${i}`)).stdout).toBe(`tamper-${i}\n`);
  ssh.end();
  await new Promise((r) => setTimeout(r, 300));
  await gw.gateway.stop(); // seals every recording and the audit file

  const trusted = loadTrustedKeys([gw.keysDir]);
  const originals = [];
  for (const file of recordingFiles(gw.recordingsDir)) {
    const report = await verifyRecordingFile(file, trusted);
    expect(report, file).toMatchObject({ status: 'intact', sealed: true });
    originals.push({ file, bytes: await readFile(file), protocol: report.header!.protocol, checkpoints: report.signedThroughSeq < report.lastSeq });
  }
  expect(new Set(originals.map((o) => o.protocol))).toEqual(new Set(['postgres', 'ssh', 'gateway']));
  // The originals import as intact: a control for the importer half of the check.
  for (const o of originals) {
    const c = openCase(':memory:');
    expect((await importFile(c, o.file, { trusted })).integrity).toBe('intact');
    c.close();
  }

  const rng = prng(SEED);
  const other = generateSigner();
  const byKind = new Map<MutationKind, { tried: number; verify: number; importer: number }>(MUTATION_KINDS.map((k) => [k, { tried: 0, verify: 0, importer: 0 }]));
  const missed: string[] = [];
  const statuses = new Map<string, number>();
  for (let n = 0; n < MUTATIONS; n++) {
    const kind = MUTATION_KINDS[n % MUTATION_KINDS.length]!;
    const original = originals[rng.int(originals.length)]!;
    const { bytes, what } = mutate(original.bytes, kind, rng, other);
    expect(bytes.equals(original.bytes), `${kind}: ${what} changed nothing`).toBe(false);
    const path = join(work, `m${n}.jsonl`);
    await writeFile(path, bytes);
    const row = byKind.get(kind)!;
    row.tried++;
    const report = await verifyRecordingFile(path, trusted);
    statuses.set(report.status, (statuses.get(report.status) ?? 0) + 1);
    if (report.status !== 'intact') row.verify++;
    else missed.push(`verify missed #${n} ${kind} of ${original.protocol}: ${what}`);
    const c = openCase(':memory:');
    const imported = await importFile(c, path, { trusted });
    c.close();
    if (imported.integrity !== 'intact' || imported.action === 'rejected' || imported.action === 'failed') row.importer++;
    else missed.push(`import missed #${n} ${kind} of ${original.protocol}: ${what}`);
    await rm(path);
  }

  const total = { tried: 0, verify: 0, importer: 0 };
  for (const [kind, r] of byKind) {
    counts.add({ check: `${kind}: verify`, tried: r.tried, passed: r.verify });
    counts.add({ check: `${kind}: import`, tried: r.tried, passed: r.importer });
    total.tried += r.tried;
    total.verify += r.verify;
    total.importer += r.importer;
  }
  const seen = [...statuses].map(([s, k]) => `${s} ${k}`).join(', ');
  counts.add({ check: 'all mutations: verifyRecordingFile', tried: total.tried, passed: total.verify, note: `seed ${SEED}; ${originals.length} recordings; statuses: ${seen}` });
  counts.add({ check: 'all mutations: forensic importFile', tried: total.tried, passed: total.importer });
  expect(missed.slice(0, 20)).toEqual([]);
  expect(total).toEqual({ tried: MUTATIONS, verify: MUTATIONS, importer: MUTATIONS });
});
