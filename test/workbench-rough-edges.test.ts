import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, launchChromium, startWorkbench, type Workbench } from './workbench-support.js';

// Rough edges of the workbench found on `npm start`'s demo case (issue 14), each checked where a user meets
// it: the real CLI in browser mode on the committed nested-agents recordings, driven by Debian's Chromium.
const ROOT = '20261126T031028Z-e25841cb6c52'; // ssh, contractor-ci → build-host; revoked
const PG = '20261126T031029Z-bba7dd59e1ea'; // its psql hop: a block, a denial by alice, an approval, a timeout
const SHELL = '20261126T031035Z-a3b988e243be'; // ssh shell with a pty → deploy-host
const CUT = ['20261126T031035Z-f4a369789c8a', '20261126T031035Z-b364462e5ea7']; // cut by the revocation

let work: string;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;
const shots = process.env.HOPSCOPE_SHOTS ?? join(tmpdir(), 'hopscope-rough-edges-shots');
const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`) });
const node = (id: string) => page.locator(`[data-testid="hop-node"][data-session="${id}"]`);

beforeAll(async () => {
  assertBuilt();
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'hopscope-rough-edges-'));
  wb = await startWorkbench(['--demo', '--db', join(work, 'demo.db')]);
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  await wb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('workbench rough edges on the demo case', () => {
  it('draws chain node text readable at the default fit (≥ 11 px on screen)', async () => {
    await page.goto(`${wb.url}#/chain`);
    await node(PG).waitFor();
    // The fit is applied once the nodes are measured: wait until the viewport stops changing.
    const zoom = () => page.locator('.react-flow__viewport').evaluate((el) => new DOMMatrix(getComputedStyle(el).transform).a);
    let last = -1;
    await expect.poll(async () => {
      const z = await zoom();
      const same = z === last;
      last = z;
      return same;
    }).toBe(true);
    const sizes = await page.locator('.hop-node, .identity-node').evaluateAll((els) => els.flatMap((el) => {
      const out: { text: string; px: number }[] = [];
      const walk = (e: Element) => {
        const own = Array.from(e.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent ?? '').join('').trim();
        if (own) out.push({ text: own, px: parseFloat(getComputedStyle(e).fontSize) });
        for (const c of Array.from(e.children)) walk(c);
      };
      walk(el);
      return out;
    }));
    expect(sizes.length).toBeGreaterThan(20);
    const z = await zoom();
    const smallest = sizes.reduce((a, b) => (b.px < a.px ? b : a));
    expect(smallest.px * z, `"${smallest.text}" is drawn at ${smallest.px} px × zoom ${z}`).toBeGreaterThanOrEqual(11);
    await shot('chain-fit');
  });

  it('opens a hop on a double-click on its chain node', async () => {
    await page.goto(`${wb.url}#/chain`);
    await node(PG).waitFor();
    await node(PG).locator('.hop-target').dblclick();
    await page.getByTestId('hop-view').waitFor();
    expect(await page.getByTestId('hop-view').getAttribute('data-session')).toBe(PG);
    expect(page.url()).toContain(`#/hop/${PG}`);
  });

  it('counts denials and timeouts apart: on the chain node, in the session list, in the hop view and on its timeline', async () => {
    await page.goto(`${wb.url}#/chain`);
    await node(PG).waitFor();
    const onNode = await node(PG).innerText();
    expect(onNode).toContain('1 denied');
    expect(onNode).toContain('1 timed out');
    expect(onNode).not.toContain('2 denied');
    await page.goto(`${wb.url}#/sessions`);
    const row = page.locator(`[data-testid="session-row"][data-session="${PG}"]`);
    await row.waitFor();
    expect(await row.innerText()).toMatch(/1 denied[\s\S]*1 timed out/);
    await page.goto(`${wb.url}#/hop/${PG}`);
    await page.getByTestId('exchange').first().waitFor();
    const facts = await page.getByTestId('hop-view').locator('.hop-facts').innerText();
    expect(facts).toContain('1 denied');
    expect(facts).toContain('1 timed out');
    expect(await page.getByTestId('marker-denied').count()).toBe(1);
    expect(await page.getByTestId('marker-timeout').count()).toBe(1);
  });

  it('says in the response column that a blocked, denied or timed-out statement was not executed, and why', async () => {
    await page.goto(`${wb.url}#/hop/${PG}`);
    await page.getByTestId('exchange').first().waitFor();
    const response = async (sql: RegExp) => {
      const row = page.getByTestId('exchange').filter({ has: page.locator('.ex-text', { hasText: sql }) });
      return row.locator('.ex-resp').innerText();
    };
    expect(await response(/^DROP TABLE/i)).toMatch(/not executed: blocked by rule no-drop/);
    expect(await response(/^DELETE FROM customers/i)).toMatch(/not executed: denied by alice/);
    expect(await response(/^UPDATE /i)).toMatch(/not executed: no approver decided within the time allowed \(timed out\)/);
    // An executed statement keeps its result, without the note.
    const done = await page.getByTestId('exchange').filter({ has: page.getByTestId('not-executed') }).count();
    expect(done).toBe(3);
    await shot('not-executed');
  });

  it('finds sessions by identity, approver, target, root identity and by what happened in them', async () => {
    await page.goto(`${wb.url}#/sessions`);
    await page.getByTestId('session-row').first().waitFor();
    const all = await page.getByTestId('session-row').count();
    const found = async (q: string) => {
      await page.getByTestId('session-search').fill(q);
      await expect.poll(() => page.getByTestId('sessions-view').getAttribute('data-searched')).toBe(q);
      return page.getByTestId('session-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-session')!).sort());
    };
    expect(await found('alice')).toEqual([PG]);
    const revoked = await found('revoke');
    expect(revoked).toEqual(expect.arrayContaining([ROOT, ...CUT]));
    expect(revoked).not.toContain(PG);
    expect(await found('cut')).toEqual(expect.arrayContaining(CUT));
    expect(await found('denied')).toEqual([PG]);
    expect(await found('timed out')).toEqual([PG]);
    expect(await found('blocked')).toContain(PG);
    expect((await found('deploy-host')).length).toBeGreaterThan(0);
    expect(await found('contractor')).toHaveLength(all);
    // Why a session was found is said beside it.
    await found('alice');
    expect(await page.getByTestId('search-match').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('denied by alice')]));
    await shot('search-alice');
  });

  it('shows an identity\'s panel on a click on its node: sessions, what they ran, blocks and denials, revocations', async () => {
    await page.goto(`${wb.url}#/chain`);
    await page.getByTestId('identity-node').first().click();
    const panel = page.getByTestId('identity-panel');
    await panel.waitFor();
    await expect.poll(() => panel.getAttribute('data-loaded')).toBe('yes');
    const text = await panel.innerText();
    expect(text).toContain('contractor-ci');
    expect(await panel.getByTestId('identity-session').count()).toBe(6);
    expect(await panel.getByTestId('identity-ran').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringMatching(/DROP TABLE/i)]));
    const policy = await panel.getByTestId('identity-policy').allInnerTexts();
    expect(policy).toEqual(expect.arrayContaining([expect.stringContaining('blocked'), expect.stringContaining('denied by alice'), expect.stringContaining('timed out')]));
    expect(await panel.getByTestId('identity-revocation').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('by admin')]));
    await shot('identity-panel');
  });

  it('shows the terminal\'s first frame when a terminal hop opens at its start, not an empty box', async () => {
    await page.goto(`${wb.url}#/hop/${SHELL}`);
    await page.getByTestId('terminal').and(page.locator('[data-ready="yes"]')).waitFor();
    const text = (await page.locator('.xterm-rows').innerText()).trim();
    const note = await page.getByTestId('term-note').count();
    expect(text.length > 0 || note > 0).toBe(true);
    expect(text.length, 'the demo shell has output: its first frame is shown').toBeGreaterThan(0);
    await shot('terminal-start');
    // Dragged back before any output: it says so.
    await page.getByTestId('seek').evaluate((el: HTMLInputElement) => {
      const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      set.call(el, el.min);
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await expect.poll(async () => (await page.getByTestId('term-note').allInnerTexts()).join('')).toMatch(/^No output yet at [\d:.]+: the first output comes at [\d:.]+/);
  });
});
