import { Terminal } from '@xterm/xterm';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Marker, Screen } from '../../../common/api/index.js';
import { api } from '../api.js';
import { clock } from '../format.js';
import { bin } from './Timeline.js';

const SPEEDS = [0.5, 1, 2, 4, 16];
/** Idle gaps longer than this are shortened in playback (ms). */
const MAX_GAP_MS = 1500;

function decode(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A recorded size of 0×0 (no pty size given) would leave xterm without a screen: 80×24, as terminals default to. */
function usable(size: { cols: number; rows: number }): { cols: number; rows: number } {
  return { cols: size.cols > 0 ? size.cols : 80, rows: size.rows > 0 ? size.rows : 24 };
}

/** When the terminal's first output comes: null when it has none. */
async function firstOutput(session: string): Promise<number | null> {
  for (let after = 0; ;) {
    const batch = await api.terminalEvents(session, after, 200);
    const out = batch.chunks.find((c) => c.data !== undefined);
    if (out) return out.t;
    if (batch.done) return null;
    after = batch.nextSeq;
  }
}

let shared: { term: Terminal; element: HTMLDivElement } | undefined;

/**
 * One xterm.js terminal for the page, moved into each hop's player and reset: opening a hop then costs
 * no terminal creation, font measurement or teardown (they were a third of opening an SSH hop).
 */
function sharedTerminal(): { term: Terminal; element: HTMLDivElement } {
  if (!shared) {
    const element = document.createElement('div');
    element.className = 'term-screen';
    const term = new Terminal({ cols: 80, rows: 24, disableStdin: true, scrollback: 500, fontSize: 13, convertEol: false,
      fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace', theme: { background: '#0f172a' } });
    // xterm measures its font when opened: open it attached (off screen), once.
    element.style.cssText = 'position: absolute; left: -10000px; top: 0';
    document.body.appendChild(element);
    term.open(element);
    element.style.cssText = '';
    shared = { term, element };
  }
  return shared;
}

export interface SeekRequest {
  t: number;
  /** Changes with every request, so the same time can be asked twice. */
  n: number;
}

/**
 * xterm.js playback of an SSH hop. A seek asks the store for the screen at
 * that time (its nearest keyframe plus the rest), so any point opens at once;
 * play then streams the output after that screen, at the chosen speed.
 */
export function TerminalPlayer({ session, start, end, size, commands, seek, prefetch, onTime }: {
  session: string; start: number; end: number; size: { cols: number; rows: number }; commands: Marker[];
  seek: SeekRequest | null; prefetch?: { t: number; screen: Promise<Screen | null> }; onTime: (t: number) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const pos = useRef({ seq: 0, t: start });
  const run = useRef(0);
  const pending = useRef<number | null>(null);
  const loading = useRef(false);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [t, setT] = useState(start);
  const [ready, setReady] = useState(false);
  /** When the terminal's first output comes (null: none, or not known yet), and whether the screen shown is before it. */
  const first = useRef<number | null>(null);
  const [before, setBefore] = useState<number | null>(null);
  const [silent, setSilent] = useState(false);

  useEffect(() => {
    const { term: x, element } = sharedTerminal();
    x.reset();
    const { cols, rows } = usable(size);
    if (x.cols !== cols || x.rows !== rows) x.resize(cols, rows);
    host.current!.appendChild(element);
    term.current = x;
    return () => {
      run.current++;
      element.remove();
      term.current = null;
    };
  }, [session, size.cols, size.rows]);

  const moved = useCallback((at: number) => {
    setT(at);
    onTime(at);
  }, [onTime]);

  /** Latest wins: while a screen is loading, only the last asked time is loaded next (dragging the slider). */
  const load = useCallback(async (at: number) => {
    pending.current = Math.min(end, Math.max(start, at));
    if (loading.current) return;
    loading.current = true;
    try {
      while (pending.current !== null) {
        const want = pending.current;
        pending.current = null;
        const early = prefetch && prefetch.t === want ? await prefetch.screen : null;
        const screen = early ?? await api.screenAt(session, want);
        const x = term.current;
        if (!x) return;
        x.reset();
        const { cols, rows } = usable(screen);
        if (x.cols !== cols || x.rows !== rows) x.resize(cols, rows);
        await new Promise<void>((resolve) => x.write(screen.serialized, resolve));
        pos.current = { seq: screen.seq, t: want };
        setBefore(first.current !== null && want < first.current ? first.current : null);
        moved(want);
        setReady(true);
      }
    } finally {
      loading.current = false;
    }
  }, [session, start, end, moved, prefetch]);

  const seekTo = useCallback((at: number) => {
    run.current++;
    setPlaying(false);
    void load(at);
  }, [load]);

  const loadLatest = useRef(load);
  loadLatest.current = load;
  useEffect(() => {
    // A new request (its `n`), not a new callback, triggers the seek.
    run.current++;
    setPlaying(false);
    if (seek) return void loadLatest.current(seek.t);
    // Opened at its start, the screen is still empty (the first output comes later): show the first frame instead.
    let live = true;
    first.current = null;
    setSilent(false);
    void firstOutput(session).then((t) => {
      if (!live) return;
      first.current = t;
      setSilent(t === null);
      void loadLatest.current(t ?? start);
    }, () => live && void loadLatest.current(start));
    return () => void (live = false);
  }, [seek?.n, seek?.t, session, start]);

  const play = useCallback(async (rate: number) => {
    const me = ++run.current;
    setPlaying(true);
    for (;;) {
      const batch = await api.terminalEvents(session, pos.current.seq, 400);
      for (const c of batch.chunks) {
        const wait = Math.min(MAX_GAP_MS, Math.max(0, (c.t - pos.current.t) / 1000 / rate));
        if (wait > 4) await new Promise((r) => setTimeout(r, wait));
        if (run.current !== me || !term.current) return;
        if (c.data !== undefined) term.current.write(decode(c.data));
        else if (c.cols && c.rows) term.current.resize(c.cols, c.rows);
        pos.current = { seq: c.seq, t: c.t };
        moved(c.t);
      }
      if (run.current !== me) return;
      pos.current.seq = Math.max(pos.current.seq, batch.nextSeq);
      if (batch.done) break;
    }
    moved(end);
    setPlaying(false);
  }, [session, end, moved]);

  const next = commands.find((m) => m.t > t + 1);
  return (
    <div className="terminal-player" data-testid="terminal-player">
      {(silent || before !== null) && (
        <p className="term-note muted small" data-testid="term-note">
          {silent ? 'This terminal has no output.' : `No output yet at ${clock(t)}: the first output comes at ${clock(before)}. Press play or drag the slider.`}
        </p>
      )}
      <div className="term-host" ref={host} data-testid="terminal" data-ready={ready ? 'yes' : 'no'} data-seq={pos.current.seq} />
      <div className="term-controls">
        {playing
          ? <button type="button" onClick={() => { run.current++; setPlaying(false); }} data-testid="pause">❚❚ pause</button>
          : <button type="button" onClick={() => void play(speed)} data-testid="play">▶ play</button>}
        <label>speed
          <select value={speed} data-testid="speed" onChange={(e) => {
            const s = Number(e.target.value);
            setSpeed(s);
            if (playing) void play(s);
          }}>{SPEEDS.map((s) => <option key={s} value={s}>{s}×</option>)}</select>
        </label>
        <button type="button" disabled={!next} onClick={() => next && seekTo(next.t)} data-testid="next-command" title={next?.label}>next command ›</button>
        <span className="mono" data-testid="term-time">{clock(t)}</span>
      </div>
      <div className="seek">
        <input type="range" min={start} max={end} step="any" value={t} data-testid="seek"
          onChange={(e) => seekTo(Number(e.target.value))} aria-label="seek" />
        <SeekMarks commands={commands} start={start} end={end} onSeek={seekTo} />
      </div>
    </div>
  );
}

/** Command marks under the slider, one per few pixels (a hop may have thousands), drawn once per hop rather than at every tick of playback. */
const SeekMarks = memo(function SeekMarks({ commands, start, end, onSeek }: { commands: Marker[]; start: number; end: number; onSeek: (t: number) => void }) {
  const marks = useMemo(() => bin(commands, start, end, 600, 4), [commands, start, end]);
  return (
    <div className="seek-marks">
      {marks.map((c) => (
        <button type="button" key={c.x} className="seek-mark" style={{ left: `${c.x * 100}%` }}
          title={`${clock(c.markers[0]!.t)} ${c.markers[0]!.label}${c.markers.length > 1 ? ` (+${c.markers.length - 1} more)` : ''}`}
          onClick={() => onSeek(c.markers[0]!.t)} />
      ))}
    </div>
  );
});
