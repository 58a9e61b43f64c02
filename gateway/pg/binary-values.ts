import type { ClientEncoding } from './encoding.js';

/**
 * How the masking rules read a result value sent in binary format: pattern rules
 * need the value's text, so each type whose binary form the gateway can read is
 * turned into the text PostgreSQL would print for it. A type whose value cannot
 * be read and may hold text is reported as undecodable: the caller masks it
 * (fail closed).
 */
export type BinaryReading =
  | { kind: 'text'; text: string } // the value is its text (text-like types, jsonb): a mask keeps the type
  | { kind: 'bytes'; text: string } // bytea: raw bytes, read for scanning only
  | { kind: 'value'; text: string } // numbers, dates, uuids: their printed text; a mask becomes NULL
  | { kind: 'none' } // cannot carry a searched-for text (bool, time of day, geometry…)
  | { kind: 'undecodable' };

/** Types whose binary form is their text, in the client's encoding. */
export const TEXT_LIKE = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 114 /* json */,
  705 /* unknown */, 18 /* char */, 142 /* xml */, 2275 /* cstring */]);
const JSONB = 3802;
const BYTEA = 17;
/** Types that hold no text a masking pattern could be looking for. */
const NO_TEXT = new Set([16 /* bool */, 1083 /* time */, 1266 /* timetz */, 1186 /* interval */, 600, 601, 602, 603, 604, 628, 718 /* geometry */,
  27 /* tid */, 3220 /* pg_lsn */, 1560 /* bit */, 1562 /* varbit */, 829 /* macaddr */, 774 /* macaddr8 */, 2278 /* void */]);

/** Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;

export function readBinary(typeOid: number, v: Buffer, encoding: ClientEncoding): BinaryReading {
  if (TEXT_LIKE.has(typeOid)) return { kind: 'text', text: encoding.decodeLossy(v) };
  if (typeOid === JSONB) return v[0] === 1 ? { kind: 'text', text: encoding.decodeLossy(v.subarray(1)) } : { kind: 'undecodable' };
  // Raw bytes: read as the client's encoding and as latin1, so text stored in any single-byte form is seen.
  if (typeOid === BYTEA) return { kind: 'bytes', text: `${encoding.decodeLossy(v)}\n${v.toString('latin1')}` };
  if (NO_TEXT.has(typeOid)) return { kind: 'none' };
  const text = printed(typeOid, v);
  return text === undefined ? { kind: 'undecodable' } : { kind: 'value', text };
}

/** The text PostgreSQL prints for a binary value of a number, date or uuid type; undefined for any other type. */
function printed(typeOid: number, v: Buffer): string | undefined {
  switch (typeOid) {
    case 21: return v.length === 2 ? String(v.readInt16BE(0)) : undefined;
    case 23: return v.length === 4 ? String(v.readInt32BE(0)) : undefined;
    case 26: case 28: case 29: return v.length === 4 ? String(v.readUInt32BE(0)) : undefined; // oid, xid, cid
    case 20: return v.length === 8 ? String(v.readBigInt64BE(0)) : undefined;
    case 5069: return v.length === 8 ? String(v.readBigUInt64BE(0)) : undefined; // xid8
    case 790: return v.length === 8 ? money(v.readBigInt64BE(0)) : undefined;
    case 700: return v.length === 4 ? String(v.readFloatBE(0)) : undefined;
    case 701: return v.length === 8 ? String(v.readDoubleBE(0)) : undefined;
    case 1700: return numeric(v);
    case 1082: return v.length === 4 ? date(v.readInt32BE(0)) : undefined;
    case 1114: case 1184: return v.length === 8 ? timestamp(v.readBigInt64BE(0)) : undefined;
    case 2950: return v.length === 16 ? uuid(v) : undefined;
    case 869: case 650: return inet(v);
    default: return undefined;
  }
}

function money(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** numeric's binary form: ndigits, weight, sign, dscale, then base-10000 digits. */
function numeric(v: Buffer): string | undefined {
  if (v.length < 8) return undefined;
  const ndigits = v.readUInt16BE(0);
  const weight = v.readInt16BE(2);
  const sign = v.readUInt16BE(4);
  const dscale = v.readUInt16BE(6);
  if (v.length !== 8 + ndigits * 2) return undefined;
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  const digits: number[] = [];
  for (let i = 0; i < ndigits; i++) digits.push(v.readUInt16BE(8 + i * 2));
  let int = '';
  for (let i = 0; i <= weight; i++) int += i === 0 ? String(digits[i] ?? 0) : String(digits[i] ?? 0).padStart(4, '0');
  if (int === '') int = '0';
  let frac = '';
  for (let i = weight + 1; frac.length < dscale; i++) frac += i < 0 ? '0000' : String(digits[i] ?? 0).padStart(4, '0');
  frac = frac.slice(0, dscale);
  return `${sign === 0x4000 ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

function date(days: number): string {
  if (days === 0x7fffffff) return 'infinity';
  if (days === -0x80000000) return '-infinity';
  return new Date(PG_EPOCH_MS + days * 86_400_000).toISOString().slice(0, 10);
}

function timestamp(micros: bigint): string {
  if (micros === 0x7fffffffffffffffn) return 'infinity';
  if (micros === -0x8000000000000000n) return '-infinity';
  const ms = Number(micros / 1000n);
  const iso = new Date(PG_EPOCH_MS + ms).toISOString(); // UTC; a timestamptz prints in the session's zone, the date pattern is what matters
  const sub = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${sub ? `.${String(sub).padStart(6, '0').replace(/0+$/, '')}` : ''}`;
}

function uuid(v: Buffer): string {
  const h = v.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** IPv4 inet/cidr as PostgreSQL prints it; IPv6 is left undecodable (masked when patterns apply). */
function inet(v: Buffer): string | undefined {
  if (v.length !== 8 || v[0] !== 2 || v[3] !== 4) return undefined;
  const address = `${v[4]}.${v[5]}.${v[6]}.${v[7]}`;
  return v[1] === 32 && v[2] === 0 ? address : `${address}/${v[1]}`;
}
