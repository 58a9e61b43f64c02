import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../clock.js';
import { generateSigner, trustedKeysOf, type Signer, type TrustedKeys } from '../../keys.js';
import { RecordingEncoder, lineHash } from '../encoder.js';
import { EventType } from '../format.js';

/** Test helpers that build real recordings with the encoder and tamper with them like an attacker would. */

export const T0 = 1_700_000_000_000_000; // µs

export interface BuiltRecording {
  /** Lines without their newline; `lines[0]` is the header and `lines[seq]` the event with that seq. */
  lines: string[];
  signer: Signer;
  trusted: TrustedKeys;
}

export interface BuildOptions {
  /** Data events between session.start and session.end (default 10). */
  events?: number;
  /** A checkpoint after every this many data events (default 4; 0 for none). */
  checkpointEvery?: number;
  seal?: boolean;
  signer?: Signer;
  session?: string;
  data?: (i: number) => Record<string, unknown>;
}

/**
 * Default layout (10 events, checkpoint every 4): seq 1 session.start, 2–5 pg.query,
 * 6 checkpoint, 7–10 pg.query, 11 checkpoint, 12–13 pg.query, 14 session.end, 15 seal.
 */
export function buildRecording(opts: BuildOptions = {}): BuiltRecording {
  const signer = opts.signer ?? generateSigner();
  const enc = new RecordingEncoder({
    session: opts.session ?? 'sess-1', protocol: 'postgres', signer, clock: fixedClock(T0, 1000),
  });
  const every = opts.checkpointEvery ?? 4;
  const data = opts.data ?? ((i: number) => ({ sql: `select ${i}` }));
  const out = [enc.header, enc.event(EventType.SessionStart, {
    identity: 'alice', tokenId: 'tok-alice', tokenKind: 'identity', target: 'prod-db', protocol: 'postgres', client: '10.0.0.1:50000',
  })];
  const count = opts.events ?? 10;
  for (let i = 1; i <= count; i++) {
    out.push(enc.event(EventType.PgQuery, data(i)));
    if (every > 0 && i % every === 0) out.push(enc.checkpoint());
  }
  out.push(enc.event(EventType.SessionEnd, { reason: 'client closed the connection', cause: 'client-quit' }));
  if (opts.seal ?? true) out.push(enc.seal());
  return { lines: out.map((l) => l.slice(0, -1)), signer, trusted: trustedKeysOf([signer.publicKey]) };
}

/** The seqs of every event of a type, in file order. */
export function seqsOfType(lines: readonly string[], type: string): number[] {
  return lines.slice(1).map((l) => JSON.parse(l) as { seq: number; type: string })
    .filter((e) => e.type === type).map((e) => e.seq);
}

/** Replaces one event's field and re-serializes it in the encoder's field order. */
export function withField(line: string, field: 'seq' | 't' | 'type' | 'data' | 'prev', value: unknown): string {
  const e = { ...(JSON.parse(line) as Record<string, unknown>), [field]: value };
  return `{"seq":${e.seq},"t":${e.t},"type":${JSON.stringify(e.type)},"data":${JSON.stringify(e.data)},"prev":"${e.prev}"}`;
}

/** What an attacker without the key can do: recompute every `prev` from line `from` on. */
export function rechain(lines: readonly string[], from = 1): string[] {
  const out = [...lines];
  for (let i = Math.max(from, 1); i < out.length; i++) out[i] = withField(out[i]!, 'prev', lineHash(out[i - 1]!));
  return out;
}

/** Flips one base64 character of a checkpoint's or seal's signature. */
export function flipSignature(line: string): string {
  const e = JSON.parse(line) as { data: { sig: string } };
  const sig = e.data.sig;
  const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
  return withField(line, 'data', { ...e.data, sig: flipped });
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'hopscope-test-'));

  /** Writes lines joined by '\n', with a final newline unless `torn`. */
  writeLines(name: string, lines: readonly string[], torn = false): string {
    return this.write(name, lines.join('\n') + (torn || lines.length === 0 ? '' : '\n'));
  }

  write(name: string, content: string | Buffer): string {
    const file = join(this.path, name);
    writeFileSync(file, content);
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
