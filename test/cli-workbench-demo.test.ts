// `npm start` (`hopscope workbench --demo`): the committed nested-agents recordings in a case made
// afresh each time, served on a port below the ephemeral range, behind the URL's secret.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadTrustedKeys } from '../common/keys.js';
import { importPaths, openCase } from '../forensics/index.js';
import { assertBuilt, root } from './workbench-support.js';
import { caseDb } from '../forensics/store/case.js';

let cwd: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  cwd = await mkdtemp(join(tmpdir(), 'hopscope-demo-'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

/** Starts `hopscope workbench --demo --web` in the temporary folder; resolves with its printed URL. */
async function startDemo(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(root, 'bin', 'hopscope'), 'workbench', '--demo', '--web'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/[\w-]+\/)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`workbench exited ${code}: ${err}`)));
  });
  return { url, stop: () => new Promise((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM'))) };
}

const api = async (url: string, method: string, args: unknown[] = []) =>
  (await (await fetch(`${url}api/${method}`, { method: 'POST', body: JSON.stringify(args) })).json()) as { ok: boolean; value: unknown };

it('opens the nested-agents incident afresh each time, on a port below 32768, and answers nothing without the secret', async () => {
  const expected = (await readdir(join(root, 'examples', 'nested-agents', 'recordings'))).filter((f) => f.endsWith('.jsonl') && !f.startsWith('gateway-')).length;
  const first = await startDemo();
  expect(Number(new URL(first.url).port)).toBeLessThan(32768);
  const { sessions } = (await api(first.url, 'sessions', [{}])).value as { sessions: { id: string; integrity: string }[] };
  expect(sessions).toHaveLength(expected);
  expect(sessions.every((s) => s.integrity === 'intact')).toBe(true);
  const refused = await fetch(`${new URL(first.url).origin}/api/sessions`, { method: 'POST', body: '[{}]' });
  expect(refused.status).toBe(403);
  await first.stop();

  // Something else lands in the demo case (an older copy of the examples, say): the next start drops it.
  const c = openCase(join(cwd, '.hopscope', 'demo-case.db'));
  const count = () => (caseDb(c).prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  const before = count();
  await importPaths(c, [join(root, 'test', 'fixtures', 'demo-pg.jsonl')], { trusted: loadTrustedKeys([join(root, 'test', 'fixtures', 'demo-gateway.pub')]) });
  expect(count()).toBe(before + 1);
  c.close();
  const second = await startDemo();
  expect(((await api(second.url, 'sessions', [{}])).value as { sessions: unknown[] }).sessions).toHaveLength(expected);
  await second.stop();
}, 60_000);
