// Property: any single-byte change or single line removal anywhere in a folder of
// recordings plus its journal of sessions is detected by the folder check that
// `hopscope verify` and `import` use. The folder is written by the gateway's own
// pieces (SessionJournal, RecordingWriter with a real Ed25519 signer, the audit log
// opened first as at gateway start); 1,000 random mutations, 0 may be missed.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../common/clock.js';
import { generateSigner, trustedKeysOf } from '../common/keys.js';
import { EventType, FolderCheck, JOURNAL_FILE, isTrustworthy, verifyRecordingFile } from '../common/recording/index.js';
import { attachJournal, RecordingWriter, SessionJournal } from '../gateway/recording/index.js';
import { silentLogger } from '../gateway/log.js';

const MUTATIONS = 1000;
const signer = generateSigner();
const trusted = trustedKeysOf([signer.publicKey]);
let dir: string;
let files: string[];
let originals: Map<string, Buffer>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-mutations-'));
  const clock = fixedClock(1_764_720_000_000_000, 1000);
  const journal = SessionJournal.open({ dir, signer, clock, fsync: 'none', logger: silentLogger, trusted });
  const detach = attachJournal(dir, journal);
  const open = (session: string, protocol: 'postgres' | 'ssh' | 'gateway') =>
    RecordingWriter.open({ dir, session, protocol, signer, clock, fsync: 'none', checkpointEvery: 4 });
  const audit = open('gateway-20261203T000000Z-aaaaaaaaaaaa', 'gateway');
  audit.append(EventType.GatewayStart, { keyId: signer.keyId, listeners: {}, config: 'test' });
  audit.commit();
  for (let s = 0; s < 3; s++) {
    const w = open(`20261203T00000${s}Z-bbbbbbbbbbb${s}`, s === 2 ? 'ssh' : 'postgres');
    for (let i = 0; i < 6 + s * 3; i++) {
      if (s === 2) w.appendBase64(EventType.SshOutput, { channel: 0, encoding: 'base64', bytes: 4 }, 'data', Buffer.from([0, 1, 2, i]));
      else w.append(EventType.PgQuery, { sql: `select ${i}, 'héllo'` });
      w.commit();
    }
    w.close({ reason: 'client quit', cause: 'client-quit' });
  }
  audit.close({ reason: 'gateway stopped', cause: 'gateway-shutdown' });
  detach();
  journal.close();
  files = readdirSync(dir).sort().map((f) => join(dir, f));
  originals = new Map(files.map((f) => [f, readFileSync(f)]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The folder check of `verify` and `import`: true when everything is intact (or recovered) and the journal intact. */
async function folderIsClean(): Promise<boolean> {
  const check = new FolderCheck([dir], trusted);
  let clean = true;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).map((n) => join(dir, n))) {
    const verdict = check.judge(f, await verifyRecordingFile(f, trusted));
    if (!isTrustworthy(verdict.state)) clean = false;
  }
  const { journals, missing } = check.finish();
  return clean && missing.length === 0 && journals.length === 1 && journals.every((j) => j.state === 'intact');
}

/** A small deterministic PRNG (mulberry32), so a missed mutation can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

it(`detects every one of ${MUTATIONS} random single-byte changes and line removals`, async () => {
  expect(await folderIsClean()).toBe(true);
  expect(files.map((f) => f.slice(dir.length + 1))).toContain(JOURNAL_FILE);
  const random = prng(13);
  const counts = { byte: 0, line: 0, journal: 0, recordings: 0, detected: 0 };
  const missed: string[] = [];
  for (let i = 0; i < MUTATIONS; i++) {
    const file = files[Math.floor(random() * files.length)]!;
    const bytes = originals.get(file)!;
    let mutated: Buffer;
    let what: string;
    if (random() < 0.5) {
      const at = Math.floor(random() * bytes.length);
      const value = (bytes[at]! + 1 + Math.floor(random() * 255)) % 256; // any other byte value
      mutated = Buffer.from(bytes);
      mutated[at] = value;
      what = `byte ${at} of ${file} → 0x${value.toString(16)}`;
      counts.byte++;
    } else {
      const lines = bytes.toString('utf8').split('\n').slice(0, -1);
      const at = Math.floor(random() * lines.length);
      mutated = Buffer.from(lines.filter((_, j) => j !== at).map((l) => `${l}\n`).join(''));
      what = `line ${at + 1} of ${file} removed`;
      counts.line++;
    }
    if (file.endsWith(JOURNAL_FILE)) counts.journal++;
    else counts.recordings++;
    writeFileSync(file, mutated);
    try {
      if (await folderIsClean()) missed.push(what);
      else counts.detected++;
    } finally {
      writeFileSync(file, bytes);
    }
  }
  // For docs/RELIABILITY.md.
  console.log(`recording mutations: ${MUTATIONS} tried (${counts.byte} single-byte changes, ${counts.line} line removals; ` +
    `${counts.recordings} in recordings, ${counts.journal} in the journal), ${counts.detected} detected, ${missed.length} missed`);
  expect(missed).toEqual([]);
  expect(await folderIsClean()).toBe(true);
}, 300_000);
