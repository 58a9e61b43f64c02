import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { KEYFRAME_BYTES } from '../import/derive.js';
import { importFile } from '../import/importer.js';
import { importPaths } from '../import/paths.js';
import { caseDb, openCase, type CaseFile } from '../store/case.js';
import { eventsBetween } from '../store/queries.js';
import { FixtureRecording, T0, bytesOf, fixedSigner, writeScenario, type Scenario } from '../testing/scenario.js';
import { TerminalEmulator } from './emulator.js';
import { screenAt } from './screen.js';
import { showSession } from './show.js';

let tmp: TempDir;
let c: CaseFile;
let sc: Scenario;
const LONG = 'long-terminal-1';
/** Every output chunk of the long session, with its time, for a from-zero reference replay. */
const chunks: { t: number; kind: 'out' | 'resize'; text: string; cols?: number; rows?: number }[] = [];

beforeAll(async () => {
  tmp = new TempDir();
  sc = writeScenario(tmp.path, fixedSigner());
  c = openCase(join(tmp.path, 'case.db'));
  await importPaths(c, [tmp.path], { trusted: sc.trusted });
  // ~600 KiB of colourful output with cursor movement, a resize midway, and output on a second (exec) channel to ignore.
  const rec = new FixtureRecording(LONG, 'ssh', sc.signer, T0, 1000);
  rec.event('session.start', { identity: 'ops', target: 'box', protocol: 'ssh', client: '127.0.0.1:1' });
  rec.event('ssh.pty', { channel: 0, term: 'xterm', cols: 80, rows: 24 });
  let t = T0 + 2000;
  for (let i = 0; i < 3000; i++) {
    t += 1000;
    if (i === 1500) {
      rec.event('ssh.resize', { channel: 0, cols: 120, rows: 40 });
      chunks.push({ t, kind: 'resize', text: '', cols: 120, rows: 40 });
      continue;
    }
    if (i % 500 === 7) {
      t += 1000;
      rec.event('ssh.output', { ...bytesOf('NOT ON THE SCREEN\r\n', 1), stream: 'stdout' });
      t -= 0;
    }
    const text = `\x1b[3${i % 8}mline ${i} ${'é✓'.repeat(i % 7)} ${'x'.repeat(150)}\x1b[0m\r\n${i % 97 === 0 ? '\x1b[2J\x1b[H' : ''}${i % 13 === 0 ? '\x1b[5;10Hhere' : ''}`;
    rec.event('ssh.output', { ...bytesOf(text), stream: 'stdout' });
    chunks.push({ t, kind: 'out', text });
  }
  await importFile(c, rec.write(join(tmp.path, 'long.jsonl')), { trusted: sc.trusted });
});
afterAll(() => {
  c.close();
  tmp.remove();
});

async function reference(time: number): Promise<string[]> {
  const term = new TerminalEmulator(80, 24);
  const events = eventsBetween(c, LONG, 0, time, 1_000_000).filter((e) => e.data.channel === 0);
  for (const e of events) {
    if (e.type === 'ssh.output') term.write(Buffer.from(String(e.data.data), 'base64'));
    if (e.type === 'ssh.resize') term.resize(Number(e.data.cols), Number(e.data.rows));
  }
  await term.flush();
  const lines = term.screen().lines;
  term.dispose();
  return lines;
}

describe('replay', () => {
  it('stores keyframes at intervals during import', () => {
    const n = (caseDb(c).prepare('SELECT count(*) AS n FROM keyframes WHERE session = ?').get(LONG) as { n: number }).n;
    const bytes = chunks.reduce((k, x) => k + Buffer.byteLength(x.text), 0);
    expect(n).toBeGreaterThanOrEqual(Math.floor(bytes / KEYFRAME_BYTES));
    expect(n).toBeGreaterThan(5);
  });

  it('rebuilds the screen at any time exactly as a replay from the start would', async () => {
    const span = chunks.at(-1)!.t - T0;
    const times = [T0 + 1000, chunks[0]!.t, chunks[1499]!.t, chunks[1500]!.t, chunks.at(-1)!.t];
    for (let i = 0; i < 12; i++) times.push(T0 + 1000 + Math.floor(((i * 7919) % 1000) / 1000 * span));
    for (const time of times) {
      const screen = await screenAt(c, LONG, time);
      expect(screen.lines, `at ${time}`).toEqual(await reference(time));
    }
    const end = await screenAt(c, LONG, chunks.at(-1)!.t);
    expect([end.cols, end.rows]).toEqual([120, 40]);
    expect(end.lines.join('\n')).not.toContain('NOT ON THE SCREEN');
  });

  it('shows the scenario terminal at a point in time', async () => {
    const screen = await screenAt(c, sc.ids.root, T0 + 9000);
    expect(screen.lines.slice(0, 4)).toEqual(['builder@build-host:~$ ls -la', 'total 8', 'drwxr-xr-x 2 builder builder 4096 .', 'builder@build-host:~$ ']);
    expect([screen.cols, screen.rows, screen.cursor]).toEqual([100, 30, { x: 22, y: 3 }]);
    await expect(screenAt(c, sc.ids.root, T0 - 1)).rejects.toThrow(/starts at 2025-10-09T08:53:20.001000Z, after the time asked for/);
  });

  it('returns the events of a time window, in order', () => {
    const events = eventsBetween(c, sc.ids.pg, T0 + 5_000_000 + 2000, T0 + 5_000_000 + 4000);
    expect(events.map((e) => [e.seq, e.type])).toEqual([[2, 'pg.query'], [3, 'pg.result'], [4, 'pg.query']]);
    expect(events[0]!.data).toEqual({ sql: 'select email, ssn from customers' });
    expect(() => eventsBetween(c, 'missing', 0, 1)).toThrow(/no session missing/);
  });

  it('shows a PostgreSQL hop: statements beside their masked responses and policy steps', () => {
    const lines = [...showSession(c, sc.ids.pg)];
    expect(lines.slice(0, 2)).toEqual([
      `session ${sc.ids.pg}  postgres  contractor-ci → prod-db  (root identity contractor-ci, depth 1)`,
      `parent ${sc.ids.root} via hop-token`,
    ]);
    // The integrity word, then what it means (the same words as verify and the workbench).
    expect(lines[2]).toMatch(/^integrity intact, sealed; recording /);
    expect(lines[3]).toMatch(/^ {2}intact and sealed: /);
    const body = lines.slice(5).map((l) => l.trimEnd());
    expect(body).toEqual([
      '08:53:25.001000 #1            session start from 10.0.0.9:41000',
      '08:53:25.002000 #2            → SQL  select email, ssn from customers',
      '08:53:25.003000 #3            ← SELECT 2 · 2 rows · 1.2 ms',
      '                                email          | ssn',
      '                                [masked:email] | 123-45-6789',
      '                                [masked:email] | 987-65-4321',
      '                                masked: email:email×2 · UNMASKED, looks sensitive: ssn (looks-sensitive:value)×2',
      '08:53:25.004000 #4            → SQL  DROP TABLE customers',
      '08:53:25.005000 #5            !! BLOCK rule no-drop: DropStmt is not allowed',
      '08:53:25.006000 #6            → SQL  DELETE FROM customers',
      '08:53:25.007000 #7            !! REVIEW rule unbounded-write approval apr-1: DELETE without WHERE',
      '08:53:25.008000 #8            !! DENIED approval apr-1 by alice',
      '08:53:25.009000 #9            · policy.block {"statement":6,"rule":"unbounded-write","reason":"DELETE without WHERE","action":"review"}',
      '08:53:25.010000 #10           session end: client closed',
    ]);
  });
});
