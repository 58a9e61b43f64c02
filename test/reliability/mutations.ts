// Mutations an attacker (or a broken disk) could apply to a recording file. Each
// returns new bytes that differ from the original; the tamper suite checks that
// the verifier and the importer notice every one.
import type { Signer } from '../../common/keys.js';
import { EventType, signedText } from '../../common/recording/index.js';
import { encodeEvent, lineHash } from '../../common/recording/encoder.js';
import type { prng } from './support.js';

type Rng = ReturnType<typeof prng>;
export type MutationKind =
  | 'byte-flip' | 'delete-line' | 'duplicate-line' | 'swap-lines' | 'move-line' | 'append-copy' | 'append-chained'
  | 'append-garbage' | 'truncate' | 'rechain-without-key' | 'resign-other-key' | 'resign-keep-header';

export const MUTATION_KINDS: readonly MutationKind[] = [
  'byte-flip', 'delete-line', 'duplicate-line', 'swap-lines', 'move-line', 'append-copy', 'append-chained',
  'append-garbage', 'truncate', 'rechain-without-key', 'resign-other-key', 'resign-keep-header',
];

interface Parsed { seq: number; t: number; type: string; data: Record<string, unknown>; prev: string }

const lines = (bytes: Buffer) => bytes.toString('utf8').split('\n').slice(0, -1); // the file ends with a newline
const join = (ls: string[]) => Buffer.from(`${ls.join('\n')}\n`);

/**
 * Re-encodes events [from..] after changing them: every prev recomputed, and
 * checkpoints and the seal re-signed by `signer` (or left with their old, now
 * wrong, signature when there is none: a chain recomputed without the key).
 */
function rechain(ls: string[], from: number, signer?: Signer, header?: string): string[] {
  const out = [...ls];
  if (header) out[0] = header;
  const session = (JSON.parse(out[0]!) as { session: string }).session;
  for (let i = Math.max(1, from); i < out.length; i++) {
    const e = JSON.parse(out[i]!) as Parsed;
    const prev = lineHash(out[i - 1]!);
    let data = e.data;
    if (signer && (e.type === EventType.Checkpoint || e.type === EventType.Seal)) {
      const kind = e.type === EventType.Seal ? 'seal' : 'checkpoint';
      data = { keyId: signer.keyId, sig: signer.sign(signedText(kind, session, e.seq, e.t, prev)).toString('base64'), events: e.seq - 1 };
    }
    out[i] = encodeEvent(e.seq, e.t, e.type, data, prev);
  }
  return out;
}

/** One random mutation of `kind`; `other` is a key the readers do not trust. */
export function mutate(original: Buffer, kind: MutationKind, rng: Rng, other: Signer): { bytes: Buffer; what: string } {
  const ls = lines(original);
  const n = ls.length;
  const i = rng.int(n);
  switch (kind) {
    case 'byte-flip': {
      const bytes = Buffer.from(original);
      const at = rng.int(bytes.length);
      bytes[at] = bytes[at]! ^ (1 + rng.int(255));
      return { bytes, what: `byte ${at} flipped` };
    }
    case 'delete-line':
      return { bytes: join(ls.filter((_, k) => k !== i)), what: `line ${i + 1} deleted` };
    case 'duplicate-line': {
      const at = 1 + rng.int(n); // anywhere after the header
      return { bytes: join([...ls.slice(0, at), ls[i]!, ...ls.slice(at)]), what: `line ${i + 1} copied before line ${at + 1}` };
    }
    case 'swap-lines': {
      const j = (i + 1 + rng.int(n - 1)) % n;
      const out = [...ls];
      [out[i], out[j]] = [out[j]!, out[i]!];
      return { bytes: join(out), what: `lines ${i + 1} and ${j + 1} swapped` };
    }
    case 'move-line': {
      const rest = ls.filter((_, k) => k !== i);
      let to = rng.int(rest.length + 1);
      if (to === i) to = (to + 1) % (rest.length + 1);
      return { bytes: join([...rest.slice(0, to), ls[i]!, ...rest.slice(to)]), what: `line ${i + 1} moved to ${to + 1}` };
    }
    case 'append-copy':
      return { bytes: join([...ls, ls[1 + rng.int(n - 1)]!]), what: 'an event line appended again' };
    case 'append-chained': {
      // A well-formed event that links to the seal: only the seal rule catches it.
      const last = JSON.parse(ls[n - 1]!) as Parsed;
      const forged = encodeEvent(last.seq + 1, last.t + 1, EventType.PgQuery, { sql: 'DROP TABLE evidence' }, lineHash(ls[n - 1]!));
      return { bytes: join([...ls, forged]), what: 'a chained event appended after the seal' };
    }
    case 'append-garbage': {
      const tail = rng.int(2) ? '{"seq":' : 'garbage without newline';
      return { bytes: Buffer.concat([original, Buffer.from(tail)]), what: 'bytes appended after the last newline' };
    }
    case 'truncate': {
      const at = rng.int(original.length); // strictly shorter
      return { bytes: original.subarray(0, at), what: `truncated to ${at} of ${original.length} bytes` };
    }
    case 'rechain-without-key': {
      const k = 1 + rng.int(n - 1);
      const e = JSON.parse(ls[k]!) as Parsed;
      const altered = [...ls];
      altered[k] = encodeEvent(e.seq, e.t + 1_000_000, e.type, { ...e.data, forged: true }, e.prev);
      return { bytes: join(rechain(altered, k + 1)), what: `event ${e.seq} altered, chain recomputed, signatures kept` };
    }
    case 'resign-other-key': {
      // The whole file re-signed with another key: a consistent recording, but not the gateway's.
      const header = JSON.parse(ls[0]!) as Record<string, unknown>;
      const forgedHeader = JSON.stringify({ ...header, gateway: { keyId: other.keyId, publicKey: other.publicKey } });
      const k = 1 + rng.int(n - 1);
      const e = JSON.parse(ls[k]!) as Parsed;
      const altered = [...ls];
      if (e.type !== EventType.Seal && e.type !== EventType.Checkpoint) altered[k] = encodeEvent(e.seq, e.t, e.type, { ...e.data, forged: true }, e.prev);
      return { bytes: join(rechain(altered, 1, other, forgedHeader)), what: `re-signed with key ${other.keyId} (event ${e.seq} altered)` };
    }
    case 'resign-keep-header': {
      // Altered and re-signed with another key while the header still names the gateway's key.
      const k = 1 + rng.int(n - 1);
      const e = JSON.parse(ls[k]!) as Parsed;
      const altered = [...ls];
      if (e.type !== EventType.Seal && e.type !== EventType.Checkpoint) altered[k] = encodeEvent(e.seq, e.t, e.type, { ...e.data, forged: true }, e.prev);
      return { bytes: join(rechain(altered, 1, other)), what: `re-signed with key ${other.keyId} under the original header` };
    }
  }
}
