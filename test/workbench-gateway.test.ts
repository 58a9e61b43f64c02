import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner, loadTrustedKeys } from '../common/keys.js';
import { EventType, verifyRecordingFile } from '../common/recording/index.js';
import { issueToken } from '../common/tokens/index.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { artifacts, assertBuilt, launchChromium, startWorkbench, type Workbench } from './workbench-support.js';

// The Gateway view end to end: the workbench (browser mode) starts a REAL gateway (`hopscope gateway`, a
// child process) from a config file in front of a real PostgreSQL; node-postgres connects through it; the
// UI shows the live session, approves a held DELETE with a reason, revokes the identity and lifts the revocation
// again (Unrevoke), stops the gateway (recordings sealed) and opens its recordings in the case. The gateway must outlive a crashed workbench.

let work: string;
let db: PgServer;
let wb: Workbench;
let browser: BrowserContext;
let page: Page;
let client: pg.Client | undefined;
let liveSession = '';
const env = () => ({ HOPSCOPE_STATE_DIR: join(work, 'state') });
const shot = (name: string) => page.screenshot({ path: join(artifacts, `workbench-gateway-${name}.png`), fullPage: true });
const status = () => page.getByTestId('local-status').getAttribute('data-state');
const REASON = 'checked with the on-call DBA';

/** The gateway the workbench started, from its run record (to clean up after a failed run). */
function recordedPid(): number | undefined {
  if (!work) return undefined;
  const file = join(work, 'state', 'local-gateway.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

beforeAll(async () => {
  assertBuilt();
  work = mkdtempSync(join(tmpdir(), 'hopscope-workbench-gw-'));
  db = await startPostgres();
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query('CREATE TABLE scratch (id int); INSERT INTO scratch SELECT generate_series(1, 7)');
  await admin.end();
  writeFileSync(join(work, 'db.password'), db.appPassword, { mode: 0o600 });
  writeFileSync(join(work, 'gateway.yml'), stringify({
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: `127.0.0.1:${await freePort()}` },
    targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { file: './db.password' } }],
    identities: [
      { name: 'agent', kind: 'machine', targets: ['db'] },
      { name: 'alice', kind: 'human', targets: ['db'], approver: true },
    ],
    guardrails: [{ name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' }],
    approvals: { timeout: '120s' },
  }));
  writeFileSync(join(work, 'bad.yml'), stringify({ recording: { dir: './r' }, keys: { dir: './k' }, listeners: { postgres: 'nowhere' }, colour: 'blue' }));
  wb = await startWorkbench(['--db', join(work, 'case.db')], { env: env() });
  browser = await launchChromium();
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  await client?.end().catch(() => {});
  const pid = recordedPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await browser?.close();
  await wb?.stop();
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A node-postgres client of an identity through the gateway, with a fresh token. */
function connectAs(identity: string, listen: string): pg.Client {
  const signer = loadOrCreateSigner(join(work, 'keys'));
  const c = new pg.Client({ host: '127.0.0.1', port: Number(listen.split(':')[1]), user: identity, database: 'db',
    password: issueToken(signer, systemClock, { identity, ttlSeconds: 600 }).token });
  c.on('error', () => {}); // a refused login also closes the socket
  return c;
}

async function startFromUi(config: string): Promise<void> {
  await page.getByTestId('local-config').fill(config);
  await page.getByTestId('local-start').click();
}

describe('the Gateway view with a local gateway', () => {
  it('shows the gateway\'s own message when its config is invalid', async () => {
    await page.goto(`${wb.url}#/gateway`);
    await startFromUi(join(work, 'bad.yml'));
    await expect.poll(status, { timeout: 30_000 }).toBe('failed');
    const message = await page.getByTestId('local-message').innerText();
    expect(message).toContain('invalid configuration');
    expect(message).toContain('listeners.postgres: expected host:port');
    expect(message).toContain('Unrecognized key: "colour"');
    await shot('bad-config');
  });

  it('starts the gateway from a config file and lists a live session of a client that connects through it', async () => {
    await startFromUi(join(work, 'gateway.yml'));
    await expect.poll(status, { timeout: 30_000 }).toBe('running');
    const statusText = await page.getByTestId('local-status').innerText();
    const pgListen = /postgres\s+(127\.0\.0\.1:\d+)/.exec(statusText)?.[1];
    expect(pgListen).toBeDefined();
    const signer = loadOrCreateSigner(join(work, 'keys'));
    client = new pg.Client({ host: '127.0.0.1', port: Number(pgListen!.split(':')[1]), user: 'agent', database: 'db',
      password: issueToken(signer, systemClock, { identity: 'agent', ttlSeconds: 600 }).token });
    await client.connect();
    expect((await client.query('SELECT count(*)::int AS n FROM scratch')).rows[0]).toEqual({ n: 7 });
    const row = page.getByTestId('live-session-row').filter({ hasText: 'agent' });
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    liveSession = (await row.locator('td').first().innerText()).trim();
    expect(liveSession).not.toBe('');
    await shot('running');
  });

  it('keeps the gateway and its sessions when the workbench dies, and the next workbench finds it', async () => {
    const pid = recordedPid()!;
    const exited = new Promise((r) => wb.child.once('exit', r));
    wb.child.kill('SIGKILL');
    await exited;
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect((await client!.query('SELECT 2 AS two')).rows[0]).toEqual({ two: 2 });
    wb = await startWorkbench(['--db', join(work, 'case.db')], { env: env() });
    await page.goto(`${wb.url}#/gateway`);
    await expect.poll(status, { timeout: 20_000 }).toBe('running');
    expect(await page.getByTestId('local-status').innerText()).toContain(`pid ${pid} (started by an earlier workbench)`);
    await expect.poll(() => page.getByTestId('live-session-row').filter({ hasText: liveSession }).count(), { timeout: 20_000 }).toBe(1);
  });

  it('holds an unbounded DELETE until it is approved from the UI with a reason; the client\'s statement then completes', async () => {
    const held = client!.query('DELETE FROM scratch');
    const row = page.getByTestId('approval-row').filter({ hasText: 'DELETE FROM scratch' });
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.innerText()).toContain('agent');
    expect(await page.getByTestId('approver').inputValue()).toBe('alice');
    await page.getByTestId('approval-reason').fill(REASON);
    await shot('approval');
    await row.getByRole('button', { name: 'approve' }).click();
    expect((await held).rowCount).toBe(7);
    await expect.poll(() => page.getByTestId('approval-row').count(), { timeout: 20_000 }).toBe(0);
  });

  it('revokes the identity from the UI, which cuts the client\'s session', async () => {
    // The first error is the gateway's reason; the socket's close follows as a second one.
    const cut = new Promise<Error>((resolve) => client!.on('error', resolve));
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('live-session-row').filter({ hasText: liveSession }).getByRole('button', { name: 'revoke identity' }).click();
    expect((await cut).message).toMatch(/revoked \(identity agent\)/);
    await expect.poll(() => page.getByTestId('live-session-row').count(), { timeout: 20_000 }).toBe(0);
    // The local gateway's card lists the revocation (from keys.dir) with the command that lifts it.
    const revocation = page.getByTestId('revocation-row').filter({ hasText: 'agent' });
    await expect.poll(() => revocation.count(), { timeout: 20_000 }).toBe(1);
    expect(await revocation.getByTestId('unrevoke-command').innerText()).toMatch(/^hopscope token unrevoke --identity agent --config '.+gateway\.yml'$/);
    await expect(client!.query('SELECT 1')).rejects.toThrow();
    client = undefined;
  });

  it('lifts the revocation with Unrevoke (after a confirmation): the gateway no longer lists it, records who lifted it, and lets the identity in', async () => {
    const config = parse(readFileSync(join(work, 'gateway.yml'), 'utf8')) as { admin: { listen: string }; listeners: { postgres: string } };
    const adminToken = readFileSync(join(work, 'keys', 'admin.token'), 'utf8').trim();
    const revocations = async () => {
      const res = await fetch(`http://${config.admin.listen}/revocations`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { identity?: string; by?: string }[];
    };
    expect(await revocations()).toEqual([expect.objectContaining({ identity: 'agent', by: 'admin' })]);
    // Still revoked: a fresh token of the identity is refused.
    const refused = connectAs('agent', config.listeners.postgres);
    await expect(refused.connect()).rejects.toThrow(/identity agent was revoked/);

    const row = page.getByTestId('revocation-row').filter({ hasText: 'agent' });
    // Dismissing the confirmation lifts nothing.
    page.once('dialog', (d) => void d.dismiss());
    await row.getByTestId('unrevoke').click();
    expect(await revocations()).toHaveLength(1);
    const auditFile = join(work, 'recordings', readdirSync(join(work, 'recordings')).find((f) => /^gateway-.*\.jsonl$/.test(f))!);
    expect(readFileSync(auditFile, 'utf8')).not.toContain('"unrevoked"');

    await shot('revoked');
    const asked = new Promise<string>((resolve) => page.once('dialog', (d) => {
      resolve(d.message());
      void d.accept();
    }));
    await row.getByTestId('unrevoke').click();
    expect(await asked).toMatch(/^Lift the revocation of identity agent\?/);
    const result = page.getByTestId('unrevoke-result');
    await expect.poll(() => result.count(), { timeout: 20_000 }).toBe(1);
    expect(await result.getAttribute('role')).toBe('status');
    expect(await result.innerText()).toMatch(/lifted\s+Lifted identity agent \(revoked since \d{4}-\S+ by admin\); recorded in the gateway's audit\./);
    await expect.poll(() => page.getByTestId('revocation-row').count(), { timeout: 20_000 }).toBe(0);
    await shot('unrevoked');

    expect(await revocations()).toEqual([]);
    expect(JSON.parse(readFileSync(join(work, 'keys', 'revocations.json'), 'utf8'))).toEqual([]);
    // The audit recording (gateway-*.jsonl) says who lifted it, from where, through what.
    const unrevoked = () => readFileSync(auditFile, 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> }).filter((e) => e.type === EventType.Unrevoked);
    await expect.poll(() => unrevoked().length, { timeout: 20_000 }).toBe(1);
    const event = unrevoked();
    expect(event[0]!.data).toMatchObject({ identity: 'agent', by: 'admin', via: 'workbench', client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      lifted: [expect.objectContaining({ identity: 'agent', by: 'admin' })] });

    // The lift takes effect at once: a fresh token of the identity logs in and runs a statement.
    const back = connectAs('agent', config.listeners.postgres);
    await back.connect();
    expect((await back.query('SELECT 3 AS three')).rows[0]).toEqual({ three: 3 });
    await back.end();
  });

  it('stops the gateway from the UI (SIGTERM): it exits cleanly and every recording is intact and sealed', async () => {
    await page.getByTestId('local-stop').click();
    await expect.poll(status, { timeout: 40_000 }).toBe('stopped');
    // Started by the first workbench, so its exit status is not ours to read: a clean stop shows no error.
    expect(await page.getByTestId('local-message').count()).toBe(0);
    const dir = join(work, 'recordings');
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    expect(files.some((f) => !f.startsWith('gateway-'))).toBe(true);
    const trusted = loadTrustedKeys([join(work, 'keys')]);
    for (const f of files) expect(await verifyRecordingFile(join(dir, f), trusted), f).toMatchObject({ status: 'intact', sealed: true });
    const session = readFileSync(join(dir, files.find((f) => f.includes(liveSession))!), 'utf8');
    expect(session).toContain(REASON);
    expect(session).toContain('"alice"');
    await shot('stopped');
  });

  it('opens the gateway\'s recordings in the case with one click, and the Sessions view lists them intact', async () => {
    await page.getByTestId('local-import').click();
    await expect.poll(() => page.getByTestId('import-progress').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(await page.getByTestId('import-progress').innerText()).toMatch(/^done: \d+ files? — \d+ imported/);
    await shot('imported');
    await page.getByTestId('local-imported-sessions').click();
    const row = page.locator(`[data-testid=session-row][data-session="${liveSession}"]`);
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.innerText()).toContain('agent');
    expect(await row.getByTestId('integrity').innerText()).toContain('intact');
    await shot('sessions');
  });

  it('opens the gateway\'s own recording: the revocation with its actor and the session it cut, the refused login, the lifting', async () => {
    await page.goto(`${wb.url}#/sessions`);
    const gw = page.getByTestId('gateway-recording-row').filter({ hasText: '⚡' });
    await expect.poll(() => gw.count(), { timeout: 20_000 }).toBe(1);
    await gw.click();
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-protocol')).toBe('gateway');
    const revoked = page.locator('[data-testid="exchange"]', { hasText: 'identity agent revoked by admin' });
    await expect.poll(() => revoked.count(), { timeout: 20_000 }).toBe(1);
    expect(await revoked.getByTestId('policy-step').innerText()).toMatch(/^REVOKED · by admin/);
    const facts = await revoked.getByTestId('gateway-facts').innerText();
    expect(facts).toMatch(/via \(as declared\)\s+workbench/);
    expect(facts).toContain(liveSession);
    // The fresh token refused while the identity was revoked, before any session existed.
    const refused = page.locator('[data-testid="exchange"]', { hasText: 'refused postgres login of agent' });
    await expect.poll(() => refused.count()).toBeGreaterThanOrEqual(1);
    expect(await refused.first().getByTestId('policy-step').innerText()).toMatch(/^REFUSED · rule TOKEN_REVOKED · .*identity agent was revoked by admin/);
    const lifted = page.locator('[data-testid="exchange"]', { hasText: 'revocation of identity agent lifted by admin' });
    expect(await lifted.getByTestId('policy-step').innerText()).toMatch(/^UNREVOKED · by admin/);
    expect(await page.getByTestId('row-mark').count()).toBe(0); // sealed by the clean stop: every row verified
    await shot('audit-recording');
    // The session it cut says who revoked it, and links back to this record.
    await revoked.getByRole('link', { name: liveSession }).click();
    await expect.poll(() => page.getByTestId('hop-view').getAttribute('data-session')).toBe(liveSession);
    expect(await page.getByTestId('hop-revocation').innerText()).toMatch(/revoked by admin \(identity agent\) via workbench/);
    await shot('audit-cut-session');
  });

  it('starts again from the UI and stops its own child: exit status 0', async () => {
    await page.goto(`${wb.url}#/gateway`);
    await expect.poll(() => page.getByTestId('local-config').inputValue()).toBe(join(work, 'gateway.yml'));
    await page.getByTestId('local-start').click();
    await expect.poll(status, { timeout: 30_000 }).toBe('running');
    expect(await page.getByTestId('local-status').innerText()).not.toContain('earlier workbench');
    await page.getByTestId('local-stop').click();
    await expect.poll(status, { timeout: 40_000 }).toBe('stopped');
    expect(await page.getByTestId('local-status').innerText()).toContain('exit status 0');
    expect(recordedPid()).toBeUndefined();
  });
});
