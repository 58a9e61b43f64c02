import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir, buildRecording, withField } from '../common/recording/testing/recordings.js';

// Runs the built CLI (bin/hopscope loads dist/), as a user would.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'hopscope');

const tmp = new TempDir();
const rec = buildRecording();
const paths = {
  intact: join(tmp.path, 'recordings', 'a-intact.jsonl'),
  truncated: join(tmp.path, 'recordings', 'nested', 'b-truncated.jsonl'),
  tampered: join(tmp.path, 'recordings', 'nested', 'c-tampered.jsonl'),
  garbage: join(tmp.path, 'big', 'd-garbage.jsonl'),
};
const GARBAGE_LINES = 1000;
const keysDir = join(tmp.path, 'keys');
const keyFile = join(keysDir, 'gateway_ed25519.pub');

function hopscope(args: string[], cwd = tmp.path): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonReport {
  path: string; status: string; session: string | null; events: number; lastSeq: number;
  intactThroughSeq: number; signedThroughSeq: number; sealed: boolean;
  findings: { kind: string; seq?: number; line?: number; message: string }[];
  findingsOmitted: number;
}

beforeAll(() => {
  const built = join(root, 'dist', 'bin', 'commands', 'verify.js');
  const source = join(root, 'bin', 'commands', 'verify.ts');
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
    throw new Error(`${built} is missing or older than its source: run \`npm run build\` first`);
  }
  mkdirSync(dirname(paths.truncated), { recursive: true });
  mkdirSync(keysDir);
  writeFileSync(keyFile, rec.signer.publicKey);
  writeFileSync(join(keysDir, 'gateway_ed25519'), 'a private key the verifier must not read\n');
  writeFileSync(paths.intact, `${rec.lines.join('\n')}\n`);
  // Cut in the middle of seq 9: intact through seq 8.
  writeFileSync(paths.truncated, `${rec.lines.slice(0, 9).join('\n')}\n${rec.lines[9]!.slice(0, 25)}`);
  // seq 8 altered: seq 9's link breaks.
  const tampered = rec.lines.map((l, i) => (i === 8 ? withField(l, 'data', { sql: 'select 666' }) : l));
  writeFileSync(paths.tampered, `${tampered.join('\n')}\n`);
  // A thousand garbage lines after seq 7: more findings than the verifier keeps.
  mkdirSync(dirname(paths.garbage));
  const garbage = Array.from({ length: GARBAGE_LINES }, (_, i) => `garbage ${i}`);
  writeFileSync(paths.garbage, `${[...rec.lines.slice(0, 8), ...garbage, ...rec.lines.slice(8)].join('\n')}\n`);
  writeFileSync(join(tmp.path, 'recordings', 'notes.txt'), 'not a recording, and not *.jsonl\n');
});
afterAll(() => tmp.remove());

describe('hopscope verify', () => {
  it('exits 0 for an intact, sealed recording and says so', () => {
    const r = hopscope(['verify', '--key', keyFile, paths.intact]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^intact\s+\S+a-intact\.jsonl\s+\(session sess-1, 15 events, sealed\)$/);
    expect(lines[1]).toBe('1 file: 1 intact, 0 problems');
  });

  it('exits 1 for a truncated file and reports what is intact and what is unverified', () => {
    const r = hopscope(['verify', '--key', keyFile, paths.truncated]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^UNVERIFIED\s+\S+b-truncated\.jsonl\s+\(session sess-1, 8 events, intact through seq 8, signed through seq 6, seq 7–8 unverified\)$/m);
    expect(r.stdout).toMatch(/^ {4}truncated \(line 10\): the last line is incomplete; intact through seq 8$/m);
    expect(r.stdout).toMatch(/^ {4}unsealed \(line 10\): /m);
    expect(r.stdout).toContain('1 file: 0 intact, 1 problem\n');
  });

  it('exits 1 for a tampered file and names the altered event', () => {
    const r = hopscope(['verify', '--key', keyFile, paths.tampered]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^TAMPERED\s+\S+c-tampered\.jsonl\s+\(session sess-1, 15 events, tampered at seq 8, intact through seq 7, signed through seq 6, seq 7–15 unverified\)$/m);
    expect(r.stdout).toMatch(/^ {4}altered \(seq 8, line 10\): event seq 8 was altered/m);
  });

  it('searches folders recursively for *.jsonl and summarises every file (and the folders\' missing journals)', () => {
    const r = hopscope(['verify', '--key', keysDir, join(tmp.path, 'recordings')]);
    expect(r.status).toBe(1);
    const statusLines = r.stdout.split('\n').filter((l) => /^\S/.test(l));
    // Both folders hold version-2 recordings and no sessions.journal: each journal is reported missing.
    expect(statusLines.map((l) => l.split(/\s+/)[0])).toEqual(['MISSING', 'MISSING', 'intact', 'UNVERIFIED', 'TAMPERED', '3']);
    expect(r.stdout).not.toContain('notes.txt');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('3 files: 1 intact, 4 problems');
  });

  it('prints per-file reports as JSON with --json', () => {
    const r = hopscope(['verify', '--json', '--key', keyFile, paths.intact, paths.truncated, paths.tampered]);
    expect(r.status).toBe(1);
    const reports = JSON.parse(r.stdout) as JsonReport[];
    expect(reports.map((x) => [x.path, x.status])).toEqual([
      [paths.intact, 'intact'], [paths.truncated, 'unverified'], [paths.tampered, 'tampered'],
    ]);
    expect(reports[0]).toEqual({
      path: paths.intact, status: 'intact', session: 'sess-1', version: 2, events: 15, lastSeq: 15,
      intactThroughSeq: 15, signedThroughSeq: 15, sealed: true, findings: [], findingsOmitted: 0,
    });
    expect(reports[1]).toMatchObject({ lastSeq: 8, intactThroughSeq: 8, signedThroughSeq: 6, sealed: false });
    expect(reports[1]!.findings.map((f) => f.kind)).toEqual(['truncated', 'unsealed']);
    expect(reports[2]).toMatchObject({ intactThroughSeq: 7, sealed: false });
    expect(reports[2]!.findings).toEqual([expect.objectContaining({ kind: 'altered', seq: 8, line: 10 })]);
  });

  it('lists the first findings of a file with a thousand bad lines and counts the rest, in text and in JSON', () => {
    const r = hopscope(['verify', '--key', keyFile, paths.garbage]);
    expect(r.status).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TAMPERED\s+\S+d-garbage\.jsonl\s+\(session sess-1, 15 events, tampered at seq 8, intact through seq 6, signed through seq 6, seq 7–15 unverified\)$/);
    expect(lines.filter((l) => l.startsWith('    corrupt-line (line '))).toHaveLength(100);
    expect(lines.slice(-3)).toEqual([
      expect.stringMatching(/^ {4}altered \(seq 7, line 1009\): /),
      `    … and ${GARBAGE_LINES - 100} more findings (not listed)`,
      '1 file: 0 intact, 1 problem',
    ]);
    const [json] = JSON.parse(hopscope(['verify', '--json', '--key', keyFile, paths.garbage]).stdout) as JsonReport[];
    expect(json).toMatchObject({ status: 'tampered', intactThroughSeq: 6, sealed: false, findingsOmitted: GARBAGE_LINES - 100 });
    expect(json!.findings).toHaveLength(101);
  });

  it('exits 0 for --json when every file is intact', () => {
    const r = hopscope(['verify', '--json', '--key', keyFile, paths.intact]);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as JsonReport[]).map((x) => x.status)).toEqual(['intact']);
  });

  it('trusts ./keys by default, and reports unknown-key without any trusted key', () => {
    const withKeys = hopscope(['verify', paths.intact], tmp.path);
    expect(withKeys.status).toBe(0);
    const elsewhere = join(tmp.path, 'recordings');
    const r = hopscope(['verify', paths.intact], elsewhere);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^UNKNOWN-KEY\s+\S+a-intact\.jsonl/m);
    expect(r.stdout).toMatch(/^ {4}unknown-key \(line 1\): signed by key [0-9a-f]{16}, which is not among the trusted keys$/m);
    expect(r.stderr).toContain('no trusted keys');
  });

  it("trusts the key in a configuration's keys.dir with --config", () => {
    const config = join(tmp.path, 'gateway.yml');
    writeFileSync(config, 'recording:\n  dir: ./recordings\nkeys:\n  dir: ./keys\nlisteners: {}\n');
    const r = hopscope(['verify', '--config', config, paths.intact], join(tmp.path, 'recordings'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('exits 2 with a clear sentence for a missing path', () => {
    const missing = join(tmp.path, 'no-such-recording.jsonl');
    const r = hopscope(['verify', '--key', keyFile, paths.intact, missing]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`hopscope: no such file or directory: ${missing}\n`);
    expect(r.stdout).toBe('');
  });

  it('exits 2 for a missing key, a folder without recordings, or no path at all', () => {
    const badKey = hopscope(['verify', '--key', join(tmp.path, 'nokey.pub'), paths.intact]);
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toContain('cannot load trusted keys: no such key file or directory');
    const empty = hopscope(['verify', '--key', keyFile, keysDir]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain(`no recordings (*.jsonl) found in ${keysDir}`);
    const none = hopscope(['verify']);
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain("missing required argument 'paths'");
  });
});
