import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FixtureRecording, fixedSigner, T0 } from '../forensics/testing/scenario.js';

// The CLI as a shell pipeline's first command: `hopscope show … | head` must end quietly when head stops reading.
const cli = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'hopscope');
const session = '20251009T090000Z-pipe00000001';
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hopscope-pipes-'));
  const signer = fixedSigner();
  writeFileSync(join(work, 'key.pub'), signer.publicKey);
  // 3,000 statements: `show` prints far more than a pipe holds, so the writer meets the closed pipe.
  const rec = new FixtureRecording(session, 'postgres', signer, T0);
  rec.event('session.start', { identity: 'batch-job', tokenId: 'tok-pipe', tokenKind: 'identity', target: 'prod-db', protocol: 'postgres', client: '10.0.0.7:40000', tls: true });
  for (let i = 0; i < 3000; i++) {
    const q = rec.event('pg.query', { sql: `select ${i} as n, 'a long enough line to fill the pipe quickly' as filler` });
    rec.event('pg.result', { statement: q, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'n', typeOid: 23, format: 0 }], rows: [[String(i)]], rowsRecorded: 1, durationMicros: 100 });
  }
  rec.event('session.end', { reason: 'client closed' });
  rec.write(join(work, `${session}.jsonl`));
  const imported = spawnSync(process.execPath, [cli, 'import', join(work, `${session}.jsonl`), '--db', 'case.db', '--key', 'key.pub'], { cwd: work, encoding: 'utf8' });
  expect(imported.status, imported.stderr).toBe(0);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

it('`show | head -1` prints the first line and ends with status 0 and nothing on stderr', () => {
  const piped = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${cli}" show --db case.db --session ${session} | head -1`], { cwd: work, encoding: 'utf8' });
  expect(piped.stderr).toBe('');
  expect(piped.status).toBe(0);
  expect(piped.stdout).toMatch(new RegExp(`^session ${session}  postgres  batch-job → prod-db`));
  expect(piped.stdout.split('\n')).toHaveLength(2);
});
