/**
 * FrontendParser: client→server framing, the half pg-protocol's Parser (which
 * reads server→client) does not cover.
 *
 * Errors: bad input never throws. The parser emits one ProtocolViolationMessage
 * (`{ name: 'error', code: 'PROTOCOL_VIOLATION', ... }`) through onMessage and
 * then ignores all further input; the owner answers with an ErrorResponse and
 * disconnects. The only exceptions leaving parse() are those onMessage throws;
 * after one the parser is abandoned too (the rest of that chunk was never
 * framed, so nothing after it could be trusted).
 *
 * Buffers: nothing is copied for a frame that arrives within one chunk: `raw`
 * and the Buffer fields (Bind params, CopyData data, 'p'/'F' bodies, cancel key)
 * are subarrays of the chunk passed to parse(), so callers must not reuse a chunk
 * after passing it (socket chunks are never reused by Node). A frame split across
 * chunks is joined into a fresh buffer owned by that frame alone. The parser never
 * writes into a buffer it has handed out, so messages may be kept (e.g. queued
 * for a socket write) while parsing continues.
 *
 * Memory: a frame's length is checked against its cap as soon as its header is
 * read, before any of its body is kept, and a partial frame is kept as the list
 * of pieces received (not preallocated from the declared length), so a client
 * cannot make the parser hold more than it has actually sent, nor more than the
 * cap.
 */
import { BadFrame } from './buffer-reader.js';
import { decodeStartupPacket, decodeTagged } from './frontend-decoder.js';
import { FrontendTag, type FrontendMessage, type ProtocolViolationMessage, type SqlTextDecoder } from './messages.js';

export interface FrontendParserOptions {
  /** Cap on Query, Parse, Bind, CopyData and FunctionCall (length field). Default 1 GiB. */
  maxMessageSize?: number;
  /** Cap on the messages PostgreSQL itself caps at 10 000 bytes: C D E H S X c f. Default 10 000. */
  maxSmallMessageSize?: number;
  /** Cap on 'p' (password, SASL, GSS); PostgreSQL allows 65 535 (PG_MAX_AUTH_TOKEN_LENGTH). */
  maxAuthMessageSize?: number;
  /** Cap on a startup-phase packet, whose length counts its whole self. Default 10 000. */
  maxStartupMessageSize?: number;
}

export type FrontendMessageCallback = (msg: FrontendMessage) => void;

export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024 * 1024;
export const DEFAULT_MAX_SMALL_MESSAGE_SIZE = 10_000;
export const DEFAULT_MAX_AUTH_MESSAGE_SIZE = 65_535;
export const DEFAULT_MAX_STARTUP_MESSAGE_SIZE = 10_000;

/** The smallest startup packet: Int32 length + Int32 code (SSLRequest). */
const MIN_STARTUP_LENGTH = 8;
const STARTUP_HEADER = 4;
const TAGGED_HEADER = 5;

const SMALL_TAGS = [
  FrontendTag.Close,
  FrontendTag.Describe,
  FrontendTag.Execute,
  FrontendTag.Flush,
  FrontendTag.Sync,
  FrontendTag.Terminate,
  FrontendTag.CopyDone,
  FrontendTag.CopyFail,
];
const LARGE_TAGS = [FrontendTag.Query, FrontendTag.Parse, FrontendTag.Bind, FrontendTag.CopyData, FrontendTag.FunctionCall];

function checkCap(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > 0x7fffffff) {
    throw new RangeError(`FrontendParser: ${name} must be an integer from ${min} to 2^31-1, got ${value}`);
  }
  return value;
}

export class FrontendParser {
  /** Cap per tag, 0 for tags that are not client messages: one lookup rejects both. */
  private readonly caps = new Int32Array(256);
  private readonly maxStartup: number;
  private startup = true;
  private error: ProtocolViolationMessage | null = null;
  /** Pieces of the one incomplete frame, in order; never more than that frame. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Whole size of the incomplete frame once its header is read, else 0. */
  private pendingNeed = 0;
  private pendingIsStartup = true;
  /** How Query and Parse texts are decoded: the session's client encoding once known. */
  private decodeSql: SqlTextDecoder | undefined;
  /** Set when an SSLRequest/GSSENCRequest was emitted from the chunk being parsed. */
  private encryptionRequested = false;

  constructor(options: FrontendParserOptions = {}) {
    const max = checkCap('maxMessageSize', options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, 4);
    const small = checkCap('maxSmallMessageSize', options.maxSmallMessageSize ?? DEFAULT_MAX_SMALL_MESSAGE_SIZE, 4);
    const auth = checkCap('maxAuthMessageSize', options.maxAuthMessageSize ?? DEFAULT_MAX_AUTH_MESSAGE_SIZE, 4);
    this.maxStartup = checkCap(
      'maxStartupMessageSize',
      options.maxStartupMessageSize ?? DEFAULT_MAX_STARTUP_MESSAGE_SIZE,
      MIN_STARTUP_LENGTH,
    );
    for (const tag of SMALL_TAGS) this.caps[tag] = Math.min(small, max);
    for (const tag of LARGE_TAGS) this.caps[tag] = max;
    this.caps[FrontendTag.AuthResponse] = Math.min(auth, max);
  }

  /** True until startupDone(): input is read as untagged startup packets. */
  public get inStartupPhase(): boolean {
    return this.startup;
  }

  /** The violation that stopped the parser, or null while it is healthy. */
  public get failure(): ProtocolViolationMessage | null {
    return this.error;
  }

  /** Bytes held for an incomplete frame; never more than that frame's cap. */
  public get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Switch to tagged messages. Only the owner knows when: after SSLRequest or
   * GSSENCRequest another startup packet follows. Call it from onMessage for the
   * StartupMessage so the rest of the same chunk is read as tagged messages.
   */
  public startupDone(): void {
    this.startup = false;
  }

  /** Decode Query and Parse texts with `decode` (the server's client_encoding) from now on. */
  public setSqlDecoder(decode: SqlTextDecoder | undefined): void {
    this.decodeSql = decode;
  }

  public parse(chunk: Buffer, onMessage: FrontendMessageCallback): void {
    if (this.error) return;
    this.encryptionRequested = false;
    try {
      let offset = 0;
      if (this.pendingBytes > 0) {
        offset = this.continuePending(chunk, onMessage);
      }
      if (offset >= 0) this.scan(chunk, offset, onMessage);
    } catch (err) {
      // Only onMessage is expected to throw (BadFrame is caught in emitFrame); stop, see above.
      if (!this.error) {
        this.error = violation('parser abandoned after an exception, normally from the message handler', 0);
        this.clearPending();
      }
      throw err;
    }
  }

  /** Completes the pending frame from the head of chunk; returns the offset after it, or -1 to stop. */
  private continuePending(chunk: Buffer, onMessage: FrontendMessageCallback): number {
    let offset = 0;
    if (this.pendingNeed === 0) {
      const header = this.startup ? STARTUP_HEADER : TAGGED_HEADER;
      offset = Math.min(header - this.pendingBytes, chunk.length);
      this.keep(chunk.subarray(0, offset));
      if (this.pendingBytes < header) return -1;
      const head = this.joinPending();
      this.pending = [head];
      const size = this.frameSize(head, 0, onMessage);
      if (size < 0) return -1;
      this.pendingNeed = size;
      this.pendingIsStartup = this.startup;
    }
    const take = Math.min(this.pendingNeed - this.pendingBytes, chunk.length - offset);
    if (take > 0) this.keep(chunk.subarray(offset, offset + take));
    offset += take;
    if (this.pendingBytes < this.pendingNeed) return -1;
    const frame = this.joinPending();
    const isStartup = this.pendingIsStartup;
    this.clearPending();
    if (!this.emitFrame(frame, isStartup, onMessage)) return -1;
    return this.checkAfterFrame(chunk, offset, onMessage) ? offset : -1;
  }

  /** Emits every whole frame in chunk from offset and keeps the tail of an incomplete one. */
  private scan(chunk: Buffer, offset: number, onMessage: FrontendMessageCallback): void {
    while (offset < chunk.length) {
      const available = chunk.length - offset;
      if (available < (this.startup ? STARTUP_HEADER : TAGGED_HEADER)) {
        // A bad tag is known from its first byte: no need to wait for (or keep) the rest of the header.
        if (!this.startup && this.caps[chunk[offset] as number] === 0) {
          this.failTag(chunk[offset] as number, onMessage);
          return;
        }
        this.keep(chunk.subarray(offset));
        return;
      }
      const size = this.frameSize(chunk, offset, onMessage);
      if (size < 0) return;
      if (available < size) {
        this.keep(chunk.subarray(offset));
        this.pendingNeed = size;
        this.pendingIsStartup = this.startup;
        return;
      }
      if (!this.emitFrame(chunk.subarray(offset, offset + size), this.startup, onMessage)) return;
      offset += size;
      if (!this.checkAfterFrame(chunk, offset, onMessage)) return;
    }
  }

  /**
   * Validates a header and returns the frame's whole size, or fails and returns
   * -1. This is where oversized frames are refused, before any body is kept.
   */
  private frameSize(buf: Buffer, offset: number, onMessage: FrontendMessageCallback): number {
    if (this.startup) {
      const len = buf.readInt32BE(offset);
      if (len < MIN_STARTUP_LENGTH || len > this.maxStartup) {
        this.fail(`invalid length of startup packet: ${len} (allowed ${MIN_STARTUP_LENGTH} to ${this.maxStartup})`, len, onMessage);
        return -1;
      }
      return len;
    }
    const tag = buf[offset] as number;
    const cap = this.caps[tag] as number;
    if (cap === 0) {
      this.failTag(tag, onMessage);
      return -1;
    }
    const len = buf.readInt32BE(offset + 1);
    if (len < 4 || len > cap) {
      this.fail(`invalid length ${len} for message type "${String.fromCharCode(tag)}" (allowed 4 to ${cap})`, len, onMessage);
      return -1;
    }
    return len + 1;
  }

  private emitFrame(frame: Buffer, isStartup: boolean, onMessage: FrontendMessageCallback): boolean {
    let msg: FrontendMessage | null;
    try {
      msg = isStartup ? decodeStartupPacket(frame) : decodeTagged(frame[0] as number, frame, this.decodeSql);
    } catch (err) {
      if (!(err instanceof BadFrame)) throw err;
      this.fail(err.message, isStartup ? frame.length : frame.length - 1, onMessage);
      return false;
    }
    if (msg === null) {
      // Unreachable while caps and decodeTagged list the same tags; kept so they cannot drift silently.
      this.fail(`invalid frontend message type ${frame[0]}`, frame.length - 1, onMessage);
      return false;
    }
    if (msg.name === 'sslRequest' || msg.name === 'gssEncRequest') this.encryptionRequested = true;
    onMessage(msg);
    return this.error === null;
  }

  /**
   * Bytes that arrived together with an SSLRequest/GSSENCRequest were sent before
   * the handshake, in clear, and would be mistaken for protected ones; PostgreSQL
   * refuses them for the same reason (CVE-2021-23214).
   */
  private checkAfterFrame(chunk: Buffer, offset: number, onMessage: FrontendMessageCallback): boolean {
    if (this.encryptionRequested && offset < chunk.length) {
      this.fail('received unencrypted data after SSL or GSSAPI encryption request', 0, onMessage);
      return false;
    }
    return true;
  }

  private keep(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private joinPending(): Buffer {
    return this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
  }

  private clearPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingNeed = 0;
  }

  private failTag(tag: number, onMessage: FrontendMessageCallback): void {
    this.fail(`invalid frontend message type ${tag} (0x${tag.toString(16)})`, 0, onMessage);
  }

  private fail(message: string, length: number, onMessage: FrontendMessageCallback): void {
    this.error = violation(message, length);
    this.clearPending();
    onMessage(this.error);
  }
}

function violation(message: string, length: number): ProtocolViolationMessage {
  return { name: 'error', code: 'PROTOCOL_VIOLATION', sqlState: '08P01', message, length };
}
