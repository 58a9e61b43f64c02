// Red team (session 8): the PostgreSQL client socket fast path (gateway/pg/client-reader.ts,
// net's onread state on the accepted socket) and Query decoded in place (decodeQuery).
// Each attack is judged on what the client received, what the recording says and what
// PostgreSQL ran (its statement log and the victim table).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { fe, rawFrame, RawPg, recordedSql, recordingText, TargetProbe } from './redteam-s8-support.js';

const SSN = '123-45-6789';
let db: PgServer;
let gw: TestGateway;
let victim = 0;

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  const c = new pg.Client(db.app);
  await c.connect();
  await c.query(`CREATE TABLE people (id int, note text); INSERT INTO people VALUES (1, 'ssn ${SSN}');
    CREATE TABLE marks (label text)`);
  await c.end();
  gw = await startTestGateway(db, {
    masking: [{ name: 'ssn', builtin: 'us-ssn' }],
    guardrails: [
      { name: 'no-drop', sql: { statements: ['DropStmt'] }, action: 'block' },
      { name: 'review-truncate', sql: { statements: ['TruncateStmt'] }, action: 'review' },
    ],
  });
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

const target = () => new TargetProbe(db);
const makeVictim = () => target().victim(`victim_s8_${++victim}`);
const direct = <T>(sql: string) => target().rows<T>(sql);
const tableExists = (name: string) => target().tableExists(name);
const marks = () => target().marks();
const logged = (re: RegExp) => target().logged(re);

/** The SSN never reaches the client or the recording, and PostgreSQL still holds it. */
async function noLeak(client: RawPg, app: string): Promise<string> {
  expect(client.bytes().toString('latin1')).not.toContain(SSN);
  const text = await recordingText(gw, app);
  expect(text).not.toContain(SSN);
  expect((await direct<{ note: string }>('SELECT note FROM people WHERE id = 1'))[0]!.note).toContain(SSN);
  return text;
}

/** A batch: a marker insert, a blocked DROP, a masked select, another marker. */
function batch(tag: string, v: string): { bytes: Buffer; sql: string[] } {
  const sql = [`INSERT INTO marks VALUES ('${tag}-a')`, `DROP TABLE ${v}`, 'SELECT note FROM people', `INSERT INTO marks VALUES ('${tag}-b')`];
  return { bytes: Buffer.concat(sql.map((s) => fe.query(s))), sql };
}

async function expectBatchJudged(c: RawPg, app: string, tag: string, v: string, sql: string[]): Promise<void> {
  expect(c.errors().some((e) => /no-drop/.test(e))).toBe(true);
  expect(await tableExists(v)).toBe(true);
  expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
  expect((await marks()).filter((m) => m.startsWith(tag)).sort()).toEqual([`${tag}-a`, `${tag}-b`]);
  const text = await noLeak(c, app);
  const recorded = recordedSql(text);
  for (const s of sql) expect(recorded).toContain(s); // the refused DROP is recorded as well (with its verdict)
}

describe('client socket fast path: framing', () => {
  it('a pipelined batch written one byte per write (every boundary) is judged, masked and recorded whole', async () => {
    const v = await makeVictim();
    const { bytes, sql } = batch('bytewise', v);
    const c = await RawPg.open(gw, 's8-bytewise');
    await c.writeBytewise(bytes);
    await c.readies(1 + sql.length);
    await c.end();
    await expectBatchJudged(c, 's8-bytewise', 'bytewise', v, sql);
  }, 120_000);

  it('500 messages in one write: every one answered in order, the DROP among them refused', async () => {
    const v = await makeVictim();
    const msgs: Buffer[] = [];
    for (let i = 0; i < 500; i++) msgs.push(fe.query(i === 250 ? `DROP TABLE ${v}` : i === 499 ? "INSERT INTO marks VALUES ('many-z')" : `SELECT ${i} AS n, note FROM people`));
    const c = await RawPg.open(gw, 's8-many');
    await c.write(Buffer.concat(msgs));
    await c.readies(501);
    await c.end();
    const rows = c.messages.filter((m) => m.type === 'D');
    expect(rows.length).toBe(498);
    // In order: the n of each row counts up, skipping the DROP and the insert.
    const ns = rows.map((m) => Number(m.body.subarray(6, 6 + m.body.readInt32BE(2)).toString()));
    expect(ns).toEqual([...Array(499).keys()].filter((i) => i !== 250));
    expect(c.errors().filter((e) => /no-drop/.test(e)).length).toBe(1);
    expect(await tableExists(v)).toBe(true);
    expect(await marks()).toContain('many-z');
    const text = await noLeak(c, 's8-many');
    expect(recordedSql(text).length).toBe(500);
  }, 120_000);

  it('a Query larger than 64 KB (the shared read buffer) with a DROP at its end is refused; a large INSERT runs once and is recorded whole', async () => {
    const v = await makeVictim();
    const pad = 'x'.repeat(200_000);
    const big = `SELECT note, '${pad}' AS pad FROM people; DROP TABLE ${v}`;
    const insert = `INSERT INTO marks VALUES ('big-${'y'.repeat(150_000)}')`;
    const c = await RawPg.open(gw, 's8-big');
    await c.write(Buffer.concat([fe.query(big), fe.query(insert)]));
    await c.readies(3);
    await c.end();
    expect(c.errors().some((e) => /no-drop/.test(e))).toBe(true);
    expect(await tableExists(v)).toBe(true);
    expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
    expect((await marks()).filter((m) => m.startsWith('big-')).map((m) => m.length)).toEqual([150_004]);
    const text = await noLeak(c, 's8-big');
    expect(recordedSql(text)).toContain(insert);
  }, 120_000);
});

describe('client socket fast path: backpressure and leaving', () => {
  it('a client that stops reading while it sends big results and more statements: all answered in order once it reads, DROP refused', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-backpressure');
    c.socket.pause(); // the client reads nothing: the gateway's writes to it back up, then PostgreSQL's, then the client's
    const msgs: Buffer[] = [];
    for (let i = 0; i < 40; i++) msgs.push(fe.query(`SELECT ${i} AS n, note, repeat('z', 200000) AS pad FROM people`));
    msgs.push(fe.query(`DROP TABLE ${v}`), fe.query("INSERT INTO marks VALUES ('bp-end')"));
    void c.write(Buffer.concat(msgs));
    // Let the pressure build (not a timed assertion: the outcome is checked after reading resumes).
    await new Promise((r) => setTimeout(r, 1500));
    c.socket.resume();
    await c.readies(1 + msgs.length);
    await c.end();
    const ns = c.messages.filter((m) => m.type === 'D').map((m) => Number(m.body.subarray(6, 6 + m.body.readInt32BE(2)).toString()));
    expect(ns).toEqual([...Array(40).keys()]);
    expect(c.errors().filter((e) => /no-drop/.test(e)).length).toBe(1);
    expect(await tableExists(v)).toBe(true);
    expect((await marks()).filter((m) => m === 'bp-end')).toEqual(['bp-end']);
    expect(recordedSql(await noLeak(c, 's8-backpressure')).length).toBe(42);
  }, 120_000);

  it('a client that leaves mid-message: the whole statement before runs and is recorded, the cut one neither runs nor is recorded', async () => {
    const c = await RawPg.open(gw, 's8-cut');
    const whole = fe.query("INSERT INTO marks VALUES ('cut-whole')");
    const cut = fe.query("INSERT INTO marks VALUES ('cut-partial')");
    await c.write(Buffer.concat([whole, cut.subarray(0, cut.length - 3)]));
    await c.readies(2);
    c.socket.destroy();
    const text = await recordingText(gw, 's8-cut');
    expect(await marks()).toContain('cut-whole');
    expect(await marks()).not.toContain('cut-partial');
    expect(await logged(/cut-partial/)).toEqual([]);
    expect(recordedSql(text)).toEqual(["INSERT INTO marks VALUES ('cut-whole')"]);
  }, 60_000);

  it('a client that sends and half-closes at once: what ran is what was recorded', async () => {
    const c = await RawPg.open(gw, 's8-halfclose');
    const sql = Array.from({ length: 20 }, (_, i) => `INSERT INTO marks VALUES ('half-${i}')`);
    c.socket.end(Buffer.concat(sql.map((s) => fe.query(s))));
    const text = await recordingText(gw, 's8-halfclose');
    const ran = (await marks()).filter((m) => m.startsWith('half-')).sort();
    const recorded = recordedSql(text).map((s) => /'(half-\d+)'/.exec(s)![1]!).sort();
    // Write before forward: nothing ran that the recording lacks.
    for (const m of ran) expect(recorded).toContain(m);
  }, 60_000);
});

describe('client socket fast path: a client paused by a held statement', () => {
  for (const how of ['destroys its socket', 'half-closes its socket'] as const) {
    it(`${how} while a TRUNCATE waits for an approver and more statements wait behind it: none of them runs`, async () => {
      const v = await makeVictim();
      const app = `s8-held-${how.split(' ')[0]}`;
      await direct(`INSERT INTO ${v} VALUES (1), (2)`);
      const c = await RawPg.open(gw, app);
      await c.write(Buffer.concat([fe.query(`TRUNCATE ${v}`), fe.query(`INSERT INTO marks VALUES ('${app}-behind')`), fe.query(`DROP TABLE ${v}`)]));
      // The hold is told to the client as a notice: then the reader is paused with the rest behind it.
      await eventually(() => c.messages.some((m) => m.type === 'N') || undefined, 15_000);
      if (how === 'destroys its socket') c.socket.destroy();
      else c.socket.end();
      const text = await recordingText(gw, app); // sealed: the session is over
      expect((await direct<{ n: number }>(`SELECT count(*)::int AS n FROM ${v}`))[0]!.n).toBe(2);
      expect(await marks()).not.toContain(`${app}-behind`);
      expect(await logged(new RegExp(`TRUNCATE ${v}|${app}-behind|DROP TABLE ${v}`))).toEqual([]);
      expect(recordedSql(text)).toContain(`TRUNCATE ${v}`);
    }, 60_000);
  }
});

describe('client socket fast path: sessions reading into the one shared buffer at once', () => {
  it('8 sessions each writing large statements byte runs at the same time: each runs and records only its own', async () => {
    const apps = Array.from({ length: 8 }, (_, i) => `s8-concurrent-${i}`);
    const clients = await Promise.all(apps.map((a) => RawPg.open(gw, a)));
    const sqlOf = (i: number, k: number) => `INSERT INTO marks VALUES ('cc-${i}-${k}-${String(i).repeat(90_000)}')`;
    await Promise.all(clients.map(async (c, i) => {
      for (let k = 0; k < 3; k++) await c.write(fe.query(sqlOf(i, k)));
      await c.readies(4);
      await c.end();
    }));
    const ran = (await marks()).filter((m) => m.startsWith('cc-'));
    expect(ran.length).toBe(24);
    for (const m of ran) {
      const [, i] = /^cc-(\d)-\d-/.exec(m)!;
      expect(m.slice(7)).toBe(i!.repeat(90_000)); // no byte of another session's statement inside
    }
    for (const [i, a] of apps.entries()) expect(recordedSql(await recordingText(gw, a))).toEqual([0, 1, 2].map((k) => sqlOf(i, k)));
  }, 120_000);
});

describe('client socket handover', () => {
  it('statements written in the same write as the password: refused with the startup, none of them runs', async () => {
    const v = await makeVictim();
    const { bytes } = batch('early', v);
    const c = await RawPg.open(gw, 's8-early', {}, bytes);
    await eventually(() => c.closed || undefined);
    // The gateway refuses messages that arrive before it has admitted the session (fail closed), PostgreSQL never sees them.
    expect(c.errors()).toEqual([expect.stringMatching(/unexpected query message during startup/)]);
    expect(await tableExists(v)).toBe(true);
    expect(await logged(/early-a|early-b|DROP TABLE victim_s8/)).toEqual([]);
    expect((await marks()).filter((m) => m.startsWith('early-'))).toEqual([]);
  }, 60_000);

  it('statements written right after the password (their own write, during admission): the DROP never runs, nothing runs unrecorded', async () => {
    const v = await makeVictim();
    const { bytes } = batch('early3', v);
    const c = await RawPg.openThen(gw, 's8-early3', bytes);
    await eventually(() => c.closed || c.readyCount() >= 5 || undefined);
    await c.end();
    expect(await tableExists(v)).toBe(true);
    expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
    const ran = (await marks()).filter((m) => m.startsWith('early3-'));
    if (c.errors().some((e) => /during startup/.test(e))) {
      expect(ran).toEqual([]); // refused with the startup (what this gateway does when they arrive before admission ends)
    } else {
      const recorded = recordedSql(await noLeak(c, 's8-early3')).join('\n');
      for (const m of ran) expect(recorded).toContain(m);
    }
  }, 60_000);

  it('statements written with the password one byte at a time, the rest of the batch after admission', async () => {
    const v = await makeVictim();
    const { bytes, sql } = batch('early2', v);
    const c = await RawPg.open(gw, 's8-early2', {}, bytes.subarray(0, 7));
    await c.writeBytewise(bytes.subarray(7));
    await c.readies(1 + sql.length);
    await c.end();
    await expectBatchJudged(c, 's8-early2', 'early2', v, sql);
  }, 60_000);
});

describe('Query decoded in place', () => {
  it('an embedded NUL with a DROP after it (length covering both) is a protocol violation: nothing after the NUL runs', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-nul');
    const body = Buffer.concat([Buffer.from("INSERT INTO marks VALUES ('nul-head')\0"), Buffer.from(`DROP TABLE ${v}\0`)]);
    await c.write(rawFrame('Q', body));
    await eventually(() => c.closed || c.errors().length > 0 || undefined);
    c.socket.destroy();
    expect(await tableExists(v)).toBe(true);
    expect(await logged(/nul-head|DROP TABLE victim_s8/)).toEqual([]);
    expect(await marks()).not.toContain('nul-head');
  }, 60_000);

  it('a length field shorter than the text: the rest is read as the next message and judged (the DROP inside it refused)', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-shortlen');
    const first = Buffer.from("SELECT 'short'\0");
    // The Query claims only `first`; the bytes after it are a whole Query of their own (a DROP).
    await c.write(Buffer.concat([rawFrame('Q', first), fe.query(`DROP TABLE ${v}`)]));
    await c.readies(3);
    await c.end();
    expect(c.errors().some((e) => /no-drop/.test(e))).toBe(true);
    expect(await tableExists(v)).toBe(true);
    expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
  }, 60_000);

  it('a length field longer than the text swallows the next message: refused as a whole, nothing of it runs', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-longlen');
    const drop = fe.query(`DROP TABLE ${v}`);
    const head = Buffer.from("INSERT INTO marks VALUES ('longlen')\0");
    await c.write(Buffer.concat([rawFrame('Q', head, head.length + 4 + drop.length), drop]));
    await eventually(() => c.closed || c.errors().length > 0 || undefined);
    c.socket.destroy();
    expect(await tableExists(v)).toBe(true);
    expect(await logged(/longlen|DROP TABLE victim_s8/)).toEqual([]);
  }, 60_000);

  it('invalid UTF-8 hiding a DROP (overlong quote, lone lead byte before the quote) is refused and does not run', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-badutf8');
    const variants = [
      Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xc0, 0xa7]), Buffer.from(`'; DROP TABLE ${v}; --'`)]),
      Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xe3]), Buffer.from(`'; DROP TABLE ${v}; --'`)]),
      Buffer.concat([Buffer.from(`SELECT 1 /* `), Buffer.from([0xff]), Buffer.from(` */; DROP TABLE ${v}`)]),
    ];
    for (const q of variants) await c.write(fe.query(q));
    await c.readies(1 + variants.length);
    await c.end();
    expect(await tableExists(v)).toBe(true);
    expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
  }, 60_000);

  it('client_encoding=LATIN1: a Query whose bytes read otherwise in UTF-8 is judged as LATIN1 reads it', async () => {
    const v = await makeVictim();
    const c = await RawPg.open(gw, 's8-latin1', { client_encoding: 'LATIN1' });
    // 0xE9 is é in LATIN1 and a lead byte in UTF-8 (that would swallow the quote after it).
    const q = Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xe9]), Buffer.from(`'; DROP TABLE ${v}; SELECT note FROM people`)]);
    await c.write(fe.query(q));
    await c.readies(2);
    await c.end();
    expect(c.errors().some((e) => /no-drop/.test(e))).toBe(true);
    expect(await tableExists(v)).toBe(true);
    expect(await logged(new RegExp(`DROP TABLE ${v}`))).toEqual([]);
    await noLeak(c, 's8-latin1');
  }, 60_000);
});
