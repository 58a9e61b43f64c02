import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { compileMasking, Masker } from '../policy/index.js';
import { OutputMasker, readsAsUtf8 } from './masking.js';

// 'Ã' is how the first byte of a UTF-8 'é' (0xc3 0xa9) reads as latin1: the rule matches only when a chunk is read as latin1.
const masker = new Masker(compileMasking([{ name: 'a-tilde', pattern: 'Ã' }, { name: 'card', builtin: 'credit-card' }], 't'));

function maskedOutput(chunk: Buffer): Buffer {
  const out: Buffer[] = [];
  const m = new OutputMasker((t) => masker.maskText(t), (c) => out.push(c), false);
  m.push(chunk);
  m.flush();
  return Buffer.concat(out);
}

/** The masking as it was before the 0xff shortcut: isUtf8 decides how each part is read (up to the last newline, then the rest). */
function reference(chunk: Buffer): Buffer {
  const cut = chunk.lastIndexOf(0x0a) + 1;
  return Buffer.concat([chunk.subarray(0, cut), chunk.subarray(cut)].filter((part) => part.length > 0).map((part) => {
    const encoding = isUtf8(part) ? 'utf8' : 'latin1';
    const { text, counts } = masker.maskText(part.toString(encoding));
    return Object.keys(counts).length ? Buffer.from(text, encoding) : part;
  }));
}

describe('OutputMasker: how a chunk is read', () => {
  it('reads valid UTF-8 as text and anything else as latin1, as isUtf8 decides (5,000 random chunks)', () => {
    let seed = 5;
    const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const pieces = [Buffer.from('é'), Buffer.from('4111 1111 1111 1111'), Buffer.from('plain text\n'), Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xfe, 0x80]), Buffer.from('€😀')];
    let binary = 0;
    for (let n = 0; n < 5000; n++) {
      const chunk = Buffer.concat(Array.from({ length: 1 + Math.floor(next() * 8) }, () => pieces[Math.floor(next() * pieces.length)]!));
      if (readsAsUtf8(chunk) !== isUtf8(chunk)) expect(readsAsUtf8(chunk), chunk.toString('hex')).toBe(isUtf8(chunk));
      if (!isUtf8(chunk)) binary++;
      const expected = reference(chunk);
      const actual = maskedOutput(chunk);
      if (!actual.equals(expected)) expect(actual.toString('hex'), chunk.toString('hex')).toBe(expected.toString('hex'));
    }
    expect(binary).toBeGreaterThan(1000);
  });

  it('masks a value in binary output (a 0xff byte) byte for byte, and leaves UTF-8 text that only its latin1 reading would match', () => {
    const binary = Buffer.concat([Buffer.from([0xff, 0x00, 0xc3, 0xa9]), Buffer.from(' card 4111111111111111\n')]);
    expect(maskedOutput(binary)).toEqual(Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from('[masked:a-tilde]'), Buffer.from([0xa9]), Buffer.from(' card [masked:card]\n')]));
    expect(maskedOutput(Buffer.from('café 4111111111111111\n')).toString()).toBe('café [masked:card]\n');
  });
});
