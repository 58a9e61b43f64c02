import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fileHashes, hashThreadAvailable } from './line-hashes.js';
import { readRecordingBatches, type RecordingLine } from './read.js';
import { TempDir } from './testing/recordings.js';

const CHUNK = 1 << 20; // the read chunk of readRecordingBatches
const tmp = new TempDir();
afterAll(() => tmp.remove());

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Reads a file as the importer does (hashes from `thread` or this thread) and returns its lines and the file hash. */
async function read(path: string, thread: boolean): Promise<{ lines: RecordingLine[]; file: string }> {
  const hashes = await fileHashes(thread);
  const lines: RecordingLine[] = [];
  try {
    for await (const batch of readRecordingBatches(path, { onBytes: (c) => hashes.push(c) })) {
      await hashes.fill(batch);
      // The bytes are views into the read chunk: keep copies.
      lines.push(...batch.map((l) => ({ ...l, bytes: Buffer.from(l.bytes) })));
    }
    return { lines, file: await hashes.end() };
  } finally {
    hashes.close();
  }
}

const SHAPES: [string, string][] = [
  ['small lines, empty lines and a torn end', 'a\n\nb\nc\r\ntorn'],
  ['a newline on the last byte of a chunk', `${'x'.repeat(CHUNK - 1)}\nafter\n`],
  ['a newline on the first byte of the next chunk', `${'x'.repeat(CHUNK)}\nafter\n`],
  ['a line spanning three chunks, multi-byte characters across a boundary', `start\n${'é'.repeat(CHUNK + 7)}\nend\n`],
  ['a torn last line spanning chunks', `head\n${'q'.repeat(CHUNK + 5)}`],
  ['many short lines over several chunks', Array.from({ length: 12_000 }, (_, i) => `{"seq":${i},"x":"${'y'.repeat(i % 397)}"}`).join('\n') + '\n'],
];

describe('line hashes', () => {
  it('the hash thread runs here (the compiled worker is built)', async () => {
    expect(await hashThreadAvailable()).toBe(true);
  });

  it.each(SHAPES)('on the hash thread, every complete line gets the SHA-256 of its bytes, and the file its own: %s', async (name, text) => {
    const path = tmp.write(`${name.replace(/\W+/g, '-')}.txt`, text);
    const { lines, file } = await read(path, true);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.map((l) => l.hash)).toEqual(lines.map((l) => (l.complete ? sha(l.bytes) : undefined)));
    expect(file).toBe(sha(readFileSync(path)));
  });

  it('without the thread, the file gets its hash and the lines none (the verifier hashes them)', async () => {
    const path = tmp.write('inline.txt', SHAPES[3]![1]);
    const { lines, file } = await read(path, false);
    expect(lines.map((l) => l.hash)).toEqual(lines.map(() => undefined));
    expect(file).toBe(sha(readFileSync(path)));
  });

  it('keeps the files apart when two are read at once', async () => {
    const a = tmp.write('two-a.txt', Array.from({ length: 9000 }, (_, i) => `a${i}`.repeat(40)).join('\n') + '\n');
    const b = tmp.write('two-b.txt', Array.from({ length: 7000 }, (_, i) => `b${i}`.repeat(60)).join('\n') + '\n');
    const [ra, rb] = await Promise.all([read(a, true), read(b, true)]);
    const all = [...ra.lines, ...rb.lines];
    expect(all.map((l) => l.hash)).toEqual(all.map((l) => sha(l.bytes)));
    expect([ra.file, rb.file]).toEqual([sha(readFileSync(a)), sha(readFileSync(b))]);
  });
});
