import { describe, expect, it } from 'vitest';
import { replacePattern } from './masking-pass.js';
import type { MaskCounts } from './types.js';
import { seededRandom as random } from '../../test/helpers/random.js';

const ALPHABET = ['a', 'b', 'ab', '@', '1', '23', '-', ' ', '\n', '😀', '\ud83d', '\ude00', 'é', '$&', '$1'];

/** What replacePattern stands for: String.prototype.replace with a replacer function. */
function byReplace(pattern: RegExp, accept: ((m: string) => boolean) | undefined, replacement: string, text: string): { text: string; count: number } {
  let count = 0;
  const out = text.replace(pattern, (m) => {
    if (accept && !accept(m)) return m;
    count++;
    return replacement;
  });
  return { text: out, count };
}

describe('replacePattern', () => {
  // Empty matches (lastIndex moved on by hand, by code point under u and v), lookbehind, alternation with an empty
  // branch, a validity check that refuses some matches, and `$` in the replacement (inserted as it is).
  const cases: [string, string, ((m: string) => boolean) | undefined][] = [
    ['\\d+', 'g', undefined], ['a*', 'g', undefined], ['a*', 'gu', undefined], ['(?:)', 'gv', undefined], ['(?<=@)', 'g', undefined],
    ['b|', 'g', undefined], ['.', 'gu', undefined], ['[^a]', 'g', undefined], ['\\d+|a', 'g', (m) => m.length % 2 === 0], ['x', 'g', undefined],
    ['(?<![0-9])(?:\\d[ -]?){2,4}\\d(?![0-9])', 'g', (m) => !m.includes('-')],
  ];
  for (const [source, flags, accept] of cases) {
    it(`gives what String.prototype.replace gives: /${source}/${flags}${accept ? ' with a validity check' : ''} (2,000 random texts)`, () => {
      const next = random(source.length * 31 + flags.length);
      const pattern = new RegExp(source, flags);
      for (let n = 0; n < 2000; n++) {
        const text = Array.from({ length: Math.floor(next() * 16) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
        const expected = byReplace(pattern, accept, '[$&]', text);
        const counts: MaskCounts = {};
        const out = replacePattern(pattern, { name: 'r', accept, replacement: '[$&]' }, text, counts);
        if (out !== expected.text || (counts.r ?? 0) !== expected.count) {
          expect({ text: out, count: counts.r ?? 0 }, JSON.stringify(text)).toEqual(expected);
        }
      }
    });
  }

  it('returns the text itself and counts nothing when every match is refused', () => {
    const counts: MaskCounts = {};
    const text = 'a 12 b 34';
    expect(replacePattern(/\d+/g, { name: 'r', accept: () => false, replacement: 'X' }, text, counts)).toBe(text);
    expect(counts).toEqual({});
  });
});
