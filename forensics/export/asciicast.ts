import { caseDb, type CaseFile } from '../store/case.js';
import { getSession } from '../store/queries.js';
import { terminalBytes } from '../replay/emulator.js';
import type { FileSink } from './sink.js';

/**
 * asciicast v2 (asciinema): a header line, then `[seconds, code, data]` events:
 * "o" output, "i" input, "r" resize ("COLSxROWS"), "m" a marker at each command
 * and at the end (how the session ended: cause, who revoked it, reason).
 * Only the session's terminal channel is played; bytes are decoded as UTF-8
 * across event boundaries.
 */
export function writeAsciicast(c: CaseFile, session: string, out: FileSink): number {
  const s = getSession(c, session);
  refuseNonTerminal(s);
  const meta = caseDb(c).prepare('SELECT cols, rows, terminal_channel, start_data, end_t, end_cause, end_actor, end_reason FROM sessions WHERE id = ?').get(session) as
    { cols: number | null; rows: number | null; terminal_channel: string | null; start_data: string | null;
      end_t: number | null; end_cause: string | null; end_actor: string | null; end_reason: string | null };
  const channel: unknown = meta.terminal_channel === null ? null : JSON.parse(meta.terminal_channel);
  const pty = caseDb(c).prepare("SELECT data FROM events WHERE session = ? AND type = 'ssh.pty' ORDER BY seq LIMIT 1").get(session) as { data: string } | undefined;
  const term = pty ? (JSON.parse(pty.data) as { term?: string }).term : undefined;
  const start = s.startMicros ?? 0;
  out.line(JSON.stringify({
    version: 2, width: size(meta.cols, 80), height: size(meta.rows, 24), timestamp: Math.floor(start / 1_000_000),
    title: `${s.identity ?? '?'} → ${s.target ?? '?'} (${s.id})`, env: { TERM: term ?? 'xterm-256color', SHELL: '/bin/sh' },
  }));
  const decoders = { o: new TextDecoder('utf-8'), i: new TextDecoder('utf-8') };
  const seconds = (t: number) => Math.max(0, (t - start) / 1_000_000);
  const stmt = caseDb(c).prepare(`SELECT t, type, data FROM events WHERE session = ?
    AND type IN ('ssh.output', 'ssh.input', 'ssh.resize', 'ssh.exec', 'ssh.line') ORDER BY seq`);
  let n = 0;
  for (const e of stmt.iterate(session) as Iterable<{ t: number; type: string; data: string }>) {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    let ev: [string, string] | undefined;
    if (e.type === 'ssh.exec' || e.type === 'ssh.line') ev = ['m', String(d.command ?? d.line ?? '')];
    else if ((d.channel ?? null) !== channel) continue;
    else if (e.type === 'ssh.resize') {
      if (size(d.cols, 0) && size(d.rows, 0)) ev = ['r', `${String(d.cols)}x${String(d.rows)}`]; // a 0×0 resize says nothing a player can use
    }
    else {
      const code = e.type === 'ssh.output' ? 'o' : 'i';
      const text = decoders[code].decode(terminalBytes(d), { stream: true });
      if (text) ev = [code, text];
    }
    if (!ev) continue;
    out.line(JSON.stringify([Number(seconds(e.t).toFixed(6)), ev[0], ev[1]]));
    n++;
  }
  if (meta.end_t !== null && meta.end_cause !== null) {
    const by = meta.end_actor ? ` by ${meta.end_actor}` : '';
    out.line(JSON.stringify([Number(seconds(meta.end_t).toFixed(6)), 'm', `session ended (${meta.end_cause}${by}): ${meta.end_reason ?? ''}`]));
    n++;
  }
  return n;
}

/** A terminal dimension as recorded, or the fallback when the client gave none (some clients send 0×0 with no pty size). */
function size(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fallback;
}

/** asciicast exports of something that is not a terminal are refused, with what to export instead. */
export class ExportRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportRefusedError';
  }
}

/** Only SSH sessions have a terminal: a PostgreSQL hop (or the gateway's own recording) as asciicast would be an empty player. */
export function refuseNonTerminal(s: { id: string; protocol: string }): void {
  if (s.protocol === 'ssh') return;
  const what = s.protocol === 'postgres' ? 'a PostgreSQL hop' : `a ${s.protocol} recording`;
  throw new ExportRefusedError(`session ${s.id} is ${what}, not a terminal: asciicast plays SSH sessions only; ` +
    'export it as jsonl, timesketch, csv, ocsf or html (or `hopscope show` it)');
}

/** The SSH sessions that have terminal output (one asciicast each). */
export function terminalSessions(c: CaseFile): string[] {
  return (caseDb(c).prepare(`SELECT s.id FROM sessions s JOIN files f ON f.id = s.file_id AND f.state = 'complete'
    WHERE s.protocol = 'ssh' AND s.terminal_channel IS NOT NULL ORDER BY s.start_t, s.id`).all() as { id: string }[]).map((r) => r.id);
}
