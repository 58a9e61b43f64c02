import { request } from 'node:http';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixtureRecording, fixedSigner, T0, writeScenario, type Scenario } from '../forensics/testing/scenario.js';
import { freePort } from './helpers/ports.js';
import { artifacts, assertBuilt, launchChromium, root, startWorkbench, type Workbench } from './workbench-support.js';

// The workbench in browser mode, end to end: the real CLI serves the built UI; Debian's Chromium drives it.
// Recordings: the forensic fixtures' nested-agents scenario (SSH root with a pty, its psql hop with masked
// values and guardrail decisions, an inferred SSH hop) — no SSH recording from the real gateway exists yet —
// plus the real PostgreSQL recording of examples/ (from the gateway in front of a real PostgreSQL).
// A real recording of `hopscope demo` (psql through the gateway), committed with its gateway's public key.
const EXAMPLE = join(root, 'test', 'fixtures', 'demo-pg.jsonl');
let work: string;
let scenario: Scenario;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;

const shot = (name: string) => page.screenshot({ path: join(artifacts, `workbench-${name}.png`) });
const terminalText = () => page.locator('.xterm-rows').innerText();

beforeAll(async () => {
  assertBuilt();
  work = mkdtempSync(join(tmpdir(), 'hopscope-workbench-e2e-'));
  scenario = writeScenario(work, fixedSigner());
  copyFileSync(EXAMPLE, join(work, 'example-pg.jsonl'));
  writeFileSync(join(work, 'scenario.pub'), scenario.signer.publicKey);
  wb = await startWorkbench(['--db', join(work, 'case.db'), '--key', join(work, 'scenario.pub'), '--key', join(root, 'test', 'fixtures', 'demo-gateway.pub')]);
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  await wb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function rawRequest(path: string, opts: { method?: string; host?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: wb.port, path, method: opts.method ?? 'POST',
      headers: { host: opts.host ?? `127.0.0.1:${wb.port}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.method === 'GET' ? undefined : opts.body ?? '[]');
  });
}

describe('workbench in browser mode', () => {
  it('prints a 127.0.0.1 URL with a secret, and the API refuses requests without it', async () => {
    expect(wb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{24,}\/$/);
    expect((await rawRequest('/api/caseInfo')).status).toBe(403);
    expect((await rawRequest(`/${'x'.repeat(wb.secret.length)}/api/caseInfo`)).status).toBe(403);
    expect((await rawRequest('/', { method: 'GET' })).status).toBe(403);
    expect((await rawRequest(`/${wb.secret}/api/caseInfo`, { host: `evil.example:${wb.port}` })).status).toBe(421);
    expect((await rawRequest(`/${wb.secret}/%2e%2e/package.json`, { method: 'GET' })).status).toBe(403); // '..' leaves the secret
    expect((await rawRequest(`/${wb.secret}/assets/..%2f..%2f..%2fpackage.json`, { method: 'GET' })).status).toBe(404); // never out of the UI folder
    const ok = await rawRequest(`/${wb.secret}/api/caseInfo`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, value: { sessions: 0 } });
  });

  it('imports the recordings picked in the Case view, with progress and integrity per file', async () => {
    await page.goto(`${wb.url}#/case`);
    await page.getByTestId('file-input').setInputFiles([...Object.values(scenario.files), join(work, 'example-pg.jsonl')]);
    await expect.poll(() => page.getByTestId('import-progress').getAttribute('data-state'), { timeout: 20_000 }).toBe('done');
    await expect.poll(() => page.getByTestId('file-row').count()).toBe(4);
    expect(await page.getByTestId('integrity-summary').innerText()).toContain('4 intact');
    await shot('case');
  });

  it('draws the chain: the identity, four hops, a proven and an inferred edge, evidence and the path to the root', async () => {
    await page.goto(`${wb.url}#/chain`);
    await page.getByTestId('hop-node').first().waitFor();
    expect(await page.getByTestId('identity-node').allInnerTexts()).toEqual([expect.stringContaining('contractor-ci')]);
    expect(await page.getByTestId('hop-node').count()).toBe(4);
    expect(await page.locator('.react-flow__edge.edge-proven').count()).toBe(1);
    expect(await page.locator('.react-flow__edge.edge-inferred').count()).toBe(1);
    expect(await page.locator('.react-flow__edge.edge-inferred path.react-flow__edge-path').getAttribute('style')).toContain('stroke-dasharray');
    await page.locator('.react-flow__edge.edge-inferred .react-flow__edge-interaction').click({ force: true });
    const evidence = await page.getByTestId('evidence').innerText();
    expect(evidence).toContain('address-time');
    expect(evidence).toContain('inferred');
    expect(evidence).toContain('10.0.0.9');
    await page.locator(`[data-testid="hop-node"][data-session="${scenario.ids.pg}"]`).click();
    const path = await page.getByTestId('path-to-root').locator('li').allInnerTexts();
    expect(path).toEqual(['identity:contractor-ci', scenario.ids.root, scenario.ids.pg]);
    expect(await page.locator('.hop-node.on-path').count()).toBe(2);
    await shot('chain');
  });

  it('opens the psql hop: statements beside masked results, guardrail decisions, timeline markers', async () => {
    await page.getByTestId('open-hop').click();
    await page.getByTestId('hop-view').waitFor();
    expect(await page.getByTestId('hop-view').getAttribute('data-session')).toBe(scenario.ids.pg);
    const masked = page.getByTestId('masked-value');
    expect(await masked.count()).toBe(2);
    expect(await masked.first().innerText()).toContain('email');
    const exchanges = await page.getByTestId('exchange').allInnerTexts();
    expect(exchanges.join('\n')).toContain('select email, ssn from customers');
    expect(await page.getByTestId('policy-step').allInnerTexts()).toEqual(expect.arrayContaining([
      expect.stringContaining('BLOCK · rule no-drop'), expect.stringContaining('DENIED · by alice')]));
    expect(await page.getByTestId('marker-block').count()).toBe(1);
    await shot('hop-psql');
  });

  it('plays the terminal hop and seeks to a command, from the store\'s keyframes', async () => {
    await page.goto(`${wb.url}#/hop/${scenario.ids.root}`);
    await page.getByTestId('terminal').and(page.locator('[data-ready="yes"]')).waitFor();
    await page.getByTestId('speed').selectOption('16');
    await page.getByTestId('play').click();
    await expect.poll(terminalText, { timeout: 15_000 }).toContain('Linux jump-host 6.1');
    // Seek back by dragging the slider to the start, then jump to the next commands.
    await page.getByTestId('seek').fill(String(T0 + 1000));
    await expect.poll(terminalText).not.toContain('Linux jump-host');
    await page.getByTestId('next-command').click(); // ls -la (typed at +5 ms)
    await page.getByTestId('next-command').click(); // psql … (typed at +8 ms): the ls output is on screen
    await expect.poll(() => page.getByTestId('term-time').innerText()).toBe('08:53:20.008');
    await expect.poll(terminalText).toContain('total 8');
    expect(await terminalText()).not.toContain('psql output');
    expect(await page.locator('.ex-row.current').innerText()).toContain('psql -c');
    await page.getByTestId('marker-child').last().click(); // a child marker opens that hop
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-session')).toBe(scenario.ids.ssh2);
    await page.goto(`${wb.url}#/hop/${scenario.ids.root}?t=1760000000010000`);
    await expect.poll(terminalText).toContain('psql output');
    await shot('hop-terminal');
  });

  it('searches sessions in full text over commands and SQL, and sorts them', async () => {
    await page.goto(`${wb.url}#/sessions`);
    await page.getByTestId('session-search').fill('DROP');
    await expect.poll(() => page.getByTestId('session-row').count()).toBe(1);
    expect(await page.getByTestId('session-row').getAttribute('data-session')).toBe(scenario.ids.pg);
    expect(await page.getByTestId('search-match').innerText()).toContain('DROP TABLE customers');
    await page.getByTestId('session-search').fill('');
    await expect.poll(() => page.getByTestId('session-row').count()).toBe(4);
    await page.locator('th', { hasText: 'target' }).click();
    const targets = await page.locator('[data-testid="session-row"] td:nth-child(4)').allInnerTexts();
    expect(targets).toEqual([...targets].sort());
    await shot('sessions');
  });

  it('exports a Timesketch file that names every hop, its chain and its masking', async () => {
    await page.goto(`${wb.url}#/export`);
    await page.getByTestId('format-timesketch').check();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-run').click()]);
    const file = join(artifacts, 'workbench-export.timesketch.jsonl');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) expect(Object.keys(l)).toEqual(expect.arrayContaining(['message', 'datetime', 'timestamp_desc', 'session_id', 'root_identity', 'hop_depth']));
    expect(new Set(lines.map((l) => l.session_id))).toEqual(new Set([...Object.values(scenario.ids), '20261125T225616Z-b8462d08b493']));
    const pg = lines.filter((l) => l.session_id === scenario.ids.pg);
    expect(pg.some((l) => l.parent_session_id === scenario.ids.root && l.hop_depth === 1)).toBe(true);
    expect(pg.some((l) => String(l.masked_fields ?? '').includes('email'))).toBe(true);
    expect(await page.getByTestId('export-result').innerText()).toContain(`${lines.length} records`);
    await shot('export');
  });

  it('says clearly when the gateway of the Gateway view cannot be reached', async () => {
    const port = await freePort();
    await page.goto(`${wb.url}#/gateway`);
    await page.getByTestId('gateway-url').fill(`http://127.0.0.1:${port}`);
    await page.getByTestId('gateway-token').fill('not-a-token');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('alert').innerText()).toContain(`cannot reach the gateway at http://127.0.0.1:${port}`);
    await shot('gateway');
  });
  it('keeps a hop of thousands of statements usable: binned markers, blocks on top, rows drawn near the view, seek in step, every row reachable', async () => {
    // A busy psql session (its own root, so the chain above is unchanged): 3,000 statements 1 ms apart, one in 100 blocked.
    const busy = '20251009T090000Z-busy00000001';
    const rec = new FixtureRecording(busy, 'postgres', scenario.signer, T0 + 600_000_000);
    rec.event('session.start', { identity: 'batch-job', tokenId: 'tok-busy', tokenKind: 'identity', target: 'prod-db', protocol: 'postgres', client: '10.0.0.7:40000', tls: true });
    for (let i = 0; i < 3000; i++) {
      const q = rec.event('pg.query', { sql: `select ${i} as n` });
      if (i % 100 === 50) rec.event('policy.block', { statement: q, rule: 'no-drop', reason: 'blocked for the test', action: 'block' });
      else rec.event('pg.result', { statement: q, command: 'SELECT 1', rowCount: 1, columns: [{ name: 'n', typeOid: 23, format: 0 }], rows: [[String(i)]], rowsRecorded: 1, durationMicros: 100 });
      if (i % 500 === 499) rec.checkpoint();
    }
    rec.event('session.end', { reason: 'client closed' });
    const file = rec.write(join(work, `${busy}.jsonl`));
    await page.goto(`${wb.url}#/case`);
    await page.getByTestId('file-input').setInputFiles([file]);
    await expect.poll(() => page.getByTestId('file-row').count(), { timeout: 30_000 }).toBe(5);

    await page.goto(`${wb.url}#/hop/${busy}`);
    await page.getByTestId('exchange').first().waitFor();
    expect(await page.getByTestId('exchanges').getAttribute('data-rows')).toBe('3001'); // the session start and every statement have their place
    expect(await page.getByText('more commands not shown').count()).toBe(0);
    expect(await page.getByTestId('exchange').count()).toBeLessThan(100); // only the rows near the view are in the page
    const counts = async (testId: string) => (await page.getByTestId(testId).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count')))));
    const commandBins = await counts('marker-command');
    expect(commandBins.length).toBeLessThan(400); // one bar per few pixels, not one per command
    expect(commandBins.reduce((a, b) => a + b, 0)).toBe(3000); // every statement of the hop is in a bar, read or not
    expect((await counts('marker-block')).reduce((a, b) => a + b, 0)).toBe(30); // every block, none hidden under a bar
    const block = page.getByTestId('marker-block').first();
    expect(await block.evaluate((el) => Number(getComputedStyle(el).zIndex) > Number(getComputedStyle(el.parentElement!.querySelector('[data-testid="marker-command"]')!).zIndex))).toBe(true);
    expect(await block.getAttribute('title')).toContain('block: ');

    // A bar in the middle seeks to its first command: that row is drawn, marked and in view.
    const bar = page.getByTestId('marker-command').nth(Math.floor(commandBins.length / 2));
    const at = /at (\d\d:\d\d:\d\d\.\d{3})$/.exec((await bar.getAttribute('aria-label')) ?? '')?.[1];
    expect(at).toBeDefined();
    // The list settles after a seek (the row's page is read, rows are measured, the scroll follows): each check
    // below reads the page again until it holds, the current row being found afresh on each read.
    await bar.click();
    await expect.poll(() => page.locator('.ex-row.current .ex-cmd .ex-meta').innerText(), { timeout: 10_000 }).toContain(at!);
    await expect.poll(() => page.locator('.ex-row.current').isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => page.evaluate(() => {
      const row = document.querySelector('.ex-row.current');
      const list = row?.closest('.exchanges');
      if (!row || !list) return 'no current row in the list';
      const r = row.getBoundingClientRect();
      const box = list.getBoundingClientRect();
      return r.top >= box.top && r.top < box.bottom ? 'in view' : `top ${r.top} outside ${box.top}..${box.bottom}`;
    }), { timeout: 10_000 }).toBe('in view');
    // Zooming in shows fewer commands per bar, around the cursor.
    await page.getByTestId('timeline-zoom-in').click();
    await expect.poll(async () => (await counts('marker-command')).reduce((a, b) => a + b, 0)).toBeLessThan(3000);
    expect(Math.max(...(await counts('marker-command')))).toBeLessThan(Math.max(...commandBins));
    await shot('hop-many');

    // The end of the hop, by the timeline: a click at its right end (below the bars) seeks to the last statements, whose page is read
    // then; the last one (#3000) and its response are at the bottom of the list.
    await page.getByRole('button', { name: 'whole hop' }).click();
    const strip = (await page.getByTestId('timeline').boundingBox())!;
    await page.mouse.click(strip.x + strip.width - 1, strip.y + 40);
    const current = page.locator('.ex-row.current[data-testid="exchange"]');
    await expect.poll(() => current.count(), { timeout: 10_000 }).toBe(1);
    expect(Number(await current.getAttribute('data-index'))).toBeGreaterThan(2990);
    expect(await current.locator('.ex-text').innerText()).toMatch(/^select 29\d\d as n$/);
    const box = page.getByTestId('exchanges');
    await box.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    const last = page.locator('[data-testid="exchange"][data-index="3000"]');
    await expect.poll(() => last.count(), { timeout: 10_000 }).toBe(1);
    expect(await last.locator('.ex-text').innerText()).toBe('select 2999 as n');
    expect(await last.locator('.ex-resp').innerText()).toMatch(/SELECT 1 · 1 rows[\s\S]*2999/);
    await expect.poll(() => page.evaluate(() => {
      const row = document.querySelector('[data-testid="exchange"][data-index="3000"]');
      const list = row?.closest('.exchanges');
      if (!row || !list) return 'the last row is not in the list';
      const r = row.getBoundingClientRect();
      const box = list.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom + 1 ? 'fully visible' : `${r.top}..${r.bottom} not inside ${box.top}..${box.bottom}`;
    }), { timeout: 10_000 }).toBe('fully visible');
    expect(await page.getByTestId('exchange').count()).toBeLessThan(100);
    await shot('hop-many-end');

    // Scrolling reads the pages on the way: the middle of the hop, then back to the top.
    // Heights of rows not read yet are estimates, so the middle of scrollHeight moves as pages arrive:
    // scroll there again until the list has settled with the rows of the middle read and shown.
    await expect.poll(async () => {
      await box.evaluate((el) => el.scrollTo({ top: el.scrollHeight / 2 }));
      if (await page.getByTestId('exchange-pending').count()) return -1;
      return Number(await page.getByTestId('exchange').first().getAttribute('data-index'));
    }, { timeout: 10_000 }).toSatisfy((middle: number) => middle > 1000 && middle < 2000);
    await box.evaluate((el) => el.scrollTo({ top: 0 }));
    await expect.poll(() => page.getByTestId('exchange').first().innerText()).toContain('session start');
  });
});
