import { describe, expect, it } from 'vitest';
import { Masker, maskWith } from './masking.js';
import { charClass, DIGITS, hasRun, mayHoldEmail } from './masking-prefilter.js';
import { BUILTIN_RECOGNIZERS } from './recognizers.js';
import { compileMasking, type CompiledMasking } from './rules.js';
import type { MaskCounts } from './types.js';
import { seededRandom as random } from '../../test/helpers/random.js';

/** Values every recognizer matches, and near misses of each (one short, a separator doubled, a prefix alone). */
const REAL = [
  'p1@example.com', 'a.b+c@mail.example.org', '4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005',
  '123-45-6789', '078-05-1120', 'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000',
  'AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----\nMIIE',
];
const NEAR = [
  'p1@', '@example.com', 'p1@example', 'p1@example.c', 'user @example.com', '411111111111', '4111 1111 1111 111', '4111  1111 1111 1111',
  '4111--1111-1111-1111', '123-45-678', '123-4-56789', '000-12-3456', '666-12-3456', '123 45 6789', 'GB82WEST1234', 'GB8 2WEST12345698765432',
  'AKIAIOSFODNN7EXAMPL', 'AKIA', 'eyJhbGciOiJIUzI1NiJ9', 'eyJ.eyJ.', '-----BEGIN PUBLIC KEY-----', 'PRIVATE KEY-----', '-----BEGIN ',
];
const NOISE = ['a', 'Z', 'q', '0', '7', '9', ' ', '-', '.', '@', '_', '+', '%', '\n', '\t', ':', '/', 'é', '€', '漢', '\u0000', 'eyJ', 'AKIA', 'GB'];

/** A text of noise with real and near-miss values, some cut in two or glued to their neighbours. */
function textOf(next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  let text = '';
  const parts = 1 + Math.floor(next() * 12);
  for (let p = 0; p < parts; p++) {
    const roll = next();
    const piece = roll < 0.25 ? pick(REAL) : roll < 0.5 ? pick(NEAR) : Array.from({ length: Math.floor(next() * 20) }, () => pick(NOISE)).join('');
    text += next() < 0.15 ? piece.slice(0, Math.floor(next() * piece.length)) : piece;
  }
  return text;
}

/** The masking before the prefilter: every pattern rule a full pass, in order. */
function sequentialPasses(rules: CompiledMasking[], input: string): { text: string; counts: MaskCounts } {
  const counts: MaskCounts = {};
  let text = input;
  for (const rule of rules) {
    if (!rule.pattern) continue;
    text = text.replace(rule.pattern, (match) => {
      if (rule.accept && !rule.accept(match)) return match;
      counts[rule.name] = (counts[rule.name] ?? 0) + 1;
      return rule.replacement;
    });
  }
  return { text, counts };
}

describe('hasRun', () => {
  it('is true exactly when the text holds that many consecutive characters of the class (random texts, every length 1-25)', () => {
    const next = random(7);
    const table = charClass(`${DIGITS} -`);
    for (let n = 0; n < 20000; n++) {
      const min = 1 + (n % 25);
      const text = Array.from({ length: Math.floor(next() * 60) }, () => '12 -x'[Math.floor(next() * 5)]).join('');
      const expected = new RegExp(`[0-9 -]{${min}}`).test(text);
      if (hasRun(text, table, min) !== expected) expect(hasRun(text, table, min), `${JSON.stringify(text)} min ${min}`).toBe(expected);
    }
  });
});

describe('the recognizers\' prefilters (mayMatch)', () => {
  for (const [name, recognizer] of Object.entries(BUILTIN_RECOGNIZERS)) {
    it(`${name}: never says no to a text its pattern matches (seed 11, 20,000 random texts)`, () => {
      const next = random(11);
      const pattern = new RegExp(recognizer.pattern.source, recognizer.pattern.flags.replace('g', ''));
      let matched = 0;
      let skipped = 0;
      for (let n = 0; n < 20000; n++) {
        const text = textOf(next);
        const may = recognizer.mayMatch(text);
        if (pattern.test(text)) {
          matched++;
          if (!may) expect(may, JSON.stringify(text)).toBe(true);
        } else if (!may) skipped++;
      }
      // The texts hold matches and texts the prefilter rules out: both sides were exercised.
      expect(matched).toBeGreaterThan(500);
      expect(skipped).toBeGreaterThan(500);
    });
  }

  it('email: an @ needs a local character before it and a domain with a dot and two letters after it', () => {
    expect(mayHoldEmail('x@y.zz')).toBe(true);
    expect(mayHoldEmail('@y.zz x@y.z x @y.zz x@y')).toBe(false);
  });
});

describe('maskWith with the prefilters', () => {
  // Every built-in, a user pattern, and a user rule whose replacement is itself an email and a card: the rules after it
  // must see (and mask) what it wrote, so each prefilter has to be asked about the text as the earlier rules left it.
  const rules = compileMasking([
    { name: 'token', pattern: 'TOK(EN)?', replace: 'mail p9@example.net card 4111 1111 1111 1111' },
    ...Object.keys(BUILTIN_RECOGNIZERS).map((builtin) => ({ name: builtin, builtin })),
    { name: 'ssn-user', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
    { name: 'phone', pattern: '\\+\\d{2} \\d{3}', replace: '4111111111111111' },
    { name: 'luhn-again', builtin: 'credit-card', replace: '[card again]' },
  ], 'test.yml');

  it('gives the same text and counts as every pass run in full (seeds 1-3, 30,000 random texts)', () => {
    let masked = 0;
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      for (let n = 0; n < 10000; n++) {
        let text = textOf(next);
        if (next() < 0.1) text += next() < 0.5 ? ' TOKEN ' : ' +49 301';
        const expected = sequentialPasses(rules, text);
        const actual = maskWith(rules, text);
        if (actual.text !== expected.text || JSON.stringify(actual.counts) !== JSON.stringify(expected.counts)) expect(actual, JSON.stringify(text)).toEqual(expected);
        if (Object.keys(expected.counts).length) masked++;
      }
    }
    expect(masked).toBeGreaterThan(5000);
  });

  it('masks what an earlier rule wrote: the prefilter reads the text as it is then', () => {
    const { text, counts } = new Masker(rules).maskText('id TOK and +49 301');
    expect(text).toBe('id mail [masked:email] card [masked:credit-card] and [card again]');
    expect(counts).toEqual({ token: 1, email: 1, 'credit-card': 1, phone: 1, 'luhn-again': 1 });
  });
});
