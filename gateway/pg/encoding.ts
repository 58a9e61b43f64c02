import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

/**
 * The character encoding the server reads the session's bytes in (its
 * `client_encoding`). The gateway decodes every SQL text in it, so the text the
 * guardrails judge is the text the server runs: a blocked statement cannot hide
 * inside what a UTF-8 reading takes for a string literal.
 *
 * Decoding is strict: bytes that are not valid in the encoding, or that do not
 * come back byte for byte when encoded again, are refused (`decode` answers
 * undefined) — the server might read them otherwise than the gateway did.
 */
export interface ClientEncoding {
  /** The server's name for it (ParameterStatus client_encoding), e.g. UTF8, LATIN1, EUC_JP. */
  readonly name: string;
  /** The exact text, or undefined when the bytes are not valid in this encoding. */
  decode(bytes: Buffer): string | undefined;
  /** For display and recording only: invalid bytes become U+FFFD. */
  decodeLossy(bytes: Buffer): string;
  /** The bytes of `text`, or undefined when a character has no form in this encoding. */
  encode(text: string): Buffer | undefined;
}

/** PostgreSQL's client encodings → iconv-lite's names. Missing: encodings iconv-lite cannot do. */
const ICONV_NAMES: Record<string, string> = {
  LATIN1: 'iso-8859-1', LATIN2: 'iso-8859-2', LATIN3: 'iso-8859-3', LATIN4: 'iso-8859-4', LATIN5: 'iso-8859-9',
  LATIN6: 'iso-8859-10', LATIN7: 'iso-8859-13', LATIN8: 'iso-8859-14', LATIN9: 'iso-8859-15', LATIN10: 'iso-8859-16',
  ISO_8859_5: 'iso-8859-5', ISO_8859_6: 'iso-8859-6', ISO_8859_7: 'iso-8859-7', ISO_8859_8: 'iso-8859-8',
  WIN866: 'cp866', WIN874: 'windows-874', WIN1250: 'windows-1250', WIN1251: 'windows-1251', WIN1252: 'windows-1252',
  WIN1253: 'windows-1253', WIN1254: 'windows-1254', WIN1255: 'windows-1255', WIN1256: 'windows-1256',
  WIN1257: 'windows-1257', WIN1258: 'windows-1258', KOI8R: 'koi8-r', KOI8U: 'koi8-u',
  EUC_JP: 'euc-jp', EUC_KR: 'euc-kr', EUC_CN: 'gb2312', SJIS: 'shift_jis', BIG5: 'big5', GBK: 'gbk', UHC: 'cp949', GB18030: 'gb18030',
};

const UTF8: ClientEncoding = {
  name: 'UTF8',
  // PostgreSQL refuses invalid UTF-8 (overlong forms, surrogates, truncated sequences); so does isUtf8.
  decode: (bytes) => (isUtf8(bytes) ? bytes.toString('utf8') : undefined),
  decodeLossy: (bytes) => bytes.toString('utf8'),
  encode: (text) => {
    const bytes = Buffer.from(text, 'utf8');
    return bytes.toString('utf8') === text ? bytes : undefined; // a lone surrogate has no UTF-8 form
  },
};

/** ASCII bytes read the same in every client encoding PostgreSQL allows, so a pure-ASCII text needs no table. */
function isAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

function iconvEncoding(name: string, iconvName: string): ClientEncoding {
  const decodeLossy = (bytes: Buffer) => (isAscii(bytes) ? bytes.toString('latin1') : iconv.decode(bytes, iconvName));
  const encode = (text: string): Buffer | undefined => {
    const bytes = iconv.encode(text, iconvName);
    // iconv-lite writes '?' for a character it cannot encode: only an exact round trip counts.
    return iconv.decode(bytes, iconvName) === text ? bytes : undefined;
  };
  return {
    name,
    decode: (bytes) => {
      if (isAscii(bytes)) return bytes.toString('latin1');
      const text = iconv.decode(bytes, iconvName);
      const again = iconv.encode(text, iconvName);
      return again.equals(bytes) ? text : undefined;
    },
    decodeLossy,
    encode,
  };
}

const cache = new Map<string, ClientEncoding>();

/**
 * The encoding for a server-reported client_encoding, or why the gateway cannot
 * read it: SQL_ASCII (the server does not validate the bytes at all, so there is
 * no one reading to judge) and encodings iconv-lite has no table for.
 */
export function clientEncodingFor(serverName: string, serverEncoding = 'UTF8'): ClientEncoding | { error: string } {
  const name = serverName.toUpperCase();
  if (name === 'UTF8' || name === 'UNICODE') return UTF8;
  if (name === 'SQL_ASCII') {
    // A SQL_ASCII client of a UTF8 server (psql in the C locale): no conversion, but the server still
    // validates the bytes as UTF-8 (pg_any_to_server), so they are read exactly as UTF-8 is.
    if (serverEncoding.toUpperCase() === 'UTF8') return SQL_ASCII_ON_UTF8;
    return { error: 'client_encoding SQL_ASCII is not supported through hopscope on a server that is not UTF8: the server does not validate such bytes, so the gateway cannot know what it will run' };
  }
  const iconvName = ICONV_NAMES[name];
  if (!iconvName || !iconv.encodingExists(iconvName)) {
    return { error: `client_encoding ${serverName} is not supported through hopscope (the gateway cannot decode it exactly as the server does)` };
  }
  let encoding = cache.get(name);
  if (!encoding) cache.set(name, (encoding = iconvEncoding(name, iconvName)));
  return encoding;
}

export const UTF8_ENCODING = UTF8;
const SQL_ASCII_ON_UTF8: ClientEncoding = { ...UTF8, name: 'SQL_ASCII' };
