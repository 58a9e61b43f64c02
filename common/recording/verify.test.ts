import { afterAll, describe, expect, it } from 'vitest';
import { generateSigner, trustedKeysOf } from '../keys.js';
import { EventType, RecordingEvent } from './format.js';
import { verifyRecordingFile } from './read.js';
import {
  TempDir, buildRecording, flipSignature, rechain, seqsOfType, withField,
} from './testing/recordings.js';
import { parseEvent, type Finding, type VerifiedLine, type VerifyReport } from './verify.js';

// Default layout: seq 1 session.start, 2–5 queries, 6 checkpoint, 7–10 queries,
// 11 checkpoint, 12–13 queries, 14 session.end, 15 seal; lines[seq] is that event.
const tmp = new TempDir();
afterAll(() => tmp.remove());
let n = 0;

const rec = buildRecording();
const { trusted } = rec;

async function verifyLines(lines: readonly string[], keys = trusted, torn = false): Promise<VerifyReport> {
  return verifyRecordingFile(tmp.writeLines(`r${++n}.jsonl`, lines, torn), keys);
}

const kinds = (r: VerifyReport) => r.findings.map((f) => f.kind);
const brief = (fs: Finding[]) => fs.map((f) => ({ kind: f.kind, seq: f.seq }));
const without = (lines: readonly string[], seq: number) => lines.filter((_, i) => i !== seq);
const replaced = (lines: readonly string[], seq: number, line: string) => lines.map((l, i) => (i === seq ? line : l));
const alterData = (line: string) => withField(line, 'data', { ...(JSON.parse(line) as { data: object }).data, sql: 'select 666' });

describe('verifyRecordingFile on an intact recording', () => {
  it('reports intact, sealed and signed through the seal', async () => {
    expect(seqsOfType(rec.lines, EventType.Checkpoint)).toEqual([6, 11]);
    const seen: VerifiedLine[] = [];
    const r = await verifyRecordingFile(tmp.writeLines('intact.jsonl', rec.lines), trusted, (v) => seen.push(v));
    expect(r).toMatchObject({
      status: 'intact', events: 15, lastSeq: 15, intactThroughSeq: 15, signedThroughSeq: 15, sealed: true, findings: [],
    });
    expect(r.header?.session).toBe('sess-1');
    expect(seen.map((v) => v.event.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(seen.every((v) => v.intact)).toBe(true);
  });

  it('reports unverified (unsealed) for a recording whose gateway stopped before the seal', async () => {
    const r = await verifyLines(buildRecording({ seal: false, signer: rec.signer }).lines);
    expect(r).toMatchObject({ status: 'unverified', lastSeq: 14, intactThroughSeq: 14, signedThroughSeq: 11, sealed: false });
    expect(kinds(r)).toEqual(['unsealed']);
  });
});

describe('tampering with events', () => {
  it('detects altered data in the middle', async () => {
    const r = await verifyLines(replaced(rec.lines, 8, alterData(rec.lines[8]!)));
    expect(r.status).toBe('tampered');
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'altered', seq: 8, line: 10 })]);
    expect(r).toMatchObject({ intactThroughSeq: 7, signedThroughSeq: 6, sealed: false });
  });

  it('detects altered data in the last event before the seal', async () => {
    const r = await verifyLines(replaced(rec.lines, 14, withField(rec.lines[14]!, 'data', { reason: 'ok' })));
    expect(brief(r.findings)).toEqual([{ kind: 'altered', seq: 14 }]);
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 13, signedThroughSeq: 11, sealed: false });
  });

  it('detects an altered time', async () => {
    const r = await verifyLines(replaced(rec.lines, 3, withField(rec.lines[3]!, 't', 1)));
    expect(brief(r.findings)).toEqual([{ kind: 'altered', seq: 3 }]);
  });

  it('detects an altered prev', async () => {
    const r = await verifyLines(replaced(rec.lines, 8, withField(rec.lines[8]!, 'prev', '0'.repeat(64))));
    expect(r.status).toBe('tampered');
    expect(brief(r.findings)).toEqual([{ kind: 'altered', seq: 7 }, { kind: 'altered', seq: 8 }]);
    expect(r.intactThroughSeq).toBeLessThan(7);
  });

  it('detects a deleted line in the middle', async () => {
    const r = await verifyLines(without(rec.lines, 8));
    expect(brief(r.findings)).toEqual([{ kind: 'missing', seq: 8 }]);
    expect(r.findings[0]!.message).toContain('seq 8 is not in the file');
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 7, sealed: false });
  });

  it('detects the deletion of the last event before the seal', async () => {
    const r = await verifyLines(without(rec.lines, 14));
    expect(brief(r.findings)).toEqual([{ kind: 'missing', seq: 14 }]);
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 13, sealed: false });
  });

  it('detects a deletion even when the attacker recomputes the chain', async () => {
    const r = await verifyLines(rechain(without(rec.lines, 8), 8));
    expect(kinds(r)).toContain('missing');
    expect(r.status).toBe('tampered');
  });

  it('detects a duplicated line', async () => {
    const lines = [...rec.lines.slice(0, 9), rec.lines[8]!, ...rec.lines.slice(9)];
    const r = await verifyLines(lines);
    expect(brief(r.findings)).toEqual([{ kind: 'duplicated', seq: 8 }]);
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 8, sealed: false });
  });

  it('detects two swapped lines', async () => {
    const lines = [...rec.lines];
    [lines[8], lines[9]] = [lines[9]!, lines[8]!];
    const r = await verifyLines(lines);
    expect(r.status).toBe('tampered');
    expect(brief(r.findings)).toContainEqual({ kind: 'reordered', seq: 8 });
    expect(r.intactThroughSeq).toBe(7);
  });

  it('detects a corrupt JSON line in the middle', async () => {
    const r = await verifyLines(replaced(rec.lines, 8, rec.lines[8]!.slice(0, 30)));
    expect(r.status).toBe('tampered');
    expect(r.findings[0]).toMatchObject({ kind: 'corrupt-line', line: 9 });
    expect(r).toMatchObject({ intactThroughSeq: 7, sealed: false });
  });

  it('detects an event that is JSON but not a valid event', async () => {
    const r = await verifyLines(replaced(rec.lines, 8, withField(rec.lines[8]!, 'prev', 'not-a-hash')));
    expect(r.findings[0]).toMatchObject({ kind: 'corrupt-line', line: 9 });
  });
});

describe('tampering with signatures and the seal', () => {
  it('detects altered data even when the attacker recomputes the chain', async () => {
    const r = await verifyLines(rechain(replaced(rec.lines, 8, alterData(rec.lines[8]!)), 9));
    expect(brief(r.findings)).toEqual([
      { kind: 'bad-signature', seq: 11 }, { kind: 'bad-signature', seq: 15 }, { kind: 'unsealed' },
    ]);
    // Nothing after the last valid signature is proven once a signature fails.
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 6, signedThroughSeq: 6, sealed: false });
  });

  it('detects a bad checkpoint signature', async () => {
    const r = await verifyLines(rechain(replaced(rec.lines, 6, flipSignature(rec.lines[6]!)), 7));
    // Rechaining after the checkpoint changes every later link, so later signatures fail too.
    expect(brief(r.findings)).toEqual([
      { kind: 'bad-signature', seq: 6 }, { kind: 'bad-signature', seq: 11 }, { kind: 'bad-signature', seq: 15 }, { kind: 'unsealed' },
    ]);
    expect(r).toMatchObject({ status: 'tampered', intactThroughSeq: 0, signedThroughSeq: 0, sealed: false });
  });

  it('detects a bad checkpoint signature without rechaining', async () => {
    const r = await verifyLines(replaced(rec.lines, 11, flipSignature(rec.lines[11]!)));
    expect(brief(r.findings)).toEqual([{ kind: 'bad-signature', seq: 11 }, { kind: 'altered', seq: 11 }]);
    expect(r).toMatchObject({ intactThroughSeq: 6, signedThroughSeq: 6 });
  });

  it('detects a flipped seal signature', async () => {
    const r = await verifyLines(replaced(rec.lines, 15, flipSignature(rec.lines[15]!)));
    expect(brief(r.findings)).toEqual([{ kind: 'bad-signature', seq: 15 }, { kind: 'unsealed' }]);
    expect(r).toMatchObject({ status: 'tampered', sealed: false, signedThroughSeq: 11 });
  });

  it.each([
    ['its time', (l: string) => withField(l, 't', (JSON.parse(l) as { t: number }).t + 1)],
    ['its event count', (l: string) => withField(l, 'data', { ...(JSON.parse(l) as { data: object }).data, events: 3 })],
    ['an extra field', (l: string) => withField(l, 'data', { ...(JSON.parse(l) as { data: object }).data, note: 'x' })],
    ['its spacing', (l: string) => l.replace('"seq":', '"seq": ')],
  ])('detects an altered seal (%s)', async (_what, alter) => {
    const r = await verifyLines(replaced(rec.lines, 15, alter(rec.lines[15]!)));
    expect(r.status).toBe('tampered');
    expect(r.sealed).toBe(false);
    expect(brief(r.findings)).toContainEqual({ kind: 'bad-signature', seq: 15 });
  });

  it('detects an event appended after the seal', async () => {
    const lines = [...rec.lines, withField(rec.lines[14]!, 'seq', 16)];
    const r = await verifyLines(rechain(lines, 16));
    expect(brief(r.findings)).toEqual([{ kind: 'after-seal', seq: 16 }]);
    expect(r).toMatchObject({ status: 'tampered', sealed: false, intactThroughSeq: 15, lastSeq: 16 });
  });

  it('detects garbage appended after the seal, with or without a newline', async () => {
    const r1 = await verifyLines([...rec.lines, 'rm -rf /']);
    expect(r1.status).toBe('tampered');
    expect(kinds(r1)).toEqual(['corrupt-line']);
    const r2 = await verifyLines([...rec.lines, 'rm -rf /'], trusted, true);
    expect(r2.status).toBe('tampered');
    expect(kinds(r2)).toEqual(['after-seal']);
    expect(r2.sealed).toBe(false);
  });

  it('reports unknown-key for a recording re-signed entirely with another key', async () => {
    const forged = buildRecording({ signer: generateSigner() });
    const r = await verifyLines(forged.lines);
    expect(r).toMatchObject({ status: 'unknown-key' });
    expect(kinds(r)).toEqual(['unknown-key']);
    expect(r.findings[0]!.message).toContain(forged.signer.keyId);
    expect((await verifyLines(rec.lines, new Map())).status).toBe('unknown-key');
  });

  it('reports bad signatures when the header key is swapped but signatures are the original key', async () => {
    const attacker = generateSigner();
    const header = JSON.parse(rec.lines[0]!) as Record<string, unknown>;
    const swapped = JSON.stringify({ ...header, gateway: { keyId: attacker.keyId, publicKey: attacker.publicKey } });
    const lines = rechain(replaced(rec.lines, 0, swapped));
    const both = trustedKeysOf([rec.signer.publicKey, attacker.publicKey]);
    for (const keys of [trusted, both]) {
      const r = await verifyLines(lines, keys);
      expect(r.status).toBe('tampered');
      // The header's own signature (format 2) fails first: it was made by the original key.
      expect(brief(r.findings).filter((f) => f.kind === 'bad-signature')).toEqual([
        { kind: 'bad-signature', seq: 0 }, { kind: 'bad-signature', seq: 6 }, { kind: 'bad-signature', seq: 11 }, { kind: 'bad-signature', seq: 15 },
      ]);
      expect(r).toMatchObject({ signedThroughSeq: 0, intactThroughSeq: 0, sealed: false });
    }
    // Without recomputing the chain, the header change itself shows.
    const r = await verifyLines(replaced(rec.lines, 0, swapped));
    const altered = r.findings.find((f) => f.kind === 'altered');
    expect(altered).toMatchObject({ seq: 0, line: 2 });
    expect(altered?.message).toContain('the header was altered');
  });

  it('detects a header whose key id does not match its key', async () => {
    const header = JSON.parse(rec.lines[0]!) as { gateway: object };
    const lines = rechain(replaced(rec.lines, 0, JSON.stringify({ ...header, gateway: { ...header.gateway, keyId: 'ffffffffffffffff' } })));
    const r = await verifyLines(lines);
    expect(r.status).toBe('tampered');
    expect(kinds(r)).toContain('bad-signature');
  });
});

describe('truncated and invalid files', () => {
  it('reports a tail cut mid-line as truncated, intact through the last whole line', async () => {
    const cut = [...rec.lines.slice(0, 9), rec.lines[9]!.slice(0, 40)];
    const r = await verifyLines(cut, trusted, true);
    expect(r).toMatchObject({
      status: 'unverified', events: 8, lastSeq: 8, intactThroughSeq: 8, signedThroughSeq: 6, sealed: false,
    });
    expect(kinds(r)).toEqual(['truncated', 'unsealed']);
    expect(r.findings[0]).toMatchObject({ line: 10 });
  });

  it('reports a cut just before the final newline as truncated', async () => {
    const r = await verifyLines(rec.lines, trusted, true);
    expect(r).toMatchObject({ status: 'unverified', intactThroughSeq: 14, sealed: false });
  });

  it.each([
    ['random text', 'hello world\nthis is not a recording\n'],
    ['an empty file', ''],
    ['JSON that is not a header', '{"seq":1,"t":1,"type":"x","data":{},"prev":"00"}\n'],
    ['JSON null', 'null\n'],
    ['a header missing fields', '{"format":"hopscope.recording","version":1}\n'],
  ])('reports %s as not-a-recording', async (_what, content) => {
    const r = await verifyRecordingFile(tmp.write(`bad${++n}.jsonl`, content), trusted);
    expect(r.status).toBe('invalid');
    expect(kinds(r)).toEqual(['not-a-recording']);
    expect(r.header).toBeUndefined();
  });

  it('reports an unsupported version', async () => {
    const header = JSON.parse(rec.lines[0]!) as object;
    const r = await verifyLines(replaced(rec.lines, 0, JSON.stringify({ ...header, version: 3 })));
    expect(r.status).toBe('invalid');
    expect(kinds(r)).toEqual(['unsupported-version']);
    expect(r.findings[0]!.message).toContain('version 3');
  });
});

describe('long recordings', () => {
  it('verifies 10,000 events with checkpoints as intact', async () => {
    const big = buildRecording({ events: 10_000, checkpointEvery: 1000, signer: rec.signer });
    const r = await verifyLines(big.lines);
    expect(r).toMatchObject({ status: 'intact', lastSeq: 10_013, intactThroughSeq: 10_013, signedThroughSeq: 10_013, findings: [] });
    expect(seqsOfType(big.lines, EventType.Checkpoint)).toHaveLength(10);
  });
});

describe('parseEvent agrees with the RecordingEvent schema', () => {
  const good = { seq: 3, t: 1_700_000_000_000_000, type: 'pg.query', data: { sql: 'SELECT 1' }, prev: 'a'.repeat(64) };
  const cases: unknown[] = [
    good,
    { ...good, seq: 0 }, { ...good, seq: 1.5 }, { ...good, seq: '3' }, { ...good, t: 1.5 }, { ...good, type: '' },
    { ...good, data: [] }, { ...good, data: null }, { ...good, prev: 'A'.repeat(64) }, { ...good, prev: 'a'.repeat(63) },
    { ...good, extra: 1 }, { seq: 3, t: 1, type: 'x', data: {} }, [good], null, 'text', 42,
    { prev: good.prev, data: good.data, type: good.type, t: good.t, seq: good.seq },
  ];
  it.each(cases.map((c) => [JSON.stringify(c)]))('%s', (line) => {
    expect(parseEvent(line) !== undefined).toBe(RecordingEvent.safeParse(JSON.parse(line)).success);
  });
});
