import * as crypto from 'node:crypto';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { keyIdOf, verifySignature, type TrustedKeys } from '../keys.js';
import { encodeEvent, unsignedHeaderLine } from './encoder.js';
import {
  EventType, RECORDING_FORMAT, RECORDING_VERSIONS, RecordingEvent, RecordingHeader, SignatureData, headerSignedText,
  isCanonicalSignature, recoverySignedText, signedText,
} from './format.js';
import type { IntegrityStatus } from './integrity.js';

export type { IntegrityStatus } from './integrity.js';

export type FindingKind =
  | 'not-a-recording' // first line is not a recording header
  | 'unsupported-version'
  | 'unknown-key' // signed by a key the reader does not trust
  | 'corrupt-line' // a line that is not a valid event
  | 'altered' // the bytes of an event differ from what the next event chained
  | 'missing' // sequence numbers skipped
  | 'reordered' // an event earlier in sequence appears later in the file
  | 'duplicated'
  | 'bad-signature'
  | 'after-seal' // lines appended after the seal
  | 'truncated' // the last line is incomplete
  | 'unsealed' // no seal and no recovery record: the gateway was killed and not restarted, or the seal was dropped
  | 'recovered' // sealed by the gateway's crash recovery: the session ended in a crash
  | 'journal' // what the folder's journal of sessions says about the file (added by folder checks)
  | 'undecodable-event'; // an event of a known type that does not match its schema (added by the importer; stored raw)

export interface Finding {
  kind: FindingKind;
  line: number; // 1-based line in the file
  seq?: number;
  message: string;
}

export interface VerifyReport {
  status: IntegrityStatus;
  header: RecordingHeader | undefined;
  events: number; // event lines read (valid JSON events)
  lastSeq: number;
  /** Every event up to and including this seq is proven unaltered (chain from the header). */
  intactThroughSeq: number;
  /** The last seq covered by a valid signature (checkpoint or seal). */
  signedThroughSeq: number;
  sealed: boolean;
  /** The seq of the first break (hash link or signature), when the file is tampered. */
  tamperedAtSeq?: number;
  /** Set when the seal is a crash-recovery seal: the last seq the session wrote before the crash. */
  recoveredAfterSeq?: number;
  /** SHA-256 of the last complete line (the final hash a journal records for a sealed session). */
  lastHash: string;
  /**
   * The first MAX_FINDINGS findings in detail, then only the first of each kind not listed yet
   * (so every kind the verdict rests on is named, and the end-of-file notes always are).
   */
  findings: Finding[];
  /** Findings counted but not kept past the cap (0 when `findings` is all of them). */
  findingsOmitted: number;
}

/** Findings kept in detail: a file of ten million garbage lines must not keep ten million findings. */
export const MAX_FINDINGS = 100;

export interface VerifiedLine {
  event: RecordingEvent;
  /** No break in the chain so far: this event is part of the intact prefix. */
  intact: boolean;
}

const TAMPER: ReadonlySet<FindingKind> = new Set([
  'corrupt-line', 'altered', 'missing', 'reordered', 'duplicated', 'bad-signature', 'after-seal',
]);

/**
 * Verifies a recording line by line, in bounded memory: feed each line (without
 * its newline) to `push`, then call `end`. `push` returns the decoded event so an
 * importer can store it while verifying.
 */
export class RecordingVerifier {
  private header: RecordingHeader | undefined;
  private headerKey: KeyObject | undefined;
  private lineNo = 0;
  private prevHash = '';
  private lastSeq = 0;
  private events = 0;
  private broken = false;
  private intactThroughSeq = 0;
  private signedThroughSeq = 0;
  private sealed = false;
  private invalid = false;
  private tamperedAtSeq: number | undefined;
  private recoveredAfterSeq: number | undefined;
  private readonly findings: Finding[] = [];
  /** Every kind found, kept or not: the verdict is over all of them. */
  private readonly kinds = new Set<FindingKind>();
  private omitted = 0;

  constructor(private readonly trusted: TrustedKeys) {}

  /**
   * `complete` is false for a last line that had no newline (a torn write).
   * `bytes`, when the caller has them, are the line's exact bytes: the chain is
   * over bytes, and hashing them spares encoding the text again. `hash`, when
   * given, is the SHA-256 (hex) of those bytes computed elsewhere (a hash thread,
   * line-hashes.ts): the links are still checked here, in order.
   */
  push(line: string, complete = true, bytes?: Uint8Array, hash?: string): VerifiedLine | undefined {
    this.lineNo++;
    if (this.invalid) return undefined;
    if (this.lineNo === 1) {
      this.readHeader(line, bytes, hash);
      return undefined;
    }
    if (!complete) {
      // The gateway writes nothing after the seal, not even a torn line.
      if (this.sealed) this.breakChain('after-seal', `line ${this.lineNo} was appended after the seal`);
      else this.add('truncated', `the last line is incomplete; intact through seq ${this.intactThroughSeq}`);
      return undefined;
    }
    const event = parseEvent(line, this.prevHash);
    if (!event) {
      this.breakChain('corrupt-line', `line ${this.lineNo} is not a valid event`);
      this.prevHash = hash ?? sha256Hex(bytes ?? line);
      return undefined;
    }
    this.events++;
    if (this.sealed) this.breakChain('after-seal', `event seq ${event.seq} was appended after the seal`, event.seq);

    const expected = this.lastSeq + 1;
    if (event.seq === this.lastSeq) {
      this.breakChain('duplicated', `event seq ${event.seq} appears twice`, event.seq);
    } else if (event.seq < expected) {
      this.breakChain('reordered', `event seq ${event.seq} appears after seq ${this.lastSeq}`, event.seq);
    } else if (event.seq > expected) {
      const gap = event.seq - expected === 1 ? `seq ${expected} is` : `seq ${expected}–${event.seq - 1} are`;
      this.breakChain('missing', `events are missing: ${gap} not in the file`, expected);
    } else if (event.prev !== this.prevHash) {
      const what = event.seq === 1 ? 'the header was' : `event seq ${event.seq - 1} was`;
      this.breakChain('altered', `${what} altered (its hash does not match seq ${event.seq}'s link)`, event.seq - 1);
      // The altered event was counted as intact when it was read; it is not.
      this.intactThroughSeq = Math.min(this.intactThroughSeq, event.seq - 2);
    }
    this.prevHash = hash ?? sha256Hex(bytes ?? line);
    this.lastSeq = Math.max(this.lastSeq, event.seq);
    if (event.type === EventType.Checkpoint || event.type === EventType.Seal) this.checkSignature(event, line);
    if (!this.broken) this.intactThroughSeq = event.seq;
    return { event, intact: !this.broken };
  }

  end(): VerifyReport {
    if (this.lineNo === 0) this.fail('not-a-recording', 'the file is empty');
    if (!this.invalid && !this.sealed) {
      this.add('unsealed', `suspicious: the recording is not sealed and carries no crash-recovery record (a gateway killed and not yet restarted, or a seal dropped); intact through seq ${this.intactThroughSeq}, signed through seq ${this.signedThroughSeq}; events after seq ${this.signedThroughSeq} are unverified`);
    }
    return {
      status: this.status(),
      header: this.header,
      events: this.events,
      lastSeq: this.lastSeq,
      intactThroughSeq: this.intactThroughSeq,
      signedThroughSeq: this.signedThroughSeq,
      sealed: this.sealed && !this.broken,
      ...(this.tamperedAtSeq !== undefined && this.status() === 'tampered' ? { tamperedAtSeq: this.tamperedAtSeq } : {}),
      ...(this.recoveredAfterSeq !== undefined ? { recoveredAfterSeq: this.recoveredAfterSeq } : {}),
      lastHash: this.prevHash,
      findings: this.findings,
      findingsOmitted: this.omitted,
    };
  }

  private status(): IntegrityStatus {
    const kinds = this.kinds;
    if (this.invalid) return 'invalid';
    if ([...kinds].some((k) => TAMPER.has(k))) return 'tampered';
    if (kinds.has('unknown-key')) return 'unknown-key';
    // Nothing after the last valid signature is proven: a chain can be recomputed without the key.
    if (kinds.has('truncated') || kinds.has('unsealed') || this.signedThroughSeq < this.lastSeq) return 'unverified';
    if (this.recoveredAfterSeq !== undefined) return 'recovered';
    return 'intact';
  }

  private readHeader(line: string, bytes: Uint8Array | undefined, hash: string | undefined): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return this.fail('not-a-recording', 'the first line is not JSON: not a hopscope recording');
    }
    const format = (raw as { format?: unknown } | null)?.format;
    if (format !== RECORDING_FORMAT) return this.fail('not-a-recording', 'the first line is not a hopscope recording header');
    const version = (raw as { version?: unknown }).version;
    if (!RECORDING_VERSIONS.includes(version as 1)) {
      return this.fail('unsupported-version', `recording format version ${String(version)} is not supported by this reader`);
    }
    const parsed = RecordingHeader.safeParse(raw);
    if (!parsed.success) return this.fail('not-a-recording', `the header is invalid: ${parsed.error.issues[0]?.message}`);
    this.header = parsed.data;
    this.prevHash = hash ?? sha256Hex(bytes ?? line);
    try {
      const key = createPublicKey(parsed.data.gateway.publicKey);
      if (keyIdOf(key) !== parsed.data.gateway.keyId) {
        this.breakChain('bad-signature', 'the header key id does not match its public key', 0);
      }
      this.headerKey = key;
    } catch {
      return this.fail('not-a-recording', 'the header public key is not readable');
    }
    if (parsed.data.version >= 2) this.checkHeaderSignature(line, parsed.data);
    else if (parsed.data.sig !== undefined) this.breakChain('bad-signature', 'a version 1 header carries a signature field', 0);
    const trusted = this.trusted.get(parsed.data.gateway.keyId);
    if (!trusted || !trusted.equals(this.headerKey)) {
      this.add('unknown-key', `signed by key ${parsed.data.gateway.keyId}, which is not among the trusted keys`);
    }
  }

  /** v2: the header line must be exactly the unsigned header plus `sig`, and the signature valid for the header's key. */
  private checkHeaderSignature(line: string, h: RecordingHeader): void {
    const unsigned = unsignedHeaderLine(h);
    const ok = h.sig !== undefined && isCanonicalSignature(h.sig) && line === `${unsigned.slice(0, -1)},"sig":"${h.sig}"}` &&
      !!this.headerKey && verifySignature(this.headerKey, headerSignedText(unsigned), Buffer.from(h.sig, 'base64'));
    if (!ok) this.breakChain('bad-signature', 'the header signature is missing or invalid: nothing in the file is proven', 0);
  }

  private checkSignature(event: RecordingEvent, line: string): void {
    const kind = event.type === EventType.Seal ? 'seal' : 'checkpoint';
    const data = SignatureData.safeParse(event.data);
    const afterSeq = kind === 'seal' && data.success ? (data.data as { recoveredAfterSeq?: unknown }).recoveredAfterSeq : undefined;
    const recovery = typeof afterSeq === 'number' && Number.isInteger(afterSeq) && afterSeq >= 0 && afterSeq < event.seq && (this.header?.version ?? 1) >= 2;
    // The seal is the last line, so no later hash covers its bytes: they must be
    // exactly what the encoder writes, and the signature covers the rest.
    const fields = { keyId: data.success ? data.data.keyId : '', sig: data.success ? data.data.sig : '', events: event.seq - 1 };
    const canonical = data.success && isCanonicalSignature(data.data.sig) &&
      line === encodeEvent(event.seq, event.t, event.type, recovery ? { ...fields, recoveredAfterSeq: afterSeq } : fields, event.prev);
    const text = recovery
      ? recoverySignedText(this.header!.session, event.seq, event.t, event.prev, afterSeq)
      : signedText(kind, this.header?.session ?? '', event.seq, event.t, event.prev);
    const ok = canonical && this.header && this.headerKey && data.data.keyId === this.header.gateway.keyId &&
      verifySignature(this.headerKey, text, Buffer.from(data.data.sig, 'base64'));
    if (!ok) {
      this.breakChain('bad-signature', `the ${kind} at seq ${event.seq} has an invalid signature`, event.seq);
      // A chain can be recomputed without the key: nothing after the last valid signature is proven.
      this.intactThroughSeq = Math.min(this.intactThroughSeq, this.signedThroughSeq);
      return;
    }
    if (!this.broken) this.signedThroughSeq = event.seq;
    if (kind === 'seal') this.sealed = true;
    if (recovery && !this.broken) {
      this.recoveredAfterSeq = afterSeq;
      this.add('recovered', `the gateway crashed at seq ${afterSeq}; on restart it checked the file and sealed it (seq ${event.seq})`, afterSeq);
    }
  }

  private breakChain(kind: FindingKind, message: string, seq?: number): void {
    if (!this.broken) this.tamperedAtSeq = seq ?? this.lastSeq + 1;
    this.broken = true;
    this.add(kind, message, seq);
  }

  private fail(kind: FindingKind, message: string): void {
    this.invalid = true;
    this.add(kind, message);
  }

  private add(kind: FindingKind, message: string, seq?: number): void {
    const known = this.kinds.has(kind);
    this.kinds.add(kind);
    if (this.findings.length >= MAX_FINDINGS && known) {
      this.omitted++;
      return;
    }
    this.findings.push({ kind, line: this.lineNo, message, ...(seq !== undefined ? { seq } : {}) });
  }
}

/**
 * SHA-256 (hex) of a line's bytes. The one-shot `crypto.hash` (Node ≥ 20.12) costs
 * far less than a Hash object per line; older Node 20 releases fall back to one.
 */
const sha256Hex: (data: string | Uint8Array) => string = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

const HASH = /^[0-9a-f]{64}$/;
const EVENT_KEYS = ['seq', 't', 'type', 'data', 'prev'];

/**
 * The envelope check of RecordingEvent, by hand: this runs once per line of
 * every file verified or imported, where a schema library costs more than the
 * hashing. The zod schema stays the reference (format.ts), and a test holds the
 * two to the same answers. `knownHash`, a valid hash (the expected link), spares
 * the pattern test when `prev` is that hash.
 */
export function parseEvent(line: string, knownHash?: string): RecordingEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  if (!writerKeys(e) && !sameKeys(e)) return undefined;
  const { seq, t, type, data, prev } = e;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1) return undefined;
  if (typeof t !== 'number' || !Number.isInteger(t)) return undefined;
  if (typeof type !== 'string' || type.length === 0) return undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  if (typeof prev !== 'string' || (prev !== knownHash && !HASH.test(prev))) return undefined;
  return e as RecordingEvent;
}

/** The five keys in the writers' order (the common case), without building a key list. */
function writerKeys(e: Record<string, unknown>): boolean {
  let i = 0;
  for (const k in e) {
    if (k !== EVENT_KEYS[i]) return false;
    i++;
  }
  return i === 5;
}

function sameKeys(e: Record<string, unknown>): boolean {
  const keys = Object.keys(e);
  return keys.length === 5 && EVENT_KEYS.every((k) => Object.hasOwn(e, k));
}
