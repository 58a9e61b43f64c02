// Class 5: the gateway must judge the bytes the server will run, in the encoding
// the server decodes them with. In SJIS, BIG5, GBK and GB18030 a multibyte
// character can end in 0x5C (a backslash in ASCII): read as UTF-8, E'<lead>\'; …'
// is one string literal; read by the server in that encoding, the literal ends
// after the character and a DROP TABLE follows. With standard_conforming_strings
// off the same happens with plain ASCII. Each case attacks its own victim table:
// PostgreSQL's log and the table's state must show that no DROP ran.
import iconv from 'iconv-lite';
import { afterAll, beforeAll } from 'vitest';
import { run } from '../../helpers/processes.js';
import { fe, Harness, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c5-encoding', () => env);

/** A character of `encoding` whose second byte is 0x5C. */
function trailingBackslash(encoding: string): Buffer {
  for (let cp = 0x4e00; cp < 0x9fff; cp++) {
    const b = iconv.encode(String.fromCodePoint(cp), encoding);
    if (b.length === 2 && b[1] === 0x5c) return b;
  }
  throw new Error(`no character of ${encoding} ends in 0x5C`);
}

/** What UTF-8 reads as SELECT E'…' and `encoding` reads as SELECT …; DROP TABLE victim. */
function hiddenDrop(encoding: string, victim: string): Buffer {
  return Buffer.concat([Buffer.from("SELECT E'"), trailingBackslash(encoding), Buffer.from(`'; DROP TABLE ${victim}; --'`)]);
}

const ENCODINGS: [string, string][] = [['SJIS', 'shift_jis'], ['BIG5', 'big5'], ['GBK', 'gbk'], ['GB18030', 'gb18030']];
const opts = (c: number) => ({ victims: c, mustNotRun: [/DROP TABLE v_c5/i] });
const attack = async (c: CaseContext, params: Record<string, string>, before: string[], iconvName: string, extended = false) => {
  const w = await c.wire(params);
  for (const sql of before) await w.roundTrip(fe.query(sql));
  const bytes = hiddenDrop(iconvName, c.victims[0]!);
  if (extended) await w.roundTrip(fe.parse('', bytes), fe.bind('', ''), fe.execute(''), fe.sync());
  else await w.roundTrip(fe.query(bytes));
};

for (const [pgName, iconvName] of ENCODINGS) {
  h.case(`client_encoding=${pgName} in the startup message`, (c) => attack(c, { client_encoding: pgName }, [], iconvName), opts(1));
  h.case(`SET client_encoding = '${pgName}' mid-session`, (c) => attack(c, {}, [`SET client_encoding = '${pgName}'`], iconvName), opts(1));
}
h.case("SET NAMES 'SJIS'", (c) => attack(c, {}, ["SET NAMES 'SJIS'"], 'shift_jis'), opts(1));
h.case("set_config('client_encoding', 'SJIS', false)", (c) => attack(c, {}, ["SELECT set_config('client_encoding', 'SJIS', false)"], 'shift_jis'), opts(1));
h.case('options=-c client_encoding=BIG5 in the startup message', (c) => attack(c, { options: '-c client_encoding=BIG5' }, [], 'big5'), opts(1));
h.case("SET LOCAL client_encoding inside a transaction", (c) => attack(c, {}, ["BEGIN; SET LOCAL client_encoding = 'GBK'"], 'gbk'), opts(1));
h.case('client_encoding set inside a DO block', (c) => attack(c, {}, ["DO $$ BEGIN PERFORM set_config('client_encoding', 'SJIS', false); END $$"], 'shift_jis'), opts(1));
h.case('client_encoding=SJIS, extended-protocol Parse', (c) => attack(c, { client_encoding: 'SJIS' }, [], 'shift_jis', true), opts(1));
h.case('SJIS set in one pipelined batch with the attack', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query("SET client_encoding = 'SJIS'"), fe.query(hiddenDrop('shift_jis', c.victims[0]!)));
}, opts(1));
h.case('psql with PGCLIENTENCODING=SJIS, the bytes given by -c', async (c) => {
  const script = `exec psql -X -c "$(printf 'SELECT E\\x27\\x97\\x5c\\x27; DROP TABLE ${c.victims[0]}; --\\x27')"`;
  const res = await run('bash', ['-c', script], { env: c.libpq({ PGCLIENTENCODING: 'SJIS' }) });
  c.saw(res.stdout + res.stderr, 'psql');
}, opts(1));

/** standard_conforming_strings off: '\'' escapes the quote for the server, not for a parser that assumes on. */
const scsOff = (victim: string) => `SELECT '\\', $$ '; DROP TABLE ${victim}; -- $$`;
/**
 * With standard_conforming_strings on, the literal below is harmless and PostgreSQL logs its text (DROP
 * included) when it runs it as the SELECT it is; what must not happen is the change of the setting, and
 * the victim must stay: the log is checked for the statement that turns it off, the table for the DROP.
 */
const scsOpts = { victims: 1, mustNotRun: [/standard_conforming_strings\s*(=|to)\s*'?off|set_config\('standard_conforming_strings'/i] };
h.case('SET standard_conforming_strings = off, then a backslash-quoted literal', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query('SET standard_conforming_strings = off'));
  await w.roundTrip(fe.query(scsOff(c.victims[0]!)));
}, scsOpts);
h.case('standard_conforming_strings=off in the startup options', async (c) => {
  const w = await c.wire({ options: '-c standard_conforming_strings=off' });
  await w.roundTrip(fe.query(scsOff(c.victims[0]!)));
}, opts(1));
h.case("set_config('standard_conforming_strings', 'off', false) in the same batch", async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query("SELECT set_config('standard_conforming_strings', 'off', false)"), fe.query(scsOff(c.victims[0]!)));
}, scsOpts);
h.case('standard_conforming_strings off inside a DO block, then the literal', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query("DO $$ BEGIN SET standard_conforming_strings = off; END $$"));
  await w.roundTrip(fe.query(scsOff(c.victims[0]!)));
}, scsOpts);

// Paths to the setting the guardrails cannot see: a trigger the database already has (created straight on the
// server, not through the gateway) runs set_config; a view over pg_settings is updated. What stops them is the
// gateway's order of work: a text with a backslash pipelined behind other statements is judged only after the
// server has answered them (and reported the change, which ends the session); behind an Execute of the same
// unsynced batch it cannot be waited for and is refused.
const hidden = async (c: CaseContext, sql: string) => {
  const d = await env.direct();
  try {
    await d.query(sql);
  } finally {
    await d.end();
  }
};
const triggerPath = async (c: CaseContext) => {
  const t = `trg_${c.id.replace(/\W/g, '_')}`;
  await hidden(c, `CREATE TABLE ${t} (id int);
    CREATE FUNCTION ${t}_f() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); RETURN NEW; END $f$;
    CREATE TRIGGER ${t}_t BEFORE INSERT ON ${t} FOR EACH ROW EXECUTE FUNCTION ${t}_f()`);
  return `INSERT INTO ${t} VALUES (1)`;
};
const hiddenOpts = { victims: 1, mustNotRun: [/DROP TABLE v_c5[^;]*;\s*--\s*\$\$\s*$/i] };
h.case('a trigger the gateway cannot see turns standard_conforming_strings off, the literal pipelined behind it', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query(await triggerPath(c)), fe.query(scsOff(c.victims[0]!)));
  c.expect(w.closed, 'the session goes on after the server turned standard_conforming_strings off');
}, hiddenOpts);
h.case('a view over pg_settings is updated, the literal pipelined behind it', async (c) => {
  const view = `set_${c.id.replace(/\W/g, '_')}`;
  await hidden(c, `CREATE VIEW ${view} AS SELECT name, setting FROM pg_settings`);
  const w = await c.wire();
  await w.roundTrip(fe.query(`UPDATE ${view} SET setting = 'off' WHERE name = 'standard_conforming_strings'`), fe.query(scsOff(c.victims[0]!)));
}, hiddenOpts);
h.case('the trigger path in one extended-protocol batch: the literal behind an unsynced Execute is refused', async (c) => {
  const w = await c.wire();
  const insert = await triggerPath(c);
  await w.roundTrip(fe.parse('', insert), fe.bind('', ''), fe.execute(''), fe.parse('', scsOff(c.victims[0]!)), fe.bind('', ''), fe.execute(''), fe.sync());
  c.expect(w.messages.some((m) => m.type === 'E' && m.body.toString('utf8').includes('pipelined-settings')), 'no refusal by rule pipelined-settings');
}, hiddenOpts);
h.case('a backslash literal pipelined behind harmless statements still runs (judged once they are answered)', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query('SELECT 1'), fe.query('SELECT 2'), fe.query("SELECT 'a\\b' AS x"));
  const rows = w.messages.filter((m) => m.type === 'D').map((m) => m.body.toString('latin1'));
  c.expect(rows.length === 3 && rows[2]!.endsWith('a\\b'), `the third row is not a\\b: ${JSON.stringify(rows)}`);
}, { victims: 0 });

h.case('the customers table is intact after every encoding attack', async (c) => {
  const d = await env.direct();
  try {
    const r = (await d.query('SELECT count(*)::int AS n FROM customers')).rows[0] as { n: number };
    c.expect(r.n === 5, `customers has ${r.n} rows`);
  } finally {
    await d.end();
  }
});
