import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, launchChromium, startWorkbench, type Workbench } from './workbench-support.js';

// The answer panel (issue 14, build 2) on `npm start`'s demo case: the five questions answered beside the
// chain, for the case and for a selected chain — real CLI in browser mode, Debian's Chromium.
const PG = '20261126T031029Z-bba7dd59e1ea';

let work: string;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;
const shots = process.env.HOPSCOPE_SHOTS ?? join(tmpdir(), 'hopscope-answers-shots');

beforeAll(async () => {
  assertBuilt();
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'hopscope-answers-'));
  wb = await startWorkbench(['--demo', '--db', join(work, 'demo.db')]);
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  await wb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the answer panel', () => {
  it('answers the case on the chain view: root identity, hops, masking with "0 unmasked", decisions and who made them, who revoked, integrity', async () => {
    await page.goto(`${wb.url}#/chain`);
    const answers = page.getByTestId('answers');
    await answers.waitFor();
    expect(await answers.getByTestId('answer-root').innerText()).toBe('contractor-ci (6 hops, depth 2)');
    expect(await answers.getByTestId('answer-commands').locator('li').count()).toBe(6);
    expect(await answers.getByTestId('answer-sensitive').innerText()).toMatch(/^23 masked, 0 unmasked\n/);
    // To whom: per hop, the fields returned (all masked here).
    expect(await answers.getByTestId('answer-sensitive-hop').allInnerTexts()).toEqual(expect.arrayContaining([
      'to contractor-ci → prod-db: card ×5, email ×5, ssn ×5 masked',
      'to contractor-ci → build-host: stdout (card) ×2, stdout (ssn) ×2 masked',
    ]));
    const policy = await answers.getByTestId('answer-policy').innerText();
    expect(policy).toMatch(/^2 blocked, 3 held, 1 approved, 1 denied, 1 timed out/);
    expect(policy).toContain('denied by alice');
    expect(policy).toContain('approved by alice');
    expect(policy).toContain('timed out: no one decided');
    const revocations = await answers.getByTestId('answer-revocations').innerText();
    expect(revocations).toContain('revoked by admin: identity contractor-ci');
    expect(revocations).toContain('3 sessions cut (2 through a revoked ancestor)');
    expect(revocations).toContain('1 login refused (contractor-ci)');
    expect(await answers.getByTestId('answer-integrity').innerText()).toBe('6 of 6 recordings intact and sealed');
    await page.screenshot({ path: join(shots, 'answers-case.png') });
  });

  it('answers the selected chain when a hop is clicked, and links each hop to its view', async () => {
    await page.locator(`[data-testid="hop-node"][data-session="${PG}"]`).click();
    const answers = page.getByTestId('answers');
    await expect.poll(() => answers.getAttribute('aria-label')).toBe('Answers for this chain');
    expect(await answers.getByTestId('answer-root').innerText()).toBe('contractor-ci (6 hops, depth 2)');
    await answers.locator(`a[href="#/hop/${PG}"]`).click();
    await expect.poll(() => page.url()).toContain(`#/hop/${PG}`);
  });
});

describe('the chain timeline', () => {
  it('shows every hop in one time order, ties the inner psql hop to the line typed ahead that opened it, and filters by what happened', async () => {
    await page.goto(`${wb.url}#/timeline`);
    const rows = page.getByTestId('timeline-row');
    await rows.first().waitFor();
    const all = await rows.count();
    expect(all).toBeGreaterThan(30);
    expect(new Set(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-session')))).size).toBe(7); // six hops and the gateway's recording
    // The inner prod-db hop (depth 2) names the deploy-host line that opened it: the psql one, typed before `exit`.
    const openedBy = page.getByTestId('opened-by');
    const texts = await openedBy.allInnerTexts();
    expect(texts.length).toBe(5);
    const inner = page.locator('[data-testid="timeline-row"][data-kind="start"]').filter({ has: page.getByText('opened by contractor-ci → deploy-host') });
    const seq = /#(\d+)/.exec(await inner.getByTestId('opened-by').innerText())![1];
    const line = page.locator(`[data-testid="timeline-row"][data-seq="${seq}"][data-kind="command"]`).filter({ hasText: 'psql' });
    expect(await line.count()).toBe(1);
    expect(await line.getByTestId('opened-hop').innerText()).toContain('opened contractor-ci → prod-db');
    // Its output (psql's masked rows) is beside it, though `echo` and `exit` were typed after it before any output came.
    expect(await line.getByTestId('timeline-response').innerText()).toContain('1|[masked:email]|[masked:ssn]');

    await page.getByTestId('only-denied').click();
    const denied = await rows.allInnerTexts();
    expect(denied.length).toBeGreaterThanOrEqual(2);
    expect(denied.every((t) => /denied|timeout/.test(t))).toBe(true);
    expect(denied.some((t) => t.includes('alice'))).toBe(true);
    await page.getByTestId('only-revoked').click();
    const revoked = await rows.allInnerTexts();
    expect(revoked.some((t) => /revoked by admin/.test(t) && t.includes('admin'))).toBe(true);
    expect(revoked.some((t) => /refused/.test(t))).toBe(true);
    expect(await rows.count()).toBeLessThan(all);
    await page.getByTestId('only-all').click();
    expect(await rows.count()).toBe(all);
    await page.screenshot({ path: join(shots, 'timeline.png'), fullPage: true });
  });
});
