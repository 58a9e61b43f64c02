import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORGED_SQL, writeEvidenceScenario, type EvidenceScenario } from '../forensics/testing/evidence.js';
import { fixedSigner } from '../forensics/testing/scenario.js';
import { assertBuilt, launchChromium, startWorkbench, type Workbench } from './workbench-support.js';

// Evidence in the workbench (browser mode, real CLI, Debian's Chromium): rows of a recording rewritten
// without the key are marked past the break, rows of an unsigned tail are marked unverified — on each
// row, with the reason on hover and for screen readers — and the gateway's own recording opens like a
// hop, naming who revoked a session, why, and the logins it refused.
let work: string;
let sc: EvidenceScenario;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;
// Screenshots to look at, outside the repository.
const shots = process.env.HOPSCOPE_SHOTS ?? join(tmpdir(), 'hopscope-evidence-shots');
const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** Every drawn row of the hop view: its seq, what the row says about its evidence, and its mark's reason. */
const rowsOf = () => page.getByTestId('exchange').evaluateAll((els) => els.map((el) => ({
  seq: Number(el.getAttribute('data-seq')),
  evidence: el.getAttribute('data-evidence'),
  mark: el.querySelector('[data-testid="row-mark"]')?.getAttribute('aria-label') ?? null,
  label: (el.querySelector('[data-testid="row-mark"]') as HTMLElement | null)?.innerText ?? null,
  background: getComputedStyle(el).backgroundImage + getComputedStyle(el).backgroundColor,
})));

beforeAll(async () => {
  assertBuilt();
  mkdirSync(shots, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'hopscope-workbench-evidence-'));
  const signer = fixedSigner();
  sc = writeEvidenceScenario(work, signer);
  writeFileSync(join(work, 'evidence.pub'), signer.publicKey);
  wb = await startWorkbench(['--db', join(work, 'case.db'), '--key', join(work, 'evidence.pub')]);
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await browser?.close();
  await wb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('evidence in the workbench', () => {
  it('imports the recordings: one rewritten, one with an unsigned tail, one revoked, and the gateway\'s own', async () => {
    await page.goto(`${wb.url}#/case`);
    await page.getByTestId('file-input').setInputFiles(Object.values(sc.files));
    await expect.poll(() => page.getByTestId('import-progress').getAttribute('data-state'), { timeout: 20_000 }).toBe('done');
    await expect.poll(() => page.getByTestId('file-row').count()).toBe(4);
    expect(await page.getByTestId('import-outcome').innerText()).toMatch(/^done: 4 files — 4 imported; [\d,]+ events$/);
    await shot('case');
  });

  it('says what an import that brought nothing in did: a rejected file is not "done"', async () => {
    const junk = join(work, 'not-a-recording.jsonl');
    writeFileSync(junk, '{"hello": "world"}\n');
    await page.goto(`${wb.url}#/case`);
    await page.getByTestId('file-input').setInputFiles([junk]);
    await expect.poll(() => page.getByTestId('import-outcome').innerText(), { timeout: 20_000 }).toMatch(/^done with problems: 1 file — 1 rejected; 0 events$/);
    expect(await page.getByTestId('import-progress').innerText()).toContain('not-a-recording.jsonl');
    expect(await page.getByTestId('file-row').count()).toBe(4);
  });

  it('marks every row of a rewritten recording that lies past the break, on the row, with the reason', async () => {
    await page.goto(`${wb.url}#/hop/${sc.ids.tampered}`);
    await page.getByTestId('exchange').first().waitFor();
    const badge = page.getByTestId('hop-view').locator('.hop-facts [data-testid="integrity"]');
    expect(await badge.innerText()).toContain(`tampered at seq ${sc.tamperedSignedThrough + 1}`);
    expect(await badge.getAttribute('title')).toMatch(/events past the break are not evidence/);
    expect(await page.getByTestId('evidence-banner').innerText()).toContain(`from seq ${sc.tamperedSignedThrough + 1} on`);

    const rows = await rowsOf();
    const before = rows.filter((r) => r.seq <= sc.tamperedSignedThrough);
    const after = rows.filter((r) => r.seq > sc.tamperedSignedThrough);
    expect(before.length).toBeGreaterThan(1);
    expect(after.map((r) => r.seq)).toContain(sc.tamperedSeq);
    for (const r of before) expect(r).toMatchObject({ evidence: 'verified', mark: null });
    for (const r of after) {
      expect(r.evidence).toBe('tampered');
      expect(r.label).toContain('past the break');
      expect(r.mark).toMatch(new RegExp(`^Not evidence: the recording's hash chain breaks at seq ${sc.tamperedSignedThrough + 1}; this event \\(seq ${r.seq}\\)`));
    }
    // Visibly different: marked rows are not drawn like verified ones.
    expect(new Set(after.map((r) => r.background)).size).toBe(1);
    expect(after[0]!.background).not.toBe(before[0]!.background);
    // The forged statement reads as written, but on a marked row.
    const forged = page.locator(`[data-testid="exchange"][data-seq="${sc.tamperedSeq}"]`);
    expect(await forged.locator('.ex-text').innerText()).toBe(FORGED_SQL);
    expect(await forged.getAttribute('title')).toMatch(/^Not evidence/);
    // The approval before the break names its approver and reason.
    expect(await page.getByTestId('policy-step').allInnerTexts()).toEqual(expect.arrayContaining([
      expect.stringMatching(/APPROVED · by alice · apr-9\s*· ticket OPS-12/)]));
    await shot('tampered');
  });

  it('marks the rows of an unsigned tail as unverified, and only those', async () => {
    await page.goto(`${wb.url}#/hop/${sc.ids.tail}`);
    await page.getByTestId('exchange').first().waitFor();
    const badge = page.getByTestId('hop-view').locator('.hop-facts [data-testid="integrity"]');
    expect(await badge.getAttribute('data-state')).toBe('unverified');
    expect(await badge.getAttribute('title')).toContain(`signed through seq ${sc.tailSignedThrough}`);
    const rows = await rowsOf();
    const signed = rows.filter((r) => r.seq <= sc.tailSignedThrough);
    const tail = rows.filter((r) => r.seq > sc.tailSignedThrough);
    expect(signed.length).toBe(2);
    expect(tail.length).toBe(2);
    for (const r of signed) expect(r).toMatchObject({ evidence: 'verified', mark: null });
    for (const r of tail) {
      expect(r.evidence).toBe('unverified');
      expect(r.label).toContain('unverified tail');
      expect(r.mark).toContain(`after the last valid signature (seq ${sc.tailSignedThrough})`);
    }
    expect(tail[0]!.background).not.toBe(signed[0]!.background);
    await shot('unverified-tail');
  });

  it('shows the state word with its description in the session list and on the chain graph', async () => {
    await page.goto(`${wb.url}#/sessions`);
    await expect.poll(() => page.getByTestId('session-row').count()).toBe(3);
    const state = (id: string) => page.locator(`[data-testid="session-row"][data-session="${id}"] [data-testid="integrity"]`);
    expect(await state(sc.ids.tampered).innerText()).toContain(`tampered at seq ${sc.tamperedSignedThrough + 1}`);
    expect(await state(sc.ids.tail).getAttribute('data-state')).toBe('unverified');
    // Each word with its description (what a sealed file without a journal is called is the verifier's to say).
    const cutState = await state(sc.ids.cut).getAttribute('data-state');
    expect(await state(sc.ids.cut).getAttribute('aria-label')).toMatch(new RegExp(`^integrity ${cutState}: ${cutState}`));
    const revoked = page.locator(`[data-testid="session-row"][data-session="${sc.ids.cut}"] [data-testid="revoked-badge"]`);
    expect(await revoked.innerText()).toContain('revoked by admin');
    expect(await revoked.getAttribute('title')).toBe(`revoked by admin (identity agent) via workbench: ${sc.revocation.reason}`);
    await shot('sessions');
    await page.goto(`${wb.url}#/chain`);
    const node = page.locator(`[data-testid="hop-node"][data-session="${sc.ids.tampered}"] [data-testid="integrity"]`);
    await node.waitFor();
    expect(await node.getAttribute('title')).toMatch(new RegExp(`^tampered at seq ${sc.tamperedSignedThrough + 1}: a hash link or a signature is broken`));
    await shot('chain');
  });

  it('opens the gateway\'s own recording: who revoked, when and why, the refused logins, and the session it cut', async () => {
    await page.goto(`${wb.url}#/sessions`);
    const gw = page.getByTestId('gateway-recording-row');
    await expect.poll(() => gw.count()).toBe(1);
    expect(await gw.innerText()).toMatch(/⚡ 1[\s\S]*⊘ 2/);
    await gw.click();
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-session')).toBe(sc.ids.gateway);
    expect(await page.getByTestId('hop-view').locator('h2').innerText()).toContain('the gateway\'s own recording');
    const revoked = page.locator('[data-testid="exchange"]', { hasText: 'identity agent revoked by admin' });
    expect(await revoked.count()).toBe(1);
    expect(await revoked.getByTestId('policy-step').innerText()).toBe(`REVOKED · by admin · ${sc.revocation.reason}`);
    const facts = await revoked.getByTestId('gateway-facts').innerText();
    expect(facts).toMatch(/actor\s+admin/);
    expect(facts).toMatch(/via \(as declared\)\s+workbench/);
    expect(await revoked.locator('.ex-meta').first().innerText()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} · #3 · revoked/);
    const refused = page.locator('[data-testid="exchange"]', { hasText: 'refused postgres login of agent' });
    expect(await refused.getByTestId('policy-step').innerText()).toBe('REFUSED · rule REVOKED · identity agent was revoked');
    expect(await refused.getByTestId('gateway-facts').innerText()).toContain(`identity agent, revoked by admin: ${sc.revocation.reason}`);
    expect(await page.locator('[data-testid="exchange"]', { hasText: 'revocation of identity agent lifted by alice' }).getByTestId('policy-step').innerText())
      .toBe('UNREVOKED · by alice · token rotated');
    expect(await page.getByTestId('row-mark').count()).toBe(0); // sealed and signed: nothing to mark
    await shot('gateway-recording');

    // The session it cut, one click away, says who revoked it and links back.
    await revoked.getByRole('link', { name: sc.ids.cut }).click();
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-session')).toBe(sc.ids.cut);
    const line = await page.getByTestId('hop-revocation').innerText();
    expect(line).toContain(`revoked by admin (identity agent) via workbench: ${sc.revocation.reason}`);
    expect(line).toContain('recorded by the gateway, #3');
    await shot('cut-session');
    await page.getByTestId('revocation-record').click();
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-session')).toBe(sc.ids.gateway);
  });
});
