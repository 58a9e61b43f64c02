import { ForensicsError } from '../errors.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { getSession } from '../store/queries.js';
import { DEFAULT_COLS, DEFAULT_ROWS, TerminalEmulator, terminalBytes, type ScreenState } from './emulator.js';

export interface Screen extends ScreenState {
  session: string;
  /** The time asked for (µs). */
  time: number;
  /** The last terminal event applied (0 before any): its seq and time. */
  seq: number;
  t: number;
}

/**
 * The terminal screen of an SSH session at `time` (µs since the epoch): the
 * nearest keyframe at or before it, plus the output after the keyframe, so a
 * seek replays at most one keyframe interval (KEYFRAME_BYTES), never from zero.
 */
export async function screenAt(c: CaseFile, session: string, time: number): Promise<Screen> {
  const s = getSession(c, session);
  if (s.startMicros !== null && time < s.startMicros) {
    throw new ForensicsError('TIME_OUT_OF_RANGE', `session ${session} starts at ${s.start}, after the time asked for`);
  }
  const meta = caseDb(c).prepare('SELECT cols, rows, terminal_channel FROM sessions WHERE id = ?').get(session) as
    { cols: number | null; rows: number | null; terminal_channel: string | null };
  const channel: unknown = meta.terminal_channel === null ? null : JSON.parse(meta.terminal_channel);
  const kf = caseDb(c).prepare('SELECT seq, t, cols, rows, screen FROM keyframes WHERE session = ? AND t <= ? ORDER BY seq DESC LIMIT 1').get(session, time) as
    { seq: number; t: number; cols: number; rows: number; screen: string } | undefined;
  const term = kf ? new TerminalEmulator(kf.cols, kf.rows) : new TerminalEmulator(meta.cols ?? DEFAULT_COLS, meta.rows ?? DEFAULT_ROWS);
  try {
    if (kf) term.write(Buffer.from(kf.screen, 'utf8'));
    const last = caseDb(c).prepare('SELECT max(seq) AS seq FROM events WHERE session = ? AND t <= ?').get(session, time) as { seq: number | null };
    const events = caseDb(c).prepare(`SELECT seq, t, type, data FROM events WHERE session = ? AND seq > ? AND seq <= ?
      AND type IN ('ssh.output', 'ssh.resize') ORDER BY seq`);
    let seq = kf?.seq ?? 0;
    let t = kf?.t ?? 0;
    for (const e of events.iterate(session, kf?.seq ?? 0, last.seq ?? 0) as Iterable<{ seq: number; t: number; type: string; data: string }>) {
      const d = JSON.parse(e.data) as Record<string, unknown>;
      if ((d.channel ?? null) !== channel) continue;
      if (e.type === 'ssh.output') term.write(terminalBytes(d));
      else if (typeof d.cols === 'number' && typeof d.rows === 'number') term.resize(d.cols, d.rows);
      seq = e.seq;
      t = e.t;
    }
    await term.flush();
    return { session, time, seq, t, ...term.screen() };
  } finally {
    term.dispose();
  }
}
