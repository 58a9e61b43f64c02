import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { importPaths, openCase, type CaseFile } from '../index.js';
import { fixedSigner, writeScenario, type Scenario } from '../testing/scenario.js';
import { sessionRows } from './workbench-rows.js';
import { sessionFactMatches } from './session-facts.js';

// The session search beyond the commands' text, over a real case file of the fixtures' scenario.
let dir: string;
let sc: Scenario;
let c: CaseFile;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-session-facts-'));
  sc = writeScenario(dir, fixedSigner());
  c = openCase(join(dir, 'case.db'));
  await importPaths(c, Object.values(sc.files), { trusted: sc.trusted });
});
afterAll(() => {
  c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const found = (q: string) => sessionFactMatches(c, sessionRows(c), q).map((m) => m.session).sort();

it('finds sessions by approver, identity, target and by what happened in them, every word required', () => {
  expect(found('alice')).toContain(sc.ids.pg);
  expect(found('denied by alice')).toEqual([sc.ids.pg]);
  expect(found('revoked')).toEqual([sc.ids.root]);
  expect(found('cut')).toEqual([sc.ids.root]);
  expect(found('contractor')).toHaveLength(3);
  expect(found('jump-host')).toEqual([sc.ids.ssh2]);
  expect(found('blocked')).toEqual([sc.ids.pg, sc.ids.ssh2].sort());
  expect(found('revoked jump-host')).toEqual([]);
  expect(found('')).toEqual([]);
  // Why: the phrases that hold the words.
  expect(sessionFactMatches(c, sessionRows(c), 'alice').find((m) => m.session === sc.ids.pg)?.text).toContain('denied by alice');
});

it('counts a timeout apart from a denial', () => {
  const pg = sessionRows(c).find((r) => r.id === sc.ids.pg)!;
  expect(pg.counts).toMatchObject({ denied: 1, timedOut: 0 });
});
