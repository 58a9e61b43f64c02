import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from './helpers/fleet.js';
import { TARGET_PASSWORD_ENV, spawnGatewayProcess } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { stopAll } from './helpers/processes.js';
import { artifacts, assertBuilt, launchChromium, startWorkbench, type Workbench } from './workbench-support.js';

// The Gateway view connected to one gateway of a fleet (browser mode, real Chromium): two gateway processes on one
// control plane (a second PostgreSQL cluster) in front of a real database. The Fleet panel lists both; the live
// session and the statement held on gw-b show their gateway; an approver connected to gw-a approves it and the
// client on gw-b completes. A lone gateway shows no Fleet panel.
let work: string;
let db: PgServer;
let cpServer: PgServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;
const clients: pg.Client[] = [];
const shot = (name: string) => page.screenshot({ path: join(artifacts, `fleet-workbench-${name}.png`), fullPage: true });
const adminToken = (gw: { keysDir: string }) => readFileSync(join(gw.keysDir, 'admin.token'), 'utf8').trim();
const REASON = 'held on gw-b, approved from gw-a';

beforeAll(async () => {
  assertBuilt();
  work = mkdtempSync(join(tmpdir(), 'hopscope-fleet-wb-'));
  [db, cpServer] = await Promise.all([startPostgres(), startPostgres()]);
  cp = await createControlPlane(cpServer, ['a', 'b']);
  [a, b] = await Promise.all([
    startFleetGateway('gw-a', cp.url('a'), db, undefined),
    startFleetGateway('gw-b', cp.url('b'), db, undefined, {
      guardrails: [{ name: 'unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }],
      approvals: { timeout: '300s' }, // a loaded machine: the held statement must not time out while the test decides it
    }),
  ]);
  const setup = new pg.Client(db.app);
  await setup.connect();
  await setup.query('CREATE TABLE wb_items (id int); INSERT INTO wb_items SELECT generate_series(1, 6)');
  await setup.end();
  wb = await startWorkbench(['--db', join(work, 'case.db')], { env: { HOPSCOPE_STATE_DIR: join(work, 'state') } });
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await browser?.close();
  await wb?.stop();
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function clientOn(gw: FleetGatewayProcess): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'agent', password: gw.token(), database: 'db' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

async function connect(url: string, token: string): Promise<void> {
  await page.getByTestId('gateway-url').fill(url);
  await page.getByTestId('gateway-token').fill(token);
  await page.getByRole('button', { name: 'Connect' }).click();
}

describe('the Gateway view of a fleet', () => {
  it('lists both gateways, healthy, and the live session on gw-b with its gateway', async () => {
    const onB = await clientOn(b);
    await onB.query("SELECT 'seen from gw-a'");
    await page.goto(`${wb.url}#/gateway`);
    await connect(a.adminUrl, adminToken(a));
    const rows = page.getByTestId('fleet-row');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(2);
    const status = (await cp.query<{ name: string; key_id: string }>('SELECT name, key_id FROM hopscope_gateways ORDER BY name'));
    for (const { name, key_id: keyId } of status) {
      const row = page.locator(`[data-testid="fleet-row"][data-gateway="${name}"]`);
      expect(await row.getAttribute('data-healthy')).toBe('true');
      const text = await row.innerText();
      expect(await row.locator('td').nth(2).textContent()).toBe('healthy'); // textContent: the badge is drawn upper case
      expect(await row.locator('td').nth(3).textContent()).toMatch(/ ago$/);
      expect(text).toContain(keyId);
      expect(text).toContain(name === 'gw-a' ? a.adminUrl : b.adminUrl);
    }
    expect(await page.locator('[data-testid="fleet-row"][data-gateway="gw-a"]').innerText()).toContain('(connected)');
    expect(await page.getByTestId('fleet-self').innerText()).toContain('seen from gw-a');
    const session = page.getByTestId('live-session-row').filter({ has: page.getByTestId('session-gateway').filter({ hasText: 'gw-b' }) });
    await expect.poll(() => session.count(), { timeout: 20_000 }).toBe(1);
    expect(await page.locator('[data-testid="fleet-row"][data-gateway="gw-b"] td').nth(4).innerText()).toBe('1');
    await shot('fleet');
  });

  it('a statement held on gw-b is listed with its gateway and approved by an approver connected to gw-a; the client on gw-b completes', async () => {
    const held = await clientOn(b);
    const result = held.query('DELETE FROM wb_items');
    result.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const row = page.getByTestId('approval-row').filter({ hasText: 'DELETE FROM wb_items' });
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.getByTestId('approval-gateway').innerText()).toBe('gw-b');
    await shot('held-on-b');
    // The admin token lists; an approver decides in their own name: alice's token, signed by gw-a's key.
    await connect(a.adminUrl, a.token('alice'));
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => page.locator('.live-title').getAttribute('data-fleet'), { timeout: 20_000 }).toBe('none');
    expect(await page.getByTestId('fleet').count()).toBe(0);
    await page.getByTestId('approval-reason').fill(REASON);
    await shot('approver-on-a');
    await row.getByRole('button', { name: 'approve' }).click();
    expect((await result).rowCount).toBe(6);
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(0);
    const [decided] = await cp.query<{ decision: string; approver: string; decided_via: string; gateway: string; reason: string }>(
      "SELECT decision, approver, decided_via, gateway, reason FROM hopscope_approvals WHERE identity = 'agent'");
    expect(decided).toEqual({ decision: 'approved', approver: 'alice', decided_via: 'gw-a', gateway: 'gw-b', reason: REASON });
  });

  it('keeps the last list, marked not refreshed, while the connected gateway is cut off the control plane', async () => {
    await connect(a.adminUrl, adminToken(a));
    await expect.poll(() => page.getByTestId('fleet-row').count(), { timeout: 20_000 }).toBe(2);
    await cp.partition('a', true);
    try {
      await expect.poll(() => page.getByTestId('fleet-error').count(), { timeout: 30_000 }).toBe(1);
      expect(await page.getByTestId('fleet-error').innerText()).toMatch(/^Not refreshed: the gateway answered 503/);
      expect(await page.getByTestId('fleet-row').count()).toBe(2);
      expect(await page.getByTestId('fleet').getAttribute('data-stale')).toBe('true');
      expect(await page.getByTestId('fleet-self').innerText()).toMatch(/its last answer, .* ago, when its link to the control plane was/);
      await shot('cut-off');
    } finally {
      await cp.partition('a', false);
    }
    await expect.poll(() => page.getByTestId('fleet-error').count(), { timeout: 30_000 }).toBe(0);
    expect(await page.getByTestId('fleet-row').count()).toBe(2);
    expect(await page.getByTestId('fleet').getAttribute('data-stale')).toBe('false');
  });

  it('a lone gateway shows no Fleet panel and no gateway column', async () => {
    const lone = await spawnGatewayProcess({
      recording: { dir: './recordings' }, keys: { dir: './keys' }, admin: { listen: `127.0.0.1:${await freePort()}` },
      listeners: { postgres: `127.0.0.1:${await freePort()}` },
      targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
      identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    }, { [TARGET_PASSWORD_ENV]: db.appPassword });
    const signer = loadOrCreateSigner(join(lone.dir, 'keys'));
    const c = new pg.Client({ host: '127.0.0.1', port: Number(lone.config.listeners.postgres!.split(':')[1]), user: 'agent', database: 'db',
      password: issueToken(signer, systemClock, { identity: 'agent', ttlSeconds: 600 }).token });
    await c.connect();
    clients.push(c);
    await connect(`http://${lone.config.admin.listen}`, readFileSync(join(lone.dir, 'keys', 'admin.token'), 'utf8').trim());
    await expect.poll(() => page.locator('.live-title').getAttribute('data-fleet'), { timeout: 20_000 }).toBe('none');
    await expect.poll(() => page.getByTestId('live-session-row').count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByTestId('fleet').count()).toBe(0);
    expect(await page.getByTestId('session-gateway').count()).toBe(0);
    expect(await page.getByTestId('live-sessions-table').locator('th').allInnerTexts()).not.toContain('gateway');
    expect(await page.locator('.error-banner').count()).toBe(0);
    await shot('lone');
    await c.end();
    clients.splice(clients.indexOf(c), 1);
    await lone.proc.stop();
  });
});
