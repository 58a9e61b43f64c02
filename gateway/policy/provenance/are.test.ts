import { describe, expect, it } from 'vitest';
import { HopscopeError } from '../../../common/errors.js';
import { BUILTIN_RECOGNIZERS } from '../recognizers.js';
import { compileMasking } from '../rules.js';
import { replacementText, toAre, UntranslatablePattern } from './are.js';

/** The ARE of a JavaScript pattern, as compileMasking would make it (compiled first, so only valid patterns get here). */
const are = (pattern: string, flags = 'g') => toAre(new RegExp(pattern, flags).source, flags).source;
const NOT_LINE_END = '[^\\u000a\\u000d\\u2028-\\u2029]';
const ANY = '[\\u0001-\\ud7ff\\ue000-\\U0010ffff]';

describe('JavaScript patterns as PostgreSQL AREs: each construct', () => {
  it('letters, digits and spaces stay; every other literal becomes an escape PostgreSQL reads as itself', () => {
    expect(are('ab 12')).toBe('ab 12');
    expect(are('a\\.b')).toBe('a\\u002eb');
    expect(are('x-y/z')).toBe('x\\u002dy\\u002fz');
    expect(are('[:x:]]{')).toBe('[\\u003ax]\\u005d\\u007b'); // `[:x:]` is a class in JavaScript, never a POSIX class here
    expect(are('\\*\\*\\*')).toBe('\\u002a\\u002a\\u002a'); // never PostgreSQL's `***` director
  });

  it('\\d \\w \\s are ASCII digits, ASCII word characters and JavaScript\'s spaces; their capitals negated', () => {
    expect(are('\\d')).toBe('[0-9]');
    expect(are('\\D')).toBe('[^0-9]');
    expect(are('\\w')).toBe('[0-9A-Z\\u005fa-z]');
    expect(are('\\W')).toBe('[^0-9A-Z\\u005fa-z]');
    expect(are('\\s')).toBe('[\\u0009-\\u000d\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028-\\u2029\\u202f\\u205f\\u3000\\ufeff]');
    expect(are('\\S')).toMatch(/^\[\^\\u0009-\\u000d/);
  });

  it('. is anything but a line terminator', () => {
    expect(are('a.b')).toBe(`a${NOT_LINE_END}b`);
  });

  it('classes: ranges, negation, escapes, shorthands and their complements combined', () => {
    expect(are('[a-c_\\d]')).toBe('[0-9\\u005fa-c]');
    expect(are('[^-x]')).toBe('[^\\u002dx]');
    expect(are('[\\s\\S]')).toBe(ANY);
    expect(are('[^]')).toBe(ANY);
    expect(are('[\\Da]')).toBe('[^0-9]');
    expect(are('[^\\Da]')).toBe('[0-9]');
    expect(are('[\\D\\W5]')).toBe('[^0-46-9]');
    expect(are('[\\b\\t\\-\\]]')).toBe('[\\u0008-\\u0009\\u002d\\u005d]');
    expect(are('[\\d-x]')).toBe('[\\u002d0-9x]'); // Annex B: a class, a hyphen and x
  });

  it('quantifiers carry over; lazy ones become greedy', () => {
    expect(are('a*b+c?d{2}e{2,}f{2,5}')).toBe('a*b+c?d{2}e{2,}f{2,5}');
    expect(are('a*?b+?c??d{2,5}?')).toBe('a*b+c?d{2,5}');
    expect(are('a{x')).toBe('a\\u007bx'); // not a quantifier: a literal brace
  });

  it('groups, non-capturing groups and alternation', () => {
    expect(are('(ab|c)(?:d|)e')).toBe('(ab|c)(?:d|)e');
  });

  it('lookahead and lookbehind (PostgreSQL 9.6+)', () => {
    expect(are('(?=a)b(?!c)(?<=d)(?<!e)')).toBe('(?=a)b(?!c)(?<=d)(?<!e)');
  });

  it('word boundaries are dropped (a value glued to a letter or digit has none)', () => {
    expect(are('\\b\\d{3}\\B-')).toBe('[0-9]{3}\\u002d');
  });

  it('character escapes: \\t \\n \\xHH \\uHHHH, surrogate pairs, \\cX, identity escapes', () => {
    expect(are('\\t\\n\\v\\f\\r')).toBe('\\u0009\\u000a\\u000b\\u000c\\u000d');
    expect(are('\\x41\\u00e9\\cJ\\q')).toBe('A\\u00e9\\u000aq');
    expect(are('\\ud83d\\ude00|\u{1F600}')).toBe('\\U0001f600|\\U0001f600');
  });

  it('anchors stay; i becomes regexp_replace\'s i', () => {
    expect(toAre('^a$', 'g')).toEqual({ source: '^a$', flags: 'g' });
    expect(toAre('[^a-z]', 'gi')).toEqual({ source: '[^a-z]', flags: 'gi' }); // kept negated, so PostgreSQL folds case as JavaScript does
  });

  it('text regexp_replace inserts as is', () => {
    expect(replacementText('a\\b&c')).toBe('a\\\\b\\&c');
  });
});

describe('JavaScript patterns PostgreSQL cannot carry faithfully are refused', () => {
  const refused: [string, string, RegExp][] = [
    ['(a)\\1', 'g', /backreference/],
    ['(?<year>\\d{4})', 'g', /named group/],
    ['(?<y>a)\\k<y>', 'g', /named group/],
    ['a', 'gm', /flag m/],
    ['a', 'gs', /flag s/],
    ['a', 'gu', /flag u/],
    ['a', 'gy', /flag y/],
    ['a{256}', 'g', /bound over 255/],
    ['a{1,300}', 'g', /bound over 255/],
    ['(?=a)*b', 'g', /quantified an assertion/],
    ['[^\\s\\S]', 'g', /matches no character/],
    ['[]', 'g', /matches no character/],
    ['a\\0', 'g', /NUL/],
    ['\\ud83d', 'g', /lone surrogate/],
  ];
  for (const [pattern, flags, why] of refused) {
    it(`/${pattern}/${flags}`, () => {
      expect(() => toAre(new RegExp(pattern, flags).source, flags)).toThrow(UntranslatablePattern);
      expect(() => toAre(new RegExp(pattern, flags).source, flags)).toThrow(why);
    });
  }

  it('at config load, as CONFIG_INVALID naming the rule, only when the rule has columns', () => {
    const load = (rule: Record<string, unknown>) => compileMasking([rule], 'gw.yml');
    expect(load({ name: 'dup', pattern: '(\\d)\\1' })[0]!.sqlPattern).toBeUndefined(); // output only: no translation needed
    let error: unknown;
    try { load({ name: 'dup', pattern: '(\\d)\\1', columns: ['t.notes'] }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(HopscopeError);
    expect((error as HopscopeError).code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toMatch(/gw\.yml: masking rule dup: the pattern cannot be applied at the source columns \(columns\): a backreference/);
    expect(() => load({ name: 'c', column: 't.x', columns: ['t.y'] })).toThrow(/columns goes with pattern or builtin/);
    expect(() => load({ name: 'c', pattern: 'x', columns: [] })).toThrow(/columns/);
    expect(() => load({ name: 'c', pattern: 'x', columns: ['a.b.c.d'] })).toThrow(/\[schema\.\]table\.column/);
  });

  it('compiles columns like column rules, with the ARE and the flag of a wildcard column part', () => {
    const [ssn, card] = compileMasking([
      { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', columns: ['customers.*', 'sales.*.ssn'] },
      { name: 'card', builtin: 'credit-card', columns: ['notes'] },
    ], 't');
    expect(ssn!.sqlPattern).toEqual({ source: '[0-9]{3}\\u002d[0-9]{2}\\u002d[0-9]{4}', flags: 'g' });
    expect(ssn!.sourceColumns!.map((s) => [s.schema?.test('SALES'), s.table?.test('customers'), s.column.test('ssn'), s.columnGlob]))
      .toEqual([[undefined, true, true, true], [true, true, true, false]]);
    expect(ssn!.source).toBeUndefined(); // not a column rule: nothing masks the whole value by name
    expect(card!.sqlPattern).toEqual({ source: BUILTIN_RECOGNIZERS['credit-card']!.sql, flags: 'g' });
  });
});
