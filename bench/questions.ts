// The five incident questions on `npm start`'s demo case, as a new user would ask them: `npm run bench:questions`.
// For each question, Debian's Chromium (Playwright, browser mode) opens the landing view (`#/`, the chain), follows
// the shortest click path the UI offers, and stops when the answer is on screen; it prints the interactions
// (clicks) and the time from landing to answer, and saves a screenshot per answer to test-artifacts/questions-*.png.
// The click paths are described in docs/QUESTIONS.md. Goal (issue 14): each answer within three interactions,
// all five under a minute.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { loadTrustedKeys } from '../common/keys.js';
import { CaseBackend } from '../workbench/node/backend.js';
import { rendererDist } from '../workbench/node/paths.js';
import { Downloads, startWebServer } from '../workbench/node/web-server.js';
import { importPaths, openCase } from '../forensics/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = join(root, 'examples', 'nested-agents');
const dir = mkdtempSync(join(tmpdir(), 'hopscope-questions-'));
const db = join(dir, 'demo.db');
const trusted = loadTrustedKeys([join(examples, 'gateway_ed25519.pub')]);
const c = openCase(db);
await importPaths(c, [join(examples, 'recordings')], { trusted });
c.close();

const downloads = new Downloads();
const backend = new CaseBackend({ db, trusted, workDir: join(dir, 'work'), deliver: downloads.deliver });
const web = await startWebServer({ api: backend, downloads, staticDir: rendererDist() });
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'hopscope-chromium-')), {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1440, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = browser.pages()[0] ?? (await browser.newPage());
const shots = join(root, 'test-artifacts');
mkdirSync(shots, { recursive: true });

interface Question { name: string; path: string; ask: (p: Page, click: (sel: string) => Promise<void>) => Promise<string> }
const QUESTIONS: Question[] = [
  {
    name: '1. who triggered the chain', path: 'landing → answers panel, "Triggered by"',
    ask: async (p) => p.getByTestId('answer-root').innerText(),
  },
  {
    name: '2. what each child ran', path: 'landing → Timeline tab (every command of every hop, in time order, child hops tied to the command that opened them)',
    ask: async (p, click) => {
      await click('[data-testid="tab-timeline"]');
      await p.getByTestId('timeline-row').first().waitFor();
      return `${await p.getByTestId('timeline-row').count()} rows across ${new Set(await p.getByTestId('timeline-row').evaluateAll((els) => els.map((e) => e.getAttribute('data-session')))).size} recordings`;
    },
  },
  {
    name: '3. sensitive fields returned, to whom', path: 'landing → answers panel, "Sensitive fields returned" (and per hop: Timeline → "masked")',
    ask: async (p) => p.getByTestId('answer-sensitive').innerText(),
  },
  {
    name: '4. who revoked, and what it cut', path: 'landing → answers panel, "Revocations"',
    ask: async (p) => p.getByTestId('answer-revocations').innerText(),
  },
  {
    name: '5. is the evidence intact', path: 'landing → answers panel, "Evidence"',
    ask: async (p) => p.getByTestId('answer-integrity').innerText(),
  },
];

try {
  const total0 = performance.now();
  const lines: string[] = [];
  for (const [i, q] of QUESTIONS.entries()) {
    await page.goto('about:blank');
    const t0 = performance.now();
    await page.goto(`${web.url}#/`);
    await page.getByTestId('answers').waitFor({ timeout: 30_000 });
    let clicks = 0;
    const answer = await q.ask(page, async (sel) => {
      clicks++;
      await page.locator(sel).click();
    });
    const ms = performance.now() - t0;
    await page.screenshot({ path: join(shots, `questions-${i + 1}.png`) });
    lines.push(`${q.name}: ${clicks} interaction${clicks === 1 ? '' : 's'}, ${(ms / 1000).toFixed(2)} s from landing — ${answer.replace(/\s+/g, ' ').slice(0, 120)}\n   path: ${q.path}`);
  }
  console.log(lines.join('\n'));
  console.log(`all five: ${((performance.now() - total0) / 1000).toFixed(1)} s (machine time; a person adds reading time)`);
} finally {
  await browser.close();
  await web.close();
  backend.close();
}
