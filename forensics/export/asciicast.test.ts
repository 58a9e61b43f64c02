import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importPaths } from '../import/paths.js';
import { openCase, type CaseFile } from '../store/case.js';
import { FixtureRecording, SECOND, T0, bytesOf, fixedSigner, writeScenario, type Scenario } from '../testing/scenario.js';
import { ExportRefusedError, exportCase } from './index.js';

// Every asciicast the export writes is read back by asciinema's own player (Debian's `asciinema`
// package, `asciinema cat`), which prints its output stream; it opens /dev/tty, so it runs under
// `script` (util-linux), which gives it a pseudo-terminal.
let tmp: TempDir;
let c: CaseFile;
let sc: Scenario;
const ZERO = '20251009T090000Z-zero00000001'; // a client that asked for a pty of 0×0 (and resized to 0×0)

beforeAll(async () => {
  tmp = new TempDir();
  const signer = fixedSigner();
  sc = writeScenario(tmp.path, signer);
  const zero = new FixtureRecording(ZERO, 'ssh', signer, T0 + 60 * SECOND);
  zero.event('session.start', { identity: 'ci', tokenId: 'tok-ci', tokenKind: 'identity', target: 'build-host', protocol: 'ssh', client: '10.0.0.5:50300' });
  zero.event('ssh.pty', { channel: 0, term: 'dumb', cols: 0, rows: 0 });
  zero.event('ssh.shell', { channel: 0, pty: true });
  zero.event('ssh.output', { ...bytesOf('$ '), stream: 'stdout' });
  zero.event('ssh.resize', { channel: 0, cols: 0, rows: 0 });
  zero.event('ssh.input', bytesOf('echo ok\r'));
  zero.event('ssh.output', { ...bytesOf('echo ok\r\nok\r\n$ '), stream: 'stdout' });
  zero.event('session.end', { reason: 'client closed', cause: 'client-quit' });
  zero.write(join(tmp.path, `${ZERO}.jsonl`));
  c = openCase(join(tmp.path, 'case.db'));
  await importPaths(c, [tmp.path], { trusted: sc.trusted, now: () => 1_760_000_100_000_000 });
});
afterAll(() => {
  c.close();
  tmp.remove();
});

type CastEvent = [number, string, string];
const parse = (path: string) => {
  const [header, ...events] = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  return { header: header as Record<string, unknown>, events: events as CastEvent[] };
};

/** What `asciinema cat` prints for a file (line ends normalized: the pty adds carriage returns). */
function asciinemaCat(path: string): string {
  const r = spawnSync('script', ['-qec', `asciinema cat '${path}'`, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(r.error, 'asciinema is not installed: apt-get install -y asciinema').toBeUndefined();
  expect(r.status, `asciinema cat ${path}: ${r.stdout}${r.stderr}`).toBe(0);
  expect(r.stdout).not.toMatch(/asciinema: |Traceback/);
  return r.stdout.replace(/\r+\n/g, '\n');
}

describe('asciicast', () => {
  it('every cast of the case (the folder export and one by --session) plays in asciinema and prints its output', () => {
    const folder = join(tmp.path, 'casts');
    const all = exportCase(c, { format: 'asciicast', out: folder });
    expect(all.files.map((f) => f.slice(folder.length + 1)).sort()).toEqual([`${sc.ids.root}.cast`, `${sc.ids.ssh2}.cast`, `${ZERO}.cast`].sort());
    const one = join(tmp.path, 'root.cast');
    exportCase(c, { format: 'asciicast', out: one, session: sc.ids.root });
    for (const file of [...all.files, one]) {
      const { events } = parse(file);
      const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
      expect(output.length, file).toBeGreaterThan(0);
      expect(asciinemaCat(file)).toBe(output.replace(/\r+\n/g, '\n'));
    }
    expect(asciinemaCat(one)).toContain('drwxr-xr-x 2 builder builder 4096 .');
  });

  it('falls back to 80×24 for a terminal of 0×0, and leaves out a 0×0 resize', () => {
    const out = join(tmp.path, 'zero.cast');
    exportCase(c, { format: 'asciicast', out, session: ZERO });
    const { header, events } = parse(out);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, env: { TERM: 'dumb' } });
    expect(events.filter((e) => e[1] === 'r')).toEqual([]);
    expect(asciinemaCat(out)).toBe('$ echo ok\nok\n$ ');
  });

  it('refuses a PostgreSQL hop with a clear error, before any file is written', () => {
    const out = join(tmp.path, 'pg.cast');
    expect(() => exportCase(c, { format: 'asciicast', out, session: sc.ids.pg })).toThrow(ExportRefusedError);
    expect(() => exportCase(c, { format: 'asciicast', out, session: sc.ids.pg }))
      .toThrow(`session ${sc.ids.pg} is a PostgreSQL hop, not a terminal: asciicast plays SSH sessions only; export it as jsonl, timesketch, csv, ocsf or html`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.path).filter((f) => f.startsWith('pg'))).toEqual([]);
  });
});
