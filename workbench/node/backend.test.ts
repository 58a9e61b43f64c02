import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportJob } from '../../common/api/index.js';
import { fixedSigner, writeScenario, type Scenario } from '../../forensics/testing/scenario.js';
import { CaseBackend } from './backend.js';

// The workbench backend over a real case file built from the forensic fixtures' scenario.
let dir: string;
let scenario: Scenario;
let backend: CaseBackend;
const delivered: string[] = [];

async function finished(job: ImportJob): Promise<ImportJob> {
  let j = job;
  while (j.state === 'running') {
    await new Promise((r) => setTimeout(r, 10));
    j = await backend.importStatus(j.id);
  }
  return j;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-backend-'));
  mkdirSync(join(dir, 'rec'));
  scenario = writeScenario(join(dir, 'rec'), fixedSigner());
  backend = new CaseBackend({ trusted: scenario.trusted, workDir: join(dir, 'work'), deliver: async (file) => (delivered.push(file), { href: 'download/x' }) });
  await expect(backend.graph()).rejects.toMatchObject({ code: 'NO_CASE' });
  expect(await backend.openCase(join(dir, 'case.db'))).toMatchObject({ sessions: 0, files: 0 });
  const uploaded = await finished(await backend.importUpload([{ name: 'root.jsonl', text: readFileSync(scenario.files.root, 'utf8') }]));
  expect(uploaded.results).toEqual([expect.objectContaining({ action: 'imported', integrity: 'intact', sealed: true })]);
  const job = await finished(await backend.importPaths([join(dir, 'rec')]));
  expect(job).toMatchObject({ state: 'done', filesTotal: 3, filesDone: 3 });
  expect(job.results.map((r) => r.action).sort()).toEqual(['imported', 'imported', 'unchanged']);
});

afterAll(() => {
  backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('workbench backend', () => {
  it('lists sessions with their counts and links, and the files with their integrity', async () => {
    expect(await backend.caseInfo()).toMatchObject({ sessions: 3, files: 3 });
    const { hops, links, identities } = await backend.graph();
    expect(identities).toEqual(['contractor-ci']);
    const pg = hops.find((h) => h.id === scenario.ids.pg)!;
    expect(pg.counts).toMatchObject({ statements: 3, blocked: 1, held: 1, denied: 1, maskedValues: 2 });
    expect(hops.find((h) => h.id === scenario.ids.root)!.revoked).toBe(true);
    expect(links.map((l) => [l.to, l.kind, l.inferred])).toEqual(expect.arrayContaining([[scenario.ids.pg, 'hop-token', false], [scenario.ids.ssh2, 'address-time', true]]));
    expect((await backend.files()).every((f) => f.integrity === 'intact' && f.sealed && f.keyTrusted)).toBe(true);
  });

  it('searches commands and SQL in full text, words as prefixes, FTS syntax inert', async () => {
    const r = await backend.sessions({ text: 'custom' });
    expect(new Set(r.sessions.map((s) => s.id))).toEqual(new Set([scenario.ids.pg, scenario.ids.root]));
    expect(r.matches.map((m) => m.text)).toContain('DROP TABLE customers');
    expect((await backend.sessions({ text: '" OR NEAR( *' })).sessions).toEqual([]);
  });

  it('pairs each statement with its masked result and its policy steps', async () => {
    const hop = await backend.hop(scenario.ids.pg);
    const select = hop.exchanges.find((x) => x.text.startsWith('select email'))!;
    expect(select.responses[0]).toMatchObject({ kind: 'result', columns: ['email', 'ssn'], rows: [['[masked:email]', '123-45-6789'], ['[masked:email]', '987-65-4321']] });
    expect(select.masked).toEqual(expect.arrayContaining([{ field: 'email', rule: 'email', masked: true, count: 2 }]));
    const del = hop.exchanges.find((x) => x.text === 'DELETE FROM customers')!;
    expect(del.policy.map((p) => [p.action, p.actor])).toEqual([['review', null], ['denied', 'alice']]);
    expect(hop.markers.map((m) => m.kind)).toEqual(expect.arrayContaining(['command', 'block', 'held', 'denied']));
    const root = await backend.hop(scenario.ids.root);
    expect(root.terminal).toEqual({ cols: 80, rows: 24 });
    expect(root.markers.filter((m) => m.kind === 'child').map((m) => m.session)).toEqual([scenario.ids.pg, scenario.ids.ssh2]);
    expect(root.exchanges.map((x) => x.text)).toEqual(expect.arrayContaining(['ls -la', 'psql -c "select email, ssn from customers"']));
  });

  it('pages a hop: the index of every row, then hopExchanges from any row of it', async () => {
    const hop = await backend.hop(scenario.ids.pg);
    expect(hop.index.kind).toEqual(['session', 'sql', 'sql', 'sql']);
    expect(hop.nextSeq).toBeNull();
    const [, select, drop, del] = hop.index.seq;
    const page = await backend.hopExchanges(scenario.ids.pg, select!, 2);
    expect(page.nextSeq).toBe(del);
    expect(page.exchanges).toEqual(hop.exchanges.slice(1, 3));
    expect(page.exchanges.map((x) => [x.seq, x.text, x.policy.map((p) => p.action)])).toEqual([
      [select, 'select email, ssn from customers', []], [drop, 'DROP TABLE customers', ['block']]]);
    expect(await backend.hopExchanges(scenario.ids.pg, del!, 2)).toEqual({ exchanges: hop.exchanges.slice(3), nextSeq: null });
    await expect(backend.hopExchanges('nope', 0, 2)).rejects.toMatchObject({ code: 'SESSION_UNKNOWN' });
  });

  it('pages the terminal stream after a seq, as screenAt applies it', async () => {
    const screen = await backend.screenAt(scenario.ids.root, 1_760_000_000_006_000);
    expect(screen.lines.join('\n')).toContain('total 8');
    const first = await backend.terminalEvents(scenario.ids.root, screen.seq, 2);
    expect(first.done).toBe(false);
    const rest = await backend.terminalEvents(scenario.ids.root, first.nextSeq, 100);
    expect(rest.done).toBe(true);
    const bytes = [...first.chunks, ...rest.chunks].filter((c) => c.data).map((c) => Buffer.from(c.data!, 'base64').toString()).join('');
    expect(bytes).toContain('Linux jump-host 6.1');
    expect([...first.chunks, ...rest.chunks].some((c) => c.cols === 100 && c.rows === 30)).toBe(true);
  });

  it('exports the sessions of a filter into one file (a CSV keeps one header) and refuses asciicast of many', async () => {
    const csv = await backend.exportCase({ format: 'csv', sessions: [scenario.ids.pg, scenario.ids.ssh2] });
    expect(csv.href).toBe('download/x');
    const lines = readFileSync(delivered.at(-1)!, 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.startsWith('message,')).length).toBe(1);
    expect(lines.length - 1).toBe(csv.records);
    expect(lines.slice(1).every((l) => l.includes(scenario.ids.pg) || l.includes(scenario.ids.ssh2))).toBe(true);
    // One timeline of both sessions, in time order (not one session's rows after the other's).
    const sessionCol = lines[0]!.split(',').indexOf('session_id');
    const timeCol = lines[0]!.split(',').indexOf('timestamp');
    const rows = lines.slice(1).map((l) => l.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, '')));
    const times = rows.map((r) => Number(r[timeCol]));
    expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    expect(new Set(rows.map((r) => r[sessionCol]))).toEqual(new Set([scenario.ids.pg, scenario.ids.ssh2]));
    // Asked for in the other order, the file is the same timeline.
    await backend.exportCase({ format: 'csv', sessions: [scenario.ids.ssh2, scenario.ids.pg] });
    expect(readFileSync(delivered.at(-1)!, 'utf8').trim().split('\n')).toEqual(lines);
    await expect(backend.exportCase({ format: 'asciicast', sessions: [scenario.ids.pg] })).rejects.toMatchObject({ code: 'EXPORT_REFUSED', message: expect.stringContaining('PostgreSQL hop') });
    await expect(backend.exportCase({ format: 'asciicast' })).rejects.toMatchObject({ code: 'EXPORT_NEEDS_SESSION' });
    const cast = await backend.exportCase({ format: 'asciicast', sessions: [scenario.ids.root] });
    expect(cast.fileName).toMatch(/\.cast$/);
    await expect(backend.exportCase({ format: 'csv', sessions: ['nope'] })).rejects.toMatchObject({ code: 'SESSION_UNKNOWN' });
  });
});
