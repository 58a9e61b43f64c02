import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { keyIdOf, verifySignature, type Signer, type TrustedKeys } from '../keys.js';
import { isCanonicalSignature } from './format.js';

/**
 * The journal of sessions: one file per recordings folder, kept by the gateway,
 * listing every recording it opened and how each ended. A header line, then one
 * entry per line; every line is signed and names the SHA-256 of the line before
 * it, so an entry cannot be edited, removed, reordered or invented without the key.
 * With it, a folder proves what a single file cannot: that no session is missing
 * (listed, file absent), that a file is no fabrication (never listed), and that
 * a sealed file is the one the gateway closed (same final hash and last seq).
 */
export const JOURNAL_FILE = 'sessions.journal';
export const JOURNAL_FORMAT = 'hopscope.journal';
export const JOURNAL_VERSION = 1;

/** open: a recording file was created; close: it was sealed; recovered: sealed by crash recovery at the next start. */
export type JournalEntryType = 'open' | 'close' | 'recovered';

export interface JournalFields {
  session: string;
  /** The recording's file name in the folder. */
  file: string;
  /** close / recovered: the seq and SHA-256 of the file's last line (the seal). */
  lastSeq?: number;
  finalHash?: string;
  /** recovered: the last seq the session wrote before the crash; `torn`: bytes of a torn line cut off. */
  afterSeq?: number;
  torn?: number;
}

export interface JournalEntry extends JournalFields {
  seq: number;
  t: number;
  type: JournalEntryType;
  keyId: string;
  prev: string;
}

const sha256 = (data: string | Uint8Array): string => hash('sha256', data, 'hex');

export function journalHeaderLine(signer: Signer, createdAt: number): string {
  const unsigned = JSON.stringify({ format: JOURNAL_FORMAT, version: JOURNAL_VERSION, createdAt, gateway: { keyId: signer.keyId, publicKey: signer.publicKey } });
  return withSig(unsigned, signer.sign(`${JOURNAL_FORMAT}/header/v1:${unsigned}`).toString('base64'));
}

/** One entry line (no newline): its fields in a fixed order, then `sig` over all of them. */
export function journalEntryLine(signer: Signer, seq: number, t: number, type: JournalEntryType, f: JournalFields, prev: string): string {
  const body = JSON.stringify({
    seq, t, type, session: f.session, file: f.file,
    ...(f.lastSeq !== undefined ? { lastSeq: f.lastSeq } : {}), ...(f.finalHash !== undefined ? { finalHash: f.finalHash } : {}),
    ...(f.afterSeq !== undefined ? { afterSeq: f.afterSeq } : {}), ...(f.torn !== undefined ? { torn: f.torn } : {}),
    keyId: signer.keyId, prev,
  });
  return withSig(body, signer.sign(`${JOURNAL_FORMAT}/entry/v1:${body}`).toString('base64'));
}

function withSig(json: string, sig: string): string {
  return `${json.slice(0, -1)},"sig":"${sig}"}`;
}

/** The line without its `sig`, and the signature, when the line ends as the writer ends it. */
function splitSig(line: string): { body: string; sig: string } | undefined {
  const m = /,"sig":"([A-Za-z0-9+/=]+)"\}$/.exec(line);
  if (!m || !isCanonicalSignature(m[1]!)) return undefined;
  return { body: `${line.slice(0, m.index)}}`, sig: m[1]! };
}

export interface JournalSession {
  session: string;
  file: string;
  opened: JournalEntry;
  closed?: JournalEntry;
  recovered?: JournalEntry;
}

export interface JournalFinding {
  kind: 'not-a-journal' | 'bad-signature' | 'altered' | 'corrupt-line' | 'unknown-key' | 'truncated' | 'inconsistent';
  line: number;
  seq?: number;
  message: string;
}

export interface JournalReport {
  /** intact; tampered (a broken line: entries from it on are ignored); unknown-key; invalid; unverified (a torn last line). */
  status: 'intact' | 'tampered' | 'unknown-key' | 'invalid' | 'unverified';
  entries: number;
  lastSeq: number;
  /** SHA-256 of the last complete line: where the gateway chains its next entry. */
  lastHash: string;
  /** Bytes of the complete lines (a torn tail starts here). */
  completeBytes: number;
  tamperedAtSeq?: number;
  /** Sessions by id, from the entries before any break. */
  sessions: Map<string, JournalSession>;
  /** Entries in order (before any break), for recovery's view of the last run. */
  list: JournalEntry[];
  findings: JournalFinding[];
}

/**
 * Reads and checks a journal's text. Each entry must be signed by a trusted key
 * (the key it names), chained to the line before, in seq order, and consistent
 * (a session opens once, before it closes). Nothing after the first bad line is believed.
 */
export function verifyJournalText(text: string, trusted: TrustedKeys): JournalReport {
  const r: JournalReport = { status: 'intact', entries: 0, lastSeq: 0, lastHash: '', completeBytes: 0, sessions: new Map(), list: [], findings: [] };
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n').slice(0, -1);
  r.completeBytes = Buffer.byteLength(text.slice(0, end));
  let broken = false;
  const breakAt = (kind: JournalFinding['kind'], line: number, message: string, seq?: number) => {
    if (!broken) r.tamperedAtSeq = seq ?? r.lastSeq + 1;
    broken = true;
    r.findings.push({ kind, line, message, ...(seq !== undefined ? { seq } : {}) });
  };
  const header = lines[0] === undefined ? undefined : checkHeader(lines[0], trusted);
  if (!header || header.invalid) {
    r.status = 'invalid';
    r.findings.push({ kind: 'not-a-journal', line: 1, message: header?.invalid ?? 'the journal is empty' });
    return r;
  }
  if (header.unknownKey) r.findings.push({ kind: 'unknown-key', line: 1, message: header.unknownKey });
  if (header.badSig) breakAt('bad-signature', 1, 'the journal header signature is invalid', 0);
  r.lastHash = sha256(lines[0]!);
  for (let i = 1; i < lines.length && !broken; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    const split = splitSig(line);
    let e: JournalEntry | undefined;
    try {
      e = split ? (JSON.parse(split.body) as JournalEntry) : undefined;
    } catch {
      e = undefined;
    }
    if (!split || !e || JSON.stringify(e) !== split.body || typeof e.seq !== 'number' || typeof e.session !== 'string' || typeof e.file !== 'string') {
      breakAt('corrupt-line', lineNo, `line ${lineNo} is not a valid journal entry`);
      break;
    }
    if (e.seq !== r.lastSeq + 1) {
      breakAt('altered', lineNo, `entry seq ${e.seq} follows seq ${r.lastSeq}: an entry was removed, added or moved`, e.seq);
      break;
    }
    if (e.prev !== r.lastHash) {
      breakAt('altered', lineNo, `the line before entry seq ${e.seq} was altered (its hash does not match the link)`, e.seq - 1);
      break;
    }
    const key = trusted.get(e.keyId);
    if (!key) {
      r.findings.push({ kind: 'unknown-key', line: lineNo, seq: e.seq, message: `entry seq ${e.seq} is signed by key ${e.keyId}, which is not trusted` });
      breakAt('bad-signature', lineNo, `entry seq ${e.seq} cannot be checked (untrusted key)`, e.seq);
      break;
    }
    if (!verifySignature(key, `${JOURNAL_FORMAT}/entry/v1:${split.body}`, Buffer.from(split.sig, 'base64'))) {
      breakAt('bad-signature', lineNo, `entry seq ${e.seq} has an invalid signature`, e.seq);
      break;
    }
    const known = r.sessions.get(e.session);
    const inconsistent = e.type === 'open' ? known !== undefined
      : !known || known.file !== e.file || known.closed !== undefined || known.recovered !== undefined || (e.type !== 'close' && e.type !== 'recovered');
    if (inconsistent) {
      breakAt('inconsistent', lineNo, `entry seq ${e.seq} (${String(e.type)} ${e.session}) contradicts the entries before it`, e.seq);
      break;
    }
    if (e.type === 'open') r.sessions.set(e.session, { session: e.session, file: e.file, opened: e });
    else if (e.type === 'close') known!.closed = e;
    else known!.recovered = e;
    r.list.push(e);
    r.entries++;
    r.lastSeq = e.seq;
    r.lastHash = sha256(line);
  }
  if (!broken && end < text.length) {
    r.findings.push({ kind: 'truncated', line: lines.length + 1, message: `the last line is incomplete (${Buffer.byteLength(text.slice(end))} bytes): a torn write` });
  }
  r.status = broken ? 'tampered' : header.unknownKey ? 'unknown-key' : end < text.length ? 'unverified' : 'intact';
  return r;
}

function checkHeader(line: string, trusted: TrustedKeys): { invalid?: string; badSig?: boolean; unknownKey?: string } {
  const split = splitSig(line);
  let h: { format?: unknown; version?: unknown; gateway?: { keyId?: unknown; publicKey?: unknown } } | undefined;
  try {
    h = JSON.parse(split ? split.body : line) as typeof h;
  } catch {
    return { invalid: 'the first line is not JSON: not a hopscope journal' };
  }
  if (h?.format !== JOURNAL_FORMAT) return { invalid: 'the first line is not a hopscope journal header' };
  if (h.version !== JOURNAL_VERSION) return { invalid: `journal version ${String(h.version)} is not supported` };
  if (!split) return { badSig: true };
  let key: KeyObject;
  try {
    key = createPublicKey(String(h.gateway?.publicKey));
  } catch {
    return { invalid: 'the journal header public key is not readable' };
  }
  const badSig = keyIdOf(key) !== h.gateway?.keyId ||
    !verifySignature(key, `${JOURNAL_FORMAT}/header/v1:${split.body}`, Buffer.from(split.sig, 'base64'));
  const t = trusted.get(String(h.gateway?.keyId));
  const unknownKey = !t || !t.equals(key) ? `the journal was started with key ${String(h.gateway?.keyId)}, which is not among the trusted keys` : undefined;
  return { badSig, unknownKey };
}
