// Workbench UI: `npm run bench:ui -- [--sessions 5000] [--events 1000000] [--graph-runs 10] [--hops 100]`.
// Times, in Debian's Chromium driven by Playwright against the browser mode, the first render of the
// chain graph (navigation to the first hop node on screen) and the opening of a hop at a random time
// (hash change to the hop's rows and, for SSH, its terminal screen from the keyframes). Targets: graph
// under 2 s, hop under 300 ms (p50 and p99 reported).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { trustedKeysOf } from '../common/keys.js';
import { CaseBackend } from '../workbench/node/backend.js';
import { rendererDist } from '../workbench/node/paths.js';
import { Downloads, startWebServer } from '../workbench/node/web-server.js';
import { listSessions, openCase } from '../forensics/index.js';
import { buildUiCase } from './ui-case.js';

const { values } = parseArgs({ options: {
  sessions: { type: 'string', default: '5000' }, events: { type: 'string', default: '1000000' },
  'graph-runs': { type: 'string', default: '10' }, hops: { type: 'string', default: '100' },
  dir: { type: 'string', default: join(tmpdir(), 'hopscope-bench-ui') },
} });
const sessions = Number(values.sessions);
const events = Number(values.events);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function rng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

mkdirSync(values.dir, { recursive: true });
const started = Date.now();
const uiCase = await buildUiCase(values.dir, sessions, events, (s) => console.log(s));
console.log(`case ${uiCase.db} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const c = openCase(uiCase.db, { readonly: true });
const all = listSessions(c).map((s) => ({ id: s.id, protocol: s.protocol, start: s.startMicros!, end: s.endMicros! }));
c.close();

const workDir = mkdtempSync(join(tmpdir(), 'hopscope-bench-ui-work-'));
const downloads = new Downloads();
const backend = new CaseBackend({ db: uiCase.db, trusted: trustedKeysOf([]), workDir, deliver: downloads.deliver });
// The backend's own time for the two calls a hop opening makes: less sensitive to a loaded machine than the end-to-end figure.
const serverMs = { hop: [] as number[], screenAt: [] as number[] };
for (const name of ['hop', 'screenAt'] as const) {
  const call = backend[name].bind(backend) as (...a: unknown[]) => Promise<unknown>;
  (backend as unknown as Record<string, unknown>)[name] = async (...a: unknown[]) => {
    const t0 = performance.now();
    try {
      return await call(...a);
    } finally {
      serverMs[name].push(performance.now() - t0);
    }
  };
}
const web = await startWebServer({ api: backend, downloads, staticDir: rendererDist() });
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'hopscope-chromium-')), {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1440, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const page = browser.pages()[0] ?? (await browser.newPage());

try {
  const graph: number[] = [];
  for (let i = 0; i < Number(values['graph-runs']); i++) {
    await page.goto('about:blank');
    const t0 = performance.now();
    await page.goto(`${web.url}#/chain`);
    await page.locator('[data-testid="hop-node"]').first().waitFor({ state: 'visible', timeout: 60_000 });
    graph.push(performance.now() - t0);
  }
  const nodes = await page.getByTestId('chain-canvas').getAttribute('data-nodes');
  mkdirSync(join(fileURLToPath(new URL('../../', import.meta.url)), 'test-artifacts'), { recursive: true });
  await page.screenshot({ path: join(fileURLToPath(new URL('../../', import.meta.url)), 'test-artifacts', 'bench-ui-chain.png') });

  const random = rng(7);
  const hop: number[] = [];
  serverMs.hop.length = 0;
  serverMs.screenAt.length = 0;
  await page.goto(`${web.url}#/sessions`);
  await page.getByTestId('session-row').first().waitFor();
  for (let i = 0; i < Number(values.hops); i++) {
    const s = all[Math.floor(random() * all.length)]!;
    const at = Math.max(s.start + 1, Math.round(s.start + random() * (s.end - s.start)));
    const t0 = performance.now();
    await page.evaluate((h) => (window.location.hash = h), `#/hop/${encodeURIComponent(s.id)}?t=${at}`);
    await page.locator(`[data-testid="hop-view"][data-session="${s.id}"] [data-testid="exchange"]`).first().waitFor({ timeout: 30_000 });
    if (s.protocol === 'ssh') await page.locator('[data-testid="terminal"][data-ready="yes"]').waitFor({ timeout: 30_000 });
    hop.push(performance.now() - t0);
  }
  const report = {
    sessions: all.length, events: uiCase.events, graphNodes: Number(nodes),
    graphFirstRenderMs: { p50: Math.round(pct(graph, 50)), p99: Math.round(pct(graph, 99)), runs: graph.length, targetMs: 2000 },
    hopOpenMs: { p50: Math.round(pct(hop, 50)), p99: Math.round(pct(hop, 99)), runs: hop.length, targetMs: 300 },
    backendMs: Object.fromEntries(Object.entries(serverMs).map(([k, xs]) => [k, { p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1), calls: xs.length }])),
  };
  console.log(JSON.stringify(report, null, 2));
  const results = join(fileURLToPath(new URL('../../', import.meta.url)), 'bench', 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'ui.json'), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await browser.close();
  await web.close();
  backend.close();
  rmSync(workDir, { recursive: true, force: true });
}
