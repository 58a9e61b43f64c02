import { charClass, DIGITS, hasRun, mayHoldEmail, UPPER } from './masking-prefilter.js';

/**
 * Built-in recognizers of sensitive values. Each is a global regex plus, where
 * the format has one, a validity check that cuts false positives (Luhn for card
 * numbers, mod-97 for IBANs).
 */
export interface Recognizer {
  pattern: RegExp;
  accept?: (match: string) => boolean;
  /**
   * What every match must contain, as a check far cheaper than a pass of the
   * pattern: false only when the pattern cannot match the text (e.g. no '@' that
   * could join a local part and a domain, no run of 13 digits and separators),
   * so masking skips the pass (issue 15). masking-prefilter.test.ts holds it to that.
   */
  mayMatch: (text: string) => boolean;
  /**
   * The same shape as a PostgreSQL regular expression (ARE), applied at the
   * source columns a rule names (`columns:`). SQL has no Luhn or mod-97 check,
   * so the source form masks every value of the shape.
   */
  sql: string;
}

/**
 * No recognizer depends on `\b`: a value glued to letters or digits
 * (`'x' || ssn || '9'`) has no word boundary, and would pass. Digit-based ones
 * only refuse to start or end inside a longer run of the same shape where that
 * run is checked as a whole (cards: every card-length window of the run).
 */
/** The characters a whole match is made of (every match is one unbroken run of them). */
const CARD_CHARS = charClass(`${DIGITS} -`);
const SSN_CHARS = charClass(`${DIGITS}-`);
const IBAN_CHARS = charClass(`${UPPER}${DIGITS} `);
const AWS_CHARS = charClass(`${UPPER}${DIGITS}`);

export const BUILTIN_RECOGNIZERS: Record<string, Recognizer> = {
  email: {
    // The lookbehind starts a match only at the start of a local part: without it a long run with no '@'
    // is retried from every position (quadratic: minutes for 300 KB of one letter).
    pattern: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g,
    mayMatch: mayHoldEmail,
    sql: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}',
  },
  'credit-card': {
    pattern: /(?<![0-9])(?:\d[ -]?){12,30}\d(?![0-9])/g, accept: (m) => cardInRun(m.replace(/[ -]/g, '')),
    mayMatch: (text) => hasRun(text, CARD_CHARS, 13), // 13 digits or more, single spaces or dashes between
    // Any run of 13 or more digits with single space or dash separators, whole: no Luhn in SQL,
    // and a card glued to other digits is inside a longer run (the output form checks its windows).
    sql: '[0-9](?:[ -]?[0-9]){12,}',
  },
  'us-ssn': {
    pattern: /(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}/g,
    mayMatch: (text) => hasRun(text, SSN_CHARS, 11),
    sql: '(?!000|666|9[0-9][0-9])[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}',
  },
  iban: {
    pattern: /[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?/g, accept: (m) => ibanInRun(m.replace(/ /g, '')),
    mayMatch: (text) => hasRun(text, IBAN_CHARS, 12), // 4 + 2 × 4 at least
    sql: '[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?', // every IBAN-shaped run (no mod-97 in SQL)
  },
  'aws-access-key': {
    pattern: /(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}/g,
    mayMatch: (text) => hasRun(text, AWS_CHARS, 20),
    sql: '(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}',
  },
  jwt: {
    pattern: /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}/g,
    mayMatch: (text) => text.includes('eyJ'),
    sql: 'eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{10,}',
  },
  'pem-private-key': {
    pattern: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|$)/g,
    mayMatch: (text) => text.includes('PRIVATE KEY-----'),
    // From the BEGIN line to the end of the value: PostgreSQL has no lazy match of the
    // whole expression, and masking to the end holds whatever follows a key.
    sql: '-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.*',
  },
};

/**
 * A run of digits holds a card number: the whole run passes Luhn (13-19 digits),
 * or — a card glued to other digits — a 15- or 16-digit window starting with a
 * card network's first digit (3-6) does.
 */
export function cardInRun(digits: string): boolean {
  if (digits.length <= 19 && luhn(digits)) return true;
  if (digits.length <= 16) return false;
  for (const len of [16, 15]) {
    for (let i = 0; i + len <= digits.length; i++) {
      const c = digits.charCodeAt(i);
      if (c >= 0x33 && c <= 0x36 && luhn(digits.slice(i, i + len))) return true;
    }
  }
  return false;
}

/** An IBAN anywhere in a run of capitals and digits (glued to other letters or digits): any valid start and end. */
export function ibanInRun(run: string): boolean {
  if (ibanValid(run)) return true;
  for (let start = 0; start + 15 <= run.length; start++) {
    if (!/^[A-Z]{2}\d{2}/.test(run.slice(start, start + 4))) continue;
    for (let end = Math.min(run.length, start + 34); end >= start + 15; end--) if (ibanValid(run.slice(start, end))) return true;
  }
  return false;
}

export function luhn(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function ibanValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}
