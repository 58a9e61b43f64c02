// Class 4: messages the server sends on its own. A NotificationResponse carries a
// payload computed from a protected column (pg_notify, to this or another
// LISTENing session); a ParameterStatus carries a setting set from one
// (set_config('application_name', email, false)); a custom setting launders one.
// None may reach a client or a recording in clear.
import { afterAll, beforeAll } from 'vitest';
import { fe, Harness, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c4-async-messages', () => env);

/** A second session LISTENs on `channel`, `send` runs, then a query on the listener makes sure delivery happened. */
async function listenWhile(c: CaseContext, channel: string, send: () => Promise<unknown>) {
  const listener = await c.pg();
  await listener.q(`LISTEN ${channel}`);
  await send();
  await listener.q('SELECT 1');
  return listener;
}

const NOTIFY_SQL: [string, string][] = [
  ['pg_notify of email', "SELECT pg_notify('adv', email) FROM customers;"],
  ['pg_notify of ssn and card, concatenated', "SELECT pg_notify('adv', ssn || '/' || card) FROM customers;"],
  ['pg_notify of the row as JSON', "SELECT pg_notify('adv', row_to_json(c)::text) FROM customers c;"],
  ['pg_notify of hex-encoded email', "SELECT pg_notify('adv', encode(convert_to(email, 'UTF8'), 'hex')) FROM customers;"],
  ['pg_notify inside a DO block', "DO $$ BEGIN PERFORM pg_notify('adv', (SELECT string_agg(email || ssn || card, ',') FROM customers)); END $$;"],
  ['pg_notify from a plpgsql function', "CREATE OR REPLACE FUNCTION f_c4_n() RETURNS void LANGUAGE plpgsql AS $$BEGIN PERFORM pg_notify('adv', e) FROM (SELECT email AS e FROM customers) s; END $$;\nSELECT f_c4_n();"],
];
for (const [name, sql] of NOTIFY_SQL) {
  h.case(`${name}, to another LISTENing session`, async (c) => { await listenWhile(c, 'adv', () => c.psql(sql, { stdin: true })); });
  h.case(`${name}, to the sending session itself (raw wire)`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.query('LISTEN adv'));
    await w.roundTrip(fe.query(sql.replace(/\n/g, ' ')));
    await w.roundTrip(fe.query('SELECT 1'));
  });
}
h.case('pg_notify from an UPDATE trigger, extended protocol', async (c) => {
  await c.psql(`CREATE FUNCTION f_c4_trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN
      IF current_setting('adv.on', true) = 'on' THEN PERFORM pg_notify('adv', NEW.email || NEW.card); END IF; RETURN NEW; END $$;
    CREATE TRIGGER t_c4 AFTER UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION f_c4_trg();`);
  await listenWhile(c, 'adv', async () => {
    const p = await c.pg();
    await p.q("SELECT set_config('adv.on', 'on', false)");
    await p.q('UPDATE customers SET name = name WHERE id = $1', [1]);
  });
});

const PARAMETER_SQL: [string, string][] = [
  ['set_config application_name from email', "SELECT set_config('application_name', email, false) FROM customers WHERE id = 1"],
  ['set_config application_name from ssn||card', "SELECT set_config('application_name', ssn || card, false) FROM customers WHERE id = 2"],
  ['set_config inside a DO block', "DO $$ BEGIN PERFORM set_config('application_name', (SELECT email FROM customers WHERE id = 3), false); END $$"],
  ['SET built by EXECUTE in a DO block', "DO $$ BEGIN EXECUTE format('SET application_name = %L', (SELECT card FROM customers WHERE id = 4)); END $$"],
  ['set_config search_path from email', "SELECT set_config('search_path', '\"' || email || '\"', false) FROM customers WHERE id = 5"],
];
for (const [name, sql] of PARAMETER_SQL) {
  h.case(`${name}: ParameterStatus (raw wire)`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.query(sql));
    await w.roundTrip(fe.query('SHOW application_name'));
  });
  h.case(`${name}: ParameterStatus (extended protocol)`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('', sql), fe.bind('', ''), fe.execute(''), fe.sync());
  });
}
h.case('a custom setting launders a value into an unprotected result', async (c) => {
  await c.psql("SELECT set_config('adv.x', email || ssn, false) IS NOT NULL FROM customers WHERE id = 1;\nSELECT current_setting('adv.x');\nSHOW adv.x;", { stdin: true });
});
h.case('application_name set from a column, read back by another session in pg_stat_activity', async (c) => {
  const p = await c.pg();
  await p.q("SELECT set_config('application_name', email, false) IS NULL FROM customers WHERE id = 1");
  await c.psql('SELECT application_name FROM pg_stat_activity;');
});
