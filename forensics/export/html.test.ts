import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys, trustedKeysOf } from '../../common/keys.js';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { artifacts, launchChromium } from '../../test/workbench-support.js';
import { importPaths } from '../import/paths.js';
import { openCase, type CaseFile } from '../store/case.js';
import { writeEvidenceScenario } from '../testing/evidence.js';
import { fixedSigner, writeScenario, type Scenario } from '../testing/scenario.js';
import { writeRevocationScenario, type RevocationScenario } from '../testing/scenario-v2.js';
import { exportCase } from './index.js';

// The HTML post-mortem report, read in a real Chromium: it leads with the incident's answers and a
// merged timeline, badges revoked and cut hops in its graph, and cuts no line at 1280 px. Cases: the
// version-1 scenario (an unmasked value, a denial), the evidence cases, the current-version
// revocation (alice revokes, a reconnect refused) and the demo recordings `npm start` opens
// (examples/nested-agents, written by the real gateway: admin revokes, a timeout beside a denial).

const demoDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/nested-agents');
const DEMO = {
  root: '20261126T031028Z-e25841cb6c52',
  cut: ['20261126T031035Z-f4a369789c8a', '20261126T031035Z-b364462e5ea7'],
};

let tmp: TempDir;
let browser: BrowserContext;
let page: Page;
let v1: Scenario;
let v2: RevocationScenario;
const cases: Record<string, CaseFile> = {};
const html: Record<string, string> = {};

beforeAll(async () => {
  tmp = new TempDir();
  const signer = fixedSigner();
  const folder = (name: string) => {
    const dir = join(tmp.path, name);
    mkdirSync(dir);
    return dir;
  };
  v1 = writeScenario(folder('v1'), signer);
  writeEvidenceScenario(folder('evidence'), signer);
  v2 = writeRevocationScenario(folder('v2'), signer);
  const trusted = trustedKeysOf([signer.publicKey]);
  for (const [name, dir, keys] of [
    ['v1', join(tmp.path, 'v1'), trusted], ['evidence', join(tmp.path, 'evidence'), trusted], ['v2', join(tmp.path, 'v2'), v2.trusted],
    ['demo', join(demoDir, 'recordings'), loadTrustedKeys([join(demoDir, 'gateway_ed25519.pub')])],
  ] as const) {
    cases[name] = openCase(join(tmp.path, `${name}.db`));
    await importPaths(cases[name], [dir], { trusted: keys, now: () => 1_760_000_100_000_000 });
    const out = join(tmp.path, `${name}.html`);
    exportCase(cases[name], { format: 'html', out });
    html[name] = readFileSync(out, 'utf8');
  }
  browser = await launchChromium({ width: 1280, height: 900 });
  page = await browser.newPage();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  for (const c of Object.values(cases)) c.close();
  tmp?.remove();
});

async function open(name: string): Promise<void> {
  await page.setContent(html[name]!, { waitUntil: 'load' });
}

const text = (selector: string) => page.locator(selector).innerText();

/** The timeline's rows as the reader sees them. */
const timeline = () => page.$$eval('table.timeline tr[data-t]', (rows) => rows.map((r) => ({
  t: Number(r.getAttribute('data-t')), type: r.getAttribute('data-type'), session: r.getAttribute('data-session'), cls: r.className,
  cells: Array.from(r.querySelectorAll('td'), (td) => (td as HTMLElement).innerText),
})));

describe('demo case (real gateway recordings)', () => {
  it('leads with the answers: root identity, hops and depth, 0 unmasked, policy with who decided, the revocation by admin, integrity', async () => {
    await open('demo');
    const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
    expect(headings.slice(0, 3)).toEqual(['Answers', 'Merged timeline', 'Chain graph']);
    expect(await text('.root-identity')).toBe('contractor-ci');
    expect(await text('#answer-hops')).toMatch(/^6 hops, depth up to 2; 8 statements and 8 commands in all/);
    expect(await text('#answer-sensitive')).toMatch(/^23 masked, 0 unmasked/);
    expect(await text('#answer-policy')).toBe('2 blocked (by policy), 3 held, 1 approved (by alice), 1 denied (by alice), 1 timed out (no one decided)');
    const revocation = await text('#answer-revocations');
    expect(revocation).toContain('identity contractor-ci revoked by admin, no reason given; 3 sessions cut');
    expect(revocation).toMatch(/1 reconnect refused after it \(\S+ contractor-ci TOKEN_REVOKED\)/);
    expect(await page.locator('.revocation .actor').innerText()).toBe('admin');
    expect(await text('#answer-integrity')).toBe('7 of 7 files intact, sealed and signed by a trusted key');
  });

  it('has a merged timeline of every hop and the gateway in time order, with the revocation, its actor and the refused reconnect', async () => {
    await open('demo');
    const rows = await timeline();
    expect(rows.map((r) => r.t)).toEqual([...rows.map((r) => r.t)].sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.session)).size).toBe(7); // six hops and the gateway's recording
    expect(rows.filter((r) => r.type === 'session.start')).toHaveLength(6);
    const revoked = rows.find((r) => r.type === 'revoked')!;
    expect(revoked.cells[5]).toContain('identity contractor-ci revoked by admin (3 sessions cut)');
    expect(revoked.cells[6]).toBe('admin');
    const refused = rows.findIndex((r) => r.type === 'refused');
    expect(refused).toBeGreaterThan(rows.indexOf(revoked));
    expect(rows[refused]!.cells[5]).toContain('refused contractor-ci → prod-db: TOKEN_REVOKED');
    expect(rows[refused]!.cells[6]).toBe(''); // the identity refused decided nothing
    expect(rows.filter((r) => r.type === 'session.end' && r.cls === 'revoked').map((r) => r.session).sort()).toEqual([DEMO.root, ...DEMO.cut].sort());
    // Hops interleave by time, not hop by hop: the two hops opened last run side by side.
    const [a, b] = DEMO.cut;
    const sideBySide = rows.filter((r) => r.session === a || r.session === b).map((r) => `${r.session === a ? 'pg' : 'ssh'} ${r.type}`);
    expect(sideBySide.slice(0, 4)).toEqual(['pg session.start', 'ssh session.start', 'pg pg.query', 'ssh ssh.exec']);
    const runs = rows.filter((r, i) => i === 0 || r.session !== rows[i - 1]!.session).length;
    expect(runs).toBeGreaterThan(7);
    expect(rows.find((r) => r.type === 'approval.decided' && r.cells[5]!.includes('denied'))!.cells[6]).toBe('alice');
  });

  it('badges the revoked hop and the hops the revocation cut, in the graph and the hop table', async () => {
    await open('demo');
    expect(await page.$$eval('svg g.hop.revoked', (gs) => gs.map((g) => g.getAttribute('data-session')))).toEqual([DEMO.root]);
    expect((await page.$$eval('svg g.hop.cut', (gs) => gs.map((g) => g.getAttribute('data-session')))).sort()).toEqual([...DEMO.cut].sort());
    expect(await page.$$eval('svg g.hop.revoked text.badge, svg g.hop.cut text.badge', (ts) => ts.map((t) => t.textContent))).toEqual(['REVOKED', 'CUT', 'CUT']);
    expect(await page.locator(`table.hops tr[data-session="${DEMO.root}"] .badge`).innerText()).toBe('REVOKED');
    for (const s of DEMO.cut) expect(await page.locator(`table.hops tr[data-session="${s}"] .badge`).innerText()).toBe('CUT');
    expect(await page.locator('table.hops .badge').count()).toBe(3);
    // How each ended names who revoked, for the cut hops too: these recordings' session.end does not, the gateway's does.
    for (const s of [DEMO.root, ...DEMO.cut]) expect(await page.locator(`table.ends tr[data-session="${s}"] td.by`).innerText()).toBe('admin');
  });
  it('a report of one chain (--session) still carries the gateway\'s revocation and refusal in its answers and timeline', async () => {
    const out = join(tmp.path, 'demo-one.html');
    exportCase(cases.demo!, { format: 'html', out, session: DEMO.cut[0] });
    await page.setContent(readFileSync(out, 'utf8'), { waitUntil: 'load' });
    expect(await text('#answer-revocations')).toContain('revoked by admin');
    const rows = await timeline();
    expect(rows.map((r) => r.type)).toEqual(expect.arrayContaining(['revoked', 'refused']));
    expect(await text('#answer-integrity')).toBe('7 of 7 files intact, sealed and signed by a trusted key');
  });
});

describe('fixture cases', () => {
  it('current-version revocation: alice revoked, because of a leaked token, and the refused reconnect after it', async () => {
    await open('v2');
    expect(await text('.root-identity')).toBe('contractor-ci');
    const revocation = await text('#answer-revocations');
    expect(revocation).toContain('identity contractor-ci revoked by alice, because: leaked token; 2 sessions cut');
    expect(revocation).toMatch(/1 reconnect refused after it/);
    expect(await page.$$eval('svg g.hop.revoked', (gs) => gs.map((g) => g.getAttribute('data-session')))).toEqual([v2.ids.root]);
    expect(await page.$$eval('svg g.hop.cut', (gs) => gs.map((g) => g.getAttribute('data-session')))).toEqual([v2.ids.pg]);
    const rows = await timeline();
    expect(rows.find((r) => r.type === 'revoked')!.cells[6]).toBe('alice');
  });

  it('version 1: says the unmasked values, counts a denial apart from timeouts, and names who approved', async () => {
    await open('v1');
    expect(await text('#answer-sensitive')).toMatch(/^3 masked, 2 unmasked/);
    expect(await page.locator('#answer-sensitive > span:first-child').getAttribute('class')).toBe('bad');
    expect(await text('#answer-policy')).toBe('2 blocked (by policy), 2 held, 1 approved (by alice), 1 denied (by alice), 0 timed out');
    const rows = await timeline();
    expect(rows.map((r) => r.session)).toContain(v1.ids.ssh2);
    expect(rows.map((r) => r.t)).toEqual([...rows.map((r) => r.t)].sort((a, b) => a - b));
  });

  it('evidence cases: a file not intact is named in the integrity answer', async () => {
    await open('evidence');
    const integrity = await text('#answer-integrity');
    const [, good, all] = /^(\d+) of (\d+) files/.exec(integrity)!;
    expect(Number(good)).toBeLessThan(Number(all));
    expect(await page.locator('#answer-integrity .bad').count()).toBeGreaterThan(1);
  });
});

describe('layout', () => {
  it('the stylesheet wraps long words and preformatted text and scales the graph', () => {
    const style = /<style>([\s\S]*?)<\/style>/.exec(html.demo!)![1]!;
    expect(style).toMatch(/pre\{[^}]*white-space:pre-wrap/);
    expect(style).toMatch(/code\{[^}]*overflow-wrap:anywhere/);
    expect(style).toMatch(/td\.text\{overflow-wrap:anywhere/);
    expect(style).toMatch(/svg\{max-width:100%/);
  });

  it.each(['demo', 'v1', 'evidence', 'v2'])('%s: no line runs past the page at 1280 px', async (name) => {
    await open(name);
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth);
    const wide = await page.$$eval('table, pre, svg', (els) => els.filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth).map((e) => e.tagName));
    expect(wide).toEqual([]);
    if (name === 'demo') {
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'html-report-demo.png'), fullPage: true });
      await page.screenshot({ path: join(artifacts, 'html-report-demo-top.png'), clip: { x: 0, y: 0, width: 1280, height: 1400 } });
      await page.locator('svg').screenshot({ path: join(artifacts, 'html-report-demo-graph.png') });
      await page.locator('table.timeline').screenshot({ path: join(artifacts, 'html-report-demo-timeline.png') });
    }
  });
});
