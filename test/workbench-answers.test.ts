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
    expect(await answers.getByTestId('answer-sensitive').innerText()).toMatch(/^\d+ masked, 0 unmasked$/);
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
