import { afterAll, describe, expect, it } from 'vitest';
import { generateSigner, trustedKeysOf } from '../keys.js';
import { lineHash, recoveryLines } from './encoder.js';
import { INTEGRITY_DESCRIPTIONS, INTEGRITY_STATES } from './integrity.js';
import { verifyRecordingFile } from './read.js';
import { TempDir, buildRecording, rechain } from './testing/recordings.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const rec = buildRecording();
let n = 0;
const verifyLines = (lines: readonly string[], torn = false) => verifyRecordingFile(tmp.writeLines(`v2-${n++}.jsonl`, lines, torn), rec.trusted);

describe('format version 2: the signed header', () => {
  it('writes version 2 with a signature, and verifies intact', async () => {
    expect(JSON.parse(rec.lines[0]!)).toMatchObject({ version: 2, sig: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) });
    expect((await verifyLines(rec.lines)).status).toBe('intact');
  });

  it.each([
    ['the session renamed', (h: Record<string, unknown>) => ({ ...h, session: 'sess-forged' })],
    ['the time moved', (h: Record<string, unknown>) => ({ ...h, createdAt: Number(h.createdAt) + 1 })],
    ['the signature removed', ({ sig: _sig, ...h }: Record<string, unknown>) => h],
    ['downgraded to version 1 with its signature kept', (h: Record<string, unknown>) => ({ ...h, version: 1 })],
  ])('a header with %s (chain recomputed) is tampered at seq 0, nothing intact', async (_name, edit) => {
    const header = JSON.stringify(edit(JSON.parse(rec.lines[0]!) as Record<string, unknown>));
    const r = await verifyLines(rechain([header, ...rec.lines.slice(1)], 1));
    expect(r).toMatchObject({ status: 'tampered', tamperedAtSeq: 0, intactThroughSeq: 0 });
  });

  it('a signature whose base64 is not canonical (padding bits changed) is refused', async () => {
    const h = JSON.parse(rec.lines[0]!) as { sig: string };
    const last = h.sig[85]!; // the last data character carries 2 padding bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    const header = rec.lines[0]!.replace(`${h.sig}"`, `${h.sig.slice(0, 85)}${twin}=="`);
    expect(Buffer.from(header.match(/"sig":"([^"]+)"/)![1]!, 'base64').equals(Buffer.from(h.sig, 'base64'))).toBe(true);
    expect((await verifyLines(rechain([header, ...rec.lines.slice(1)], 1))).status).toBe('tampered');
  });
});

describe('the unverified tail and crash recovery', () => {
  it('events after the last signature are unverified, never intact', async () => {
    const r = await verifyLines(buildRecording({ seal: false, signer: rec.signer }).lines);
    expect(r).toMatchObject({ status: 'unverified', signedThroughSeq: 11, lastSeq: 14 });
  });

  it('a crash-recovery seal makes the file recovered, and names the seq', async () => {
    const cut = buildRecording({ seal: false, signer: rec.signer }).lines;
    const closing = recoveryLines(rec.signer, 'sess-1', 14, lineHash(cut.at(-1)!), 1_700_000_100_000_000, {});
    const lines = [...cut, ...closing.lines.split('\n').slice(0, -1)];
    const r = await verifyLines(lines);
    expect(r).toMatchObject({ status: 'recovered', recoveredAfterSeq: 14, sealed: true, lastSeq: 16, signedThroughSeq: 16, lastHash: closing.lastHash });
    expect(r.findings.map((f) => f.kind)).toEqual(['recovered']);
  });

  it('a recovery seal signed by another key is tampered', async () => {
    const cut = buildRecording({ seal: false, signer: rec.signer }).lines;
    const closing = recoveryLines(generateSigner(), 'sess-1', 14, lineHash(cut.at(-1)!), 1_700_000_100_000_000, {});
    const r = await verifyLines([...cut, ...closing.lines.split('\n').slice(0, -1)]);
    expect(r.status).toBe('tampered');
  });

  it('a recovery seal moved to claim an earlier crash is tampered', async () => {
    const cut = buildRecording({ seal: false, signer: rec.signer }).lines;
    const closing = recoveryLines(rec.signer, 'sess-1', 14, lineHash(cut.at(-1)!), 1_700_000_100_000_000, {});
    const seal = closing.lines.split('\n')[1]!.replace('"recoveredAfterSeq":14', '"recoveredAfterSeq":3');
    const r = await verifyLines([...cut, closing.lines.split('\n')[0]!, seal]);
    expect(r.status).toBe('tampered');
  });
});

describe('integrity words', () => {
  it('one description per state', () => {
    expect(Object.keys(INTEGRITY_DESCRIPTIONS).sort()).toEqual([...INTEGRITY_STATES].sort());
    expect(trustedKeysOf).toBeDefined();
  });
});
