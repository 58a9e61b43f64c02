/**
 * Cheap necessary conditions for the built-in recognizers (issue 15): a check
 * that says false only when a recognizer's pattern cannot match anywhere in a
 * text, so `maskWith` can skip that pattern's full pass. They must never say
 * false for a text the pattern matches: masking-prefilter.test.ts checks that
 * against the patterns themselves on random texts full of real and near-miss values.
 */

/**
 * The characters a run may be made of, as a lookup table over every UTF-16 code
 * unit: one load per character, without a `code < 128` branch that half of all
 * bytes of binary output would mispredict (64 KB a table; twice as fast as a
 * 128-entry table on random output).
 */
export function charClass(chars: string): Uint8Array {
  const table = new Uint8Array(65536);
  for (const c of chars) table[c.charCodeAt(0)] = 1;
  return table;
}

export const DIGITS = '0123456789';
export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';

/**
 * Whether the text holds `min` or more consecutive characters of `table`. Only
 * every `min`-th character is looked at until one is in the class (a run of
 * `min` covers one of them), then the run around it is measured: on text
 * with few such characters (binary output, prose) this reads a fraction of it,
 * where a regex would try every position.
 */
export function hasRun(text: string, table: Uint8Array, min: number): boolean {
  const n = text.length;
  let i = min - 1;
  while (i < n) {
    if (!inTable(table, text.charCodeAt(i))) {
      i += min; // a run of `min` ending before i+min would have held position i
      continue;
    }
    let start = i;
    while (start > 0 && inTable(table, text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < n && inTable(table, text.charCodeAt(end))) end++;
    if (end - start >= min) return true;
    i = end + min; // `end` is outside the class: the next long run starts after it
  }
  return false;
}

function inTable(table: Uint8Array, code: number): boolean {
  return table[code] === 1;
}

const EMAIL_LOCAL = charClass(`${UPPER}${LOWER}${DIGITS}._%+-`);
/** What must follow the '@' of an email match: the domain up to a dot and two letters. */
const EMAIL_DOMAIN = /[A-Za-z0-9.-]+\.[A-Za-z]{2}/y;

/** An '@' with a local-part character before it and a domain after it (every email match has one). */
export function mayHoldEmail(text: string): boolean {
  for (let at = text.indexOf('@', 1); at >= 0; at = text.indexOf('@', at + 1)) {
    if (!inTable(EMAIL_LOCAL, text.charCodeAt(at - 1))) continue;
    EMAIL_DOMAIN.lastIndex = at + 1;
    if (EMAIL_DOMAIN.test(text)) return true;
  }
  return false;
}
