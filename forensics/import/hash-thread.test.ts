import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashThreadAvailable } from '../../common/recording/line-hashes.js';
import { TempDir, buildRecording, flipSignature, withField } from '../../common/recording/testing/recordings.js';
import { caseDb, openCase, type CaseFile } from '../store/case.js';
import { importFile, type FileImport } from './importer.js';

/**
 * The import with its lines hashed on the hash thread (ImportOptions.hashThread)
 * must find exactly what the import hashing on its own thread finds: same
 * verdict, findings, custody hash and rows, for intact and damaged files.
 */
let tmp: TempDir;
const cases: CaseFile[] = [];
beforeEach(() => { tmp = new TempDir(); });
afterEach(() => {
  for (const c of cases.splice(0)) c.close();
  tmp.remove();
});

const CHUNK = 1 << 20;

async function both(name: string, lines: string[], trusted: Parameters<typeof importFile>[2]['trusted'], torn = false) {
  const path = tmp.writeLines(`${name}.jsonl`, lines, torn);
  const out: { file: Omit<FileImport, 'path' | 'verified'>; events: unknown[] }[] = [];
  for (const hashThread of [false, true]) {
    const c = openCase(join(tmp.path, `${name}-${hashThread}.db`));
    cases.push(c);
    const { path: _p, verified: _v, ...file } = await importFile(c, path, { trusted, hashThread, now: () => 1 });
    out.push({ file, events: caseDb(c).prepare('SELECT seq, t, type, data, intact FROM events ORDER BY seq').all() });
  }
  return out;
}

describe('import with the hash thread', () => {
  it('the hash thread runs here', async () => {
    expect(await hashThreadAvailable()).toBe(true);
  });

  it.each([
    ['intact, lines across chunk boundaries', (l: string[]) => l, 'intact'],
    ['an altered event', (l: string[]) => l.map((x, i) => (i === 40 ? withField(x, 'data', { text: 'forged' }) : x)), 'tampered'],
    ['a deleted event', (l: string[]) => l.filter((_x, i) => i !== 70), 'tampered'],
    ['a corrupt line', (l: string[]) => l.map((x, i) => (i === 55 ? x.slice(0, 30) : x)), 'tampered'],
    ['a bad checkpoint signature', (l: string[]) => l.map((x) => (x.includes('"type":"checkpoint"') ? flipSignature(x) : x)), 'tampered'],
    ['no seal', (l: string[]) => l.slice(0, -1), 'unverified'],
  ] as const)('finds what the reading thread finds: %s', async (name, damage, status) => {
    const rec = buildRecording({ events: 120, checkpointEvery: 25, data: (i) => ({ text: `${'é'.repeat(i % 7 === 0 ? 60_000 : 50)}${i}` }) });
    const [inline, thread] = await both(name.replace(/\W+/g, '-'), damage([...rec.lines]), rec.trusted);
    expect(inline!.file.integrity).toBe(status);
    expect(thread).toEqual(inline);
  });

  it('finds what the reading thread finds for a torn last line larger than a chunk', async () => {
    const rec = buildRecording({ events: 5, data: (i) => ({ blob: i === 5 ? 'q'.repeat(CHUNK + 9) : 'small' }) });
    const big = rec.lines.findIndex((l) => l.includes('qqqq'));
    const lines = [...rec.lines.slice(0, big), rec.lines[big]!.slice(0, CHUNK + 3)];
    const [inline, thread] = await both('torn', lines, rec.trusted, true);
    expect(inline!.file.findings.map((f) => f.kind)).toContain('truncated');
    expect(thread).toEqual(inline);
  });
});
