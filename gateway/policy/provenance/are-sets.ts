/**
 * Sets of code points for the JavaScript-to-ARE translation (are.ts): JavaScript's
 * classes as explicit ranges, their complements within what PostgreSQL text can
 * hold (no NUL, no surrogates), and bracket expressions PostgreSQL reads exactly.
 */

/** Why a pattern cannot be translated (the caller names the rule). */
export class UntranslatablePattern extends Error {}

export type Range = [number, number];
/** A set of code points, or (negated) everything but them: PostgreSQL's case folding under `i` needs `[^…]` kept as such. */
export interface ClassSet { ranges: Range[]; negated: boolean }

const MAX_CODE_POINT = 0x10ffff;
const DIGITS: Range[] = [[0x30, 0x39]];
const WORD: Range[] = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
/** JavaScript's \s: WhiteSpace and LineTerminator. */
const SPACES: Range[] = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
export const LINE_TERMINATORS: Range[] = [[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]];
export const SHORTHANDS: Record<string, Range[]> = { d: DIGITS, w: WORD, s: SPACES };

export function normalize(ranges: Range[]): Range[] {
  const sorted = ranges.map(([a, b]) => [a, b] as Range).sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Every code point PostgreSQL text can hold (no NUL, no surrogates) outside `set`. */
export function complement(set: Range[]): Range[] {
  const out: Range[] = [];
  let next = 1;
  for (const [lo, hi] of normalize(set)) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/** `a` without `b`. */
export function subtract(a: Range[], b: Range[]): Range[] {
  const keep = complement(b);
  const out: Range[] = [];
  for (const [lo, hi] of normalize(a)) {
    for (const [klo, khi] of keep) {
      const x = Math.max(lo, klo);
      const y = Math.min(hi, khi);
      if (x <= y) out.push([x, y]);
    }
  }
  return out;
}

/** A bracket expression (`[^…]` for a negated set), NUL and surrogates left out (PostgreSQL text has neither). */
export function classOf(set: ClassSet): string {
  if (set.negated && normalize(set.ranges).length === 0) return classOf({ ranges: complement([]), negated: false }); // `[^]`: anything
  const parts: string[] = [];
  for (const [lo, hi] of normalize(set.ranges)) {
    for (const [a, b] of [[Math.max(lo, 1), Math.min(hi, 0xd7ff)], [Math.max(lo, 0xe000), hi]] as Range[]) {
      if (a > b) continue;
      parts.push(a === b ? codePoint(a) : `${codePoint(a)}-${codePoint(b)}`);
    }
  }
  if (parts.length === 0 && !set.negated) throw new UntranslatablePattern('a class that matches no character PostgreSQL text can hold');
  if (set.negated && complement(set.ranges).length === 0) throw new UntranslatablePattern('a class that matches no character PostgreSQL text can hold');
  return `[${set.negated ? '^' : ''}${parts.join('')}]`;
}

/** A code point written so PostgreSQL reads it as itself anywhere: letters and digits as they are, the rest as \u or \U escapes. */
function codePoint(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) return String.fromCharCode(cp);
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}

export function literal(cp: number): string {
  if (cp === 0x20) return ' ';
  return codePoint(cp);
}
