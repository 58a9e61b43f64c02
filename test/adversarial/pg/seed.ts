// The seeded secrets of the adversarial PostgreSQL suite and every form in which
// a client or a recording could carry one: as is, reversed, hex, base64 (any
// alignment), digits only, digits with separators, split in two by a few bytes.
// Values are distinctive so that a match is a leak, never a coincidence; test
// SQL never spells one (the recording keeps the client's SQL as sent).

/** Appends the Luhn check digit to a 15-digit body. */
function withLuhn(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const digits = body + d;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let n = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
      sum += n;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

export interface Customer { id: number; name: string; email: string; ssn: string; card: string; notes: string; notesSsn: string }

const ROWS: [string, string, string, string, string][] = [
  // name, email, ssn, card body (15 digits), notes-only SSN
  ['Ada Brook', 'k7wrenhollow@vaultseed.example', '487-62-9135', '453914880343646', '381-47-2956'],
  ['Ben Marsh', 'qz.obafrostvane@tallowmere.example', '512-83-4706', '549812377390215', '293-58-1647'],
  ['Cleo Dunn', 'ysolde.marrowgate91@quillfen.example', '239-51-8674', '601173850216493', '174-39-6285'],
  ['Dov Reyes', 'caspianthornwick@brackenlow.example', '618-27-3049', '412703958126740', '526-14-9738'],
  ['Eve Lund', 'liesel_bramblewort@fernstead.example', '704-39-5812', '371449635398431', '635-72-4819'],
];

export const CUSTOMERS: Customer[] = ROWS.map(([name, email, ssn, body, notesSsn], i) => ({
  id: i + 1, name, email, ssn, card: withLuhn(body), notesSsn,
  notes: `callback ok; ssn on file ${notesSsn}; prefers post`,
}));

/** The secrets: the protected columns' values and the SSN inside each note. */
export const SECRETS: { kind: 'email' | 'ssn' | 'card' | 'notes-ssn'; value: string }[] = CUSTOMERS.flatMap((c) => [
  { kind: 'email' as const, value: c.email }, { kind: 'ssn' as const, value: c.ssn },
  { kind: 'card' as const, value: c.card }, { kind: 'notes-ssn' as const, value: c.notesSsn },
]);

/** Tables of the example database: customers (protected columns), orders (none), scratch (a free table to launder into). */
export const SEED_SQL = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, card text, notes text);
INSERT INTO customers VALUES ${CUSTOMERS.map((c) => `(${c.id}, '${c.name}', '${c.email}', '${c.ssn}', '${c.card}', '${c.notes}')`).join(', ')};
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), item text NOT NULL, amount numeric(10,2));
INSERT INTO orders SELECT g, 1 + g % 5, 'widget-' || g, g * 3.25 FROM generate_series(1, 12) g;
CREATE TABLE scratch (t text);
`;

export const NAMES = CUSTOMERS.map((c) => c.name);

/** A form of one secret that would tell it: a literal text (case-insensitive unless cased) or a regex. */
interface Form { label: string; text?: string; cased?: boolean; bytes?: boolean; re?: RegExp }

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hex = (s: string) => Buffer.from(s).toString('hex');

/** Base64 of `value` as it appears at any offset of a larger encoded buffer: the groups that hold only its bytes. */
function base64Middles(value: string): string[] {
  const bytes = Buffer.from(value);
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const first = Math.ceil(k / 3);
    const last = Math.floor((k + bytes.length) / 3); // exclusive group index
    if (last - first >= 2) out.push(b64.slice(first * 4, last * 4));
  }
  return out;
}

function formsOf(kind: string, value: string): Form[] {
  const forms: Form[] = [
    { label: 'clear', text: value },
    { label: 'reversed', text: [...value].reverse().join('') },
    { label: 'hex', text: hex(value) },
    { label: 'hex-reversed', text: hex([...value].reverse().join('')) },
    ...base64Middles(value).map((b) => ({ label: 'base64', text: b, cased: true })),
    // Split in two by up to 6 bytes (two columns, a length prefix, a separator), anywhere but the very ends.
    { label: 'split', re: new RegExp([...value].slice(2, -2).map((_, i) => `${esc(value.slice(0, i + 2))}[^]{1,6}${esc(value.slice(i + 2))}`).join('|'), 'i') },
  ];
  const digits = value.replace(/\D/g, '');
  if (kind !== 'email') {
    forms.push({ label: 'digits', text: digits }, { label: 'digits-reversed', text: [...digits].reverse().join('') });
    // Digits with separators between them ("4539 1488 …", "4-8-7…", one per column). Not letters:
    // hex hashes and base64 signatures in a recording would match by chance.
    // A binary-format int8 of the digits (replace(ssn, '-', '')::bigint in binary results).
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(BigInt(digits));
    forms.push({ label: 'int8-binary', text: int8.toString('latin1'), bytes: true });
    forms.push({ label: 'digits-separated', re: new RegExp([...digits].join('[^0-9A-Za-z]{0,6}')) });
  } else {
    forms.push({ label: 'local-part', text: value.split('@')[0]! });
    // Every character apart ("k 7 w r …", one per row or element).
    forms.push({ label: 'spaced', re: new RegExp([...value].map(esc).join('[^]{1,3}'), 'i') });
  }
  return forms;
}

const FORMS = SECRETS.map((s) => ({ ...s, forms: formsOf(s.kind, s.value) }));

/** A seeded value found in some output, with the form that told it. */
export interface Leak { kind: string; value: string; form: string; where: string; context: string }

/**
 * Every seeded value `haystack` carries in any known form. Base64 is searched with
 * line breaks removed (PostgreSQL's encode() wraps at 76 characters).
 */
export function findLeaks(haystack: string | Buffer, where: string): Leak[] {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  const lower = text.toLowerCase();
  const unwrapped = text.replace(/\\r|\\n|\r|\n/g, '');
  const leaks: Leak[] = [];
  for (const s of FORMS) {
    for (const f of s.forms) {
      let at = -1;
      if (f.re) at = text.search(f.re);
      else if (f.bytes) at = text.indexOf(f.text!);
      else if (f.cased) at = unwrapped.indexOf(f.text!);
      else at = lower.indexOf(f.text!.toLowerCase());
      if (at >= 0) {
        const src = f.cased ? unwrapped : text;
        leaks.push({ kind: s.kind, value: s.value, form: f.label, where, context: src.slice(Math.max(0, at - 40), at + 60).replace(/[^\x20-\x7e]/g, '.') });
        break; // one form per secret is enough to tell it
      }
    }
  }
  return leaks;
}

export function describeLeaks(leaks: Leak[], max = 5): string {
  return leaks.slice(0, max).map((l) => `${l.kind} ${l.value} as ${l.form} in ${l.where}: …${l.context}…`).join('\n')
    + (leaks.length > max ? `\n… and ${leaks.length - max} more` : '');
}
