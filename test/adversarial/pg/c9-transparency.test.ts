// Class 9: transparent to real clients. The client is told the real backend's
// process id (BackendKeyData = pg_backend_pid() = the pid in its notifications,
// and pg_terminate_backend of it ends this session and no other); cancel requests
// with that pid and secret work; the client's client_encoding is honoured (or
// refused clearly, never silently replaced by UTF8); a client that sends
// Terminate before its startup message is closed without a word, as PostgreSQL does.
import { connect } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { dataRow, fe, Harness, noticeFields, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';
import { CapturedPg } from './clients.js';
import { WireClient, type BeMessage } from './wire-client.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c9-transparency', () => env);

const firstValue = (msgs: BeMessage[]) => {
  const d = msgs.find((m) => m.type === 'D');
  return d ? dataRow(d)[0] ?? null : null;
};

h.case('BackendKeyData names the real backend: pg_backend_pid()', async (c) => {
  const w = await c.wire();
  const pid = firstValue(await w.roundTrip(fe.query('SELECT pg_backend_pid()')))?.toString();
  c.expect(w.backendKey !== undefined && String(w.backendKey.pid) === pid, `told pid ${w.backendKey?.pid}, pg_backend_pid() ${pid}`);
});
h.case('a notification to oneself carries the pid the client was told', async (c) => {
  const w = await c.wire();
  const msgs = await w.roundTrip(fe.query('LISTEN c9; NOTIFY c9, \'hello\''));
  const a = msgs.find((m) => m.type === 'A');
  c.expect(a !== undefined && a.body.readInt32BE(0) === w.backendKey?.pid, `notification pid ${a?.body.readInt32BE(0)}, told ${w.backendKey?.pid}`);
});
h.case('node-postgres: notification.processId equals client.processID', async (c) => {
  const p = await c.pg();
  await p.q('LISTEN c9n');
  await p.q("NOTIFY c9n, 'x'");
  await p.q('SELECT 1');
  const pid = (p.client as unknown as { processID: number }).processID;
  c.expect(p.notifications.length === 1 && p.notifications[0]!.processId === pid, `notifications ${JSON.stringify(p.notifications)}, processID ${pid}`);
});
h.case('pg_terminate_backend(the told pid) ends this session and no other', async (c) => {
  const other = await c.wire();
  const w = await c.wire();
  const msgs = await w.roundTrip(fe.query(`SELECT pg_terminate_backend(${w.backendKey?.pid ?? 0})`));
  const fatal = msgs.find((m) => m.type === 'E');
  await w.until(() => false, 0, 10_000).catch(() => undefined);
  c.expect(fatal !== undefined && noticeFields(fatal).C === '57P01', `expected FATAL 57P01 on the terminated session, got ${msgs.map((m) => m.type).join('')}`);
  const alive = await other.roundTrip(fe.query('SELECT 1'));
  c.expect(firstValue(alive)?.toString() === '1', 'another session of the same client was terminated');
});
h.case('a CancelRequest with the told pid and secret cancels a running statement', async (c) => {
  const w = await c.wire();
  const from = w.messages.length;
  w.send(fe.query('SELECT pg_sleep(60)'));
  await new Promise((r) => setTimeout(r, 300));
  const key = w.backendKey!;
  const req = Buffer.concat([Buffer.from([0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e]), Buffer.alloc(4), key.secret]);
  req.writeInt32BE(key.pid, 8);
  await new Promise<void>((resolve) => { const s = connect(c.gw.conn().port, '127.0.0.1', () => s.end(req)); s.on('close', () => resolve()); s.on('error', () => resolve()); });
  const err = await w.until((m) => m.type === 'E', from, 30_000);
  c.expect(err !== undefined && noticeFields(err).C === '57014', `expected 57014 query_canceled, got ${err ? noticeFields(err).C : 'nothing'}`);
});

/** The server's client_encoding as the session sees it, or the refusal text. */
async function encodingOf(c: CaseContext, params: Record<string, string>): Promise<{ shown?: string; refused?: string; e9?: Buffer | null }> {
  try {
    const w = await c.wire(params);
    const err = w.messages.find((m) => m.type === 'E');
    if (err) return { refused: noticeFields(err).M };
    const shown = firstValue(await w.roundTrip(fe.query('SHOW client_encoding')))?.toString();
    const e9 = firstValue(await w.roundTrip(fe.query('SELECT chr(233)')));
    return { shown, e9 };
  } catch (e) {
    return { refused: String(e) };
  }
}
const honoured = (c: CaseContext, want: string, got: { shown?: string; refused?: string }) =>
  c.expect(got.shown === want || (got.refused !== undefined && /encoding/i.test(got.refused)), `asked ${want}: ${got.shown ? `the session runs in ${got.shown}` : `refused without naming the encoding: ${got.refused}`}`);

h.case('client_encoding=LATIN1 in the startup message is honoured (é arrives as 0xE9)', async (c) => {
  const got = await encodingOf(c, { client_encoding: 'LATIN1' });
  honoured(c, 'LATIN1', got);
  if (got.shown === 'LATIN1') c.expect(got.e9?.equals(Buffer.from([0xe9])) === true, `chr(233) arrived as ${got.e9?.toString('hex')}`);
});
h.case('client_encoding=EUC_JP in the startup message is honoured', async (c) => honoured(c, 'EUC_JP', await encodingOf(c, { client_encoding: 'EUC_JP' })));
h.case('options=-c client_encoding=LATIN1 is honoured', async (c) => honoured(c, 'LATIN1', await encodingOf(c, { options: '-c client_encoding=LATIN1' })));
for (const enc of ['LATIN1', 'EUC_JP']) {
  h.case(`psql with PGCLIENTENCODING=${enc}`, async (c) => {
    const res = await c.psql('SHOW client_encoding', { env: { PGCLIENTENCODING: enc }, args: ['-t'] });
    c.expect(res.stdout.trim() === enc || /encoding/i.test(res.stderr), `psql asked ${enc}: ${res.stdout.trim()} ${res.stderr.trim()}`);
  });
}
h.case('psql with PGOPTIONS=-c client_encoding=EUC_JP', async (c) => {
  const res = await c.psql('SHOW client_encoding', { env: { PGOPTIONS: '-c client_encoding=EUC_JP' }, args: ['-t'] });
  c.expect(res.stdout.trim() === 'EUC_JP' || /encoding/i.test(res.stderr), `asked EUC_JP by options: ${res.stdout.trim()} ${res.stderr.trim()}`);
});

h.case('node-postgres connect(); end() before startup gets no protocol-violation error', async (c) => {
  const p = new CapturedPg(c.gw, c.appName());
  const connecting = p.client.connect().catch((e: Error) => e);
  const ending = p.client.end().catch((e: Error) => e);
  // Done when the socket closes (either side), whatever node-postgres' promises do.
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 10_000);
    const done = () => { clearTimeout(t); resolve(); };
    if (!p.socket || p.socket.destroyed) done();
    p.socket?.once('close', done);
  });
  const outcome = await Promise.race([connecting, ending, new Promise((r) => setTimeout(r, 1000))]);
  const bytes = p.bytes();
  c.expect(!bytes.includes(Buffer.from('08P01')) && !p.errors.length, `the client received ${bytes.length} bytes (${bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '.').slice(0, 120)}), errors: ${p.errors.map(String).join('; ')} ${outcome instanceof Error ? outcome.message : ''}`);
});
h.case('Terminate as the first message: closed without a word', async (c) => {
  const w = await WireClient.open(c.gw.conn().host, c.gw.conn().port);
  w.send(fe.terminate());
  await w.until(() => false, 0, 10_000).catch(() => undefined);
  c.expect(w.closed && w.bytes().length === 0, `closed ${w.closed}, received ${w.bytes().length} bytes: ${w.bytes().toString('latin1').replace(/[^\x20-\x7e]/g, '.')}`);
});
