import { afterAll, describe, expect, it } from 'vitest';
import { readRecordingLines, verifyRecordingFile } from './read.js';
import { TempDir, buildRecording } from './testing/recordings.js';

const CHUNK = 1 << 20; // the read chunk of readRecordingLines
const tmp = new TempDir();
afterAll(() => tmp.remove());

async function readAll(path: string): Promise<{ line: string; complete: boolean }[]> {
  const out: { line: string; complete: boolean }[] = [];
  for await (const l of readRecordingLines(path)) out.push(l);
  return out;
}

/** A line of `bytes` UTF-8 bytes (without newline), made of `fill` then ASCII padding. */
function lineOf(bytes: number, fill = ''): string {
  const used = Buffer.byteLength(fill);
  return fill + 'x'.repeat(bytes - used);
}

describe('readRecordingLines', () => {
  it('yields lines without newlines, keeping empty lines, and flags a torn last line', async () => {
    const path = tmp.write('small.txt', 'a\n\nb\ntorn');
    expect(await readAll(path)).toEqual([
      { line: 'a', complete: true }, { line: '', complete: true }, { line: 'b', complete: true }, { line: 'torn', complete: false },
    ]);
    expect(await readAll(tmp.write('empty.txt', ''))).toEqual([]);
  });

  it.each([
    ['the last byte of a chunk', CHUNK - 1],
    ['the first byte of the next chunk', CHUNK],
    ['the second byte of the next chunk', CHUNK + 1],
  ])('splits correctly when a newline is %s', async (_where, offset) => {
    const lines = [lineOf(offset), 'after', lineOf(10)];
    const path = tmp.write(`nl-${offset}.txt`, `${lines.join('\n')}\n`);
    const got = await readAll(path);
    expect(got.map((l) => l.line)).toEqual(lines);
    expect(got.every((l) => l.complete)).toBe(true);
  });

  it('decodes a multi-byte character split across two chunks', async () => {
    // 'é' is two bytes: its first byte is the last of chunk 1, its second the first of chunk 2.
    const first = 'y'.repeat(CHUNK - 10);
    const second = `${'z'.repeat(8)}é${'w'.repeat(20)}`;
    expect(Buffer.byteLength(`${first}\n${'z'.repeat(8)}`)).toBe(CHUNK - 1);
    const got = await readAll(tmp.write('utf8.txt', `${first}\n${second}\n`));
    expect(got.map((l) => l.line)).toEqual([first, second]);
  });

  it('reads a line larger than a chunk, and one spanning three chunks', async () => {
    const big = lineOf(CHUNK * 2 + 123, 'ééé');
    const lines = ['start', big, 'end'];
    const got = await readAll(tmp.write('big.txt', `${lines.join('\n')}\n`));
    expect(got.map((l) => l.line.length)).toEqual(lines.map((l) => l.length));
    expect(got[1]!.line).toBe(big);
  });

  it('keeps a torn last line that spans chunks', async () => {
    const torn = lineOf(CHUNK + 5);
    const got = await readAll(tmp.write('torn-big.txt', `head\n${torn}`));
    expect(got).toEqual([{ line: 'head', complete: true }, { line: torn, complete: false }]);
  });
});

describe('verifyRecordingFile across chunk boundaries', () => {
  it('verifies a recording whose events span chunk boundaries as intact', async () => {
    // ~300 KB lines of two-byte characters: boundaries fall inside lines and characters.
    const rec = buildRecording({ events: 12, checkpointEvery: 5, data: (i) => ({ text: `${'é'.repeat(150_000 + i)}` }) });
    const path = tmp.writeLines('wide.jsonl', rec.lines);
    const got = await readAll(path);
    expect(got.map((l) => l.line)).toEqual(rec.lines);
    const r = await verifyRecordingFile(path, rec.trusted);
    expect(r).toMatchObject({ status: 'intact', lastSeq: 17, intactThroughSeq: 17, signedThroughSeq: 17, findings: [] });
  });

  it('verifies a recording with an event larger than a chunk as intact', async () => {
    const rec = buildRecording({ events: 3, data: (i) => ({ blob: i === 2 ? 'q'.repeat(3 * CHUNK) : 'small' }) });
    const r = await verifyRecordingFile(tmp.writeLines('huge.jsonl', rec.lines), rec.trusted);
    expect(r).toMatchObject({ status: 'intact', lastSeq: 6, findings: [] });
  });

  it('detects an alteration inside an event larger than a chunk', async () => {
    const rec = buildRecording({ events: 3, data: (i) => ({ blob: i === 2 ? 'q'.repeat(3 * CHUNK) : 'small' }) });
    const lines = [...rec.lines];
    lines[3] = `${lines[3]!.slice(0, CHUNK + 7)}Q${lines[3]!.slice(CHUNK + 8)}`;
    const r = await verifyRecordingFile(tmp.writeLines('huge-altered.jsonl', lines), rec.trusted);
    expect(r.status).toBe('tampered');
    expect(r.findings.map((f) => ({ kind: f.kind, seq: f.seq }))).toEqual([{ kind: 'altered', seq: 3 }]);
  });
});
