import type { SessionMasker } from '../policy/index.js';
import type { ClientEncoding } from './encoding.js';
import type { MaskCounter } from './mask-counter.js';

const DETAIL = 0x44; // 'D'
const WITHHELD_DETAIL = Buffer.from('D[detail withheld by hopscope: it may quote protected columns]', 'latin1');

/** Parameters the gateway (and the client) must read exactly as the server sent them. */
const UNMASKED_PARAMETERS = new Set(['client_encoding', 'server_encoding']);

/**
 * Pattern masking of the server's messages other than result rows: COPY data,
 * errors and notices (their texts may quote data: a unique violation's DETAIL
 * names the key), notifications (channel and payload of pg_notify) and
 * parameter status (application_name set from a column). Texts are read and
 * written in the session's client encoding.
 */
export class MessageMasker {
  /** Whether the COPY in progress is in binary format (its rows cannot be rewritten as text). */
  copyBinary = false;

  constructor(private readonly masker: SessionMasker, private readonly encoding: ClientEncoding, private readonly counter: MaskCounter) {}

  /** The masked text of bytes, or undefined when no rule matched. */
  private maskBytes(bytes: Buffer): Buffer | undefined {
    const { text, counts } = this.masker.maskText(this.encoding.decodeLossy(bytes));
    if (!Object.keys(counts).length) return undefined;
    this.counter.addAll(counts);
    return this.encoding.encode(text) ?? Buffer.from(text.replace(/[^\x20-\x7e]/g, '?'), 'latin1');
  }

  /** CopyOutResponse / CopyBothResponse: whether the rows come in binary format. */
  copyStarted(frame: Buffer): void {
    this.copyBinary = frame[5] === 1;
  }

  /** COPY TO STDOUT rows: pattern rules over the text; a binary COPY row a rule matches cannot be masked in place: refused. */
  maskCopyData(frame: Buffer): Buffer {
    if (this.copyBinary) {
      const { counts } = this.masker.maskText(frame.toString('latin1', 5));
      if (Object.keys(counts).length) throw new Error('a binary COPY row holds a value a masking rule matches; binary COPY cannot be masked in place');
      return frame;
    }
    const body = this.maskBytes(frame.subarray(5));
    if (!body) return frame;
    const out = Buffer.allocUnsafe(5 + body.length);
    out[0] = 0x64; // 'd'
    out.writeUInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return out;
  }

  /**
   * ErrorResponse / NoticeResponse: every field. Under column masking the DETAIL
   * is withheld whole: PostgreSQL quotes stored rows there ("Failing row contains
   * (…)" of a check or not-null violation, "conflicts with existing key (…)=(…)"),
   * values that never went through the masked projection of the rewrite.
   */
  maskNotice(frame: Buffer): Buffer {
    const fields = cstrings(frame, 5, true);
    let changed = false;
    const parts: Buffer[] = [];
    for (const field of fields) {
      if (field[0] === DETAIL && this.masker.columns) {
        changed = true;
        this.counter.addAll({ 'masking-detail': 1 });
        parts.push(WITHHELD_DETAIL);
        continue;
      }
      const masked = this.maskBytes(field.subarray(1));
      if (masked) changed = true;
      parts.push(masked ? Buffer.concat([field.subarray(0, 1), masked]) : field);
    }
    return changed ? message(frame[0]!, [...parts, Buffer.alloc(0)]) : frame;
  }

  /** NotificationResponse: Int32 pid, channel, payload. */
  maskNotification(frame: Buffer): Buffer {
    const [channel, payload] = cstrings(frame, 9, false);
    if (!channel || !payload) return frame;
    const c = this.maskBytes(channel);
    const p = this.maskBytes(payload);
    return c || p ? message(0x41, [c ?? channel, p ?? payload], frame.subarray(5, 9)) : frame;
  }

  /** ParameterStatus: name, value; the value is masked unless the gateway must read it as it is. */
  maskParameterStatus(frame: Buffer): Buffer {
    const [name, value] = cstrings(frame, 5, false);
    if (!name || !value || UNMASKED_PARAMETERS.has(name.toString('latin1'))) return frame;
    const masked = this.maskBytes(value);
    return masked ? message(0x53, [name, masked]) : frame;
  }
}

/** The NUL-terminated strings of a message body from `offset` (without their NULs); `fields`: stop at the terminating empty one. */
function cstrings(frame: Buffer, offset: number, fields: boolean): Buffer[] {
  const out: Buffer[] = [];
  while (offset < frame.length && !(fields && frame[offset] === 0)) {
    const end = frame.indexOf(0, offset);
    if (end < 0) break;
    out.push(frame.subarray(offset, end));
    offset = end + 1;
  }
  return out;
}

/** A message of `tag` whose body is `head` then each string NUL-terminated. */
function message(tag: number, strings: Buffer[], head?: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([tag, 0, 0, 0, 0])];
  if (head) parts.push(head);
  for (const s of strings) parts.push(s, Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeUInt32BE(out.length - 1, 1);
  return out;
}
