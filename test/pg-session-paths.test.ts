import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import iconv from 'iconv-lite';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { serializeFrontendStartup } from '../gateway/pg/protocol/index.js';
import { luhn } from '../gateway/policy/recognizers.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgConn, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run } from './helpers/processes.js';

/**
 * The session and protocol layer against real PostgreSQL, as an agent trying to
 * get around it would drive it: what the recording says ran, masking whether or
 * not the client describes its portals, every byte path a value can leave by,
 * the encoding the server reads the bytes in, and the things real clients
 * expect of a PostgreSQL server (their pid, their encoding, a quiet close).
 */
let db: PgServer;
let gw: TestGateway;

const card = (i: number): string => {
  const body = `4${String(i).padStart(14, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
};
const SEEDS = [1, 2, 3].flatMap((i) => [`seed${i}x@corp.example.com`, `123-45-67${i}${i}`, card(7000 + i)]);

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query(`CREATE TABLE secrets (id int PRIMARY KEY, email text, ssn text, card text, card_num bigint, card_dec numeric);
    CREATE TABLE victim (n int); INSERT INTO victim VALUES (1);
    CREATE TABLE counter (n int); INSERT INTO counter VALUES (0);`);
  try {
    for (const i of [1, 2, 3]) {
      await admin.query('INSERT INTO secrets VALUES ($1, $2, $3, $4::text, $4::text::bigint, $4::text::numeric)', [i, SEEDS[(i - 1) * 3], SEEDS[(i - 1) * 3 + 1], SEEDS[(i - 1) * 3 + 2]]);
    }
  } finally {
    await admin.end();
  }
  gw = await startTestGateway(db, {
    masking: [{ name: 'email', builtin: 'email' }, { name: 'ssn', builtin: 'us-ssn' }, { name: 'card', builtin: 'credit-card' }],
    guardrails: [{ name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' }],
  });
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

/** A bare protocol client: exactly the messages it is given, every byte it receives kept. */
class RawClient {
  readonly received: BackendMessage[] = [];
  /** Every message, never consumed. */
  readonly all: BackendMessage[] = [];
  bytes = Buffer.alloc(0);
  processId = 0;
  closed = false;

  private constructor(private readonly socket: Socket) {
    const parser = new Parser();
    socket.on('data', (chunk: Buffer) => {
      this.bytes = Buffer.concat([this.bytes, chunk]);
      parser.parse(chunk, (msg) => {
        if (msg.name === 'backendKeyData') this.processId = (msg as unknown as { processID: number }).processID;
        this.received.push(msg);
        this.all.push(msg);
      });
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static async connect(conn: PgConn, params: Record<string, string> = {}): Promise<RawClient> {
    const socket = connect({ host: conn.host, port: conn.port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    socket.write(serializeFrontendStartup({ user: conn.user, database: conn.database, ...params }));
    await client.until((m) => m.name === 'authenticationCleartextPassword' || m.name === 'error');
    socket.write(serialize.password(conn.password));
    await client.until((m) => m.name === 'readyForQuery' || m.name === 'error');
    return client;
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  async until(pred: (m: BackendMessage) => boolean, timeoutMs = 10_000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.received.findIndex(pred);
      if (at >= 0) return this.received.splice(0, at + 1);
      if (Date.now() > deadline || (this.closed && at < 0)) throw new Error(`no such message; received ${this.received.map((m) => m.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Messages up to the next ReadyForQuery: their names, the rows' fields, the errors' texts. */
  async ready(): Promise<{ names: string[]; rows: (string | null)[][]; errors: string[] }> {
    const msgs = await this.until((m) => m.name === 'readyForQuery');
    return {
      names: msgs.map((m) => m.name),
      rows: msgs.filter((m) => m.name === 'dataRow').map((m) => (m as unknown as { fields: (string | null)[] }).fields),
      errors: msgs.filter((m) => m.name === 'error').map((m) => (m as unknown as { message: string }).message),
    };
  }

  /** Every message up to the n-th ReadyForQuery. */
  async readies(n: number): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (let i = 0; i < n; i++) out.push(...await this.until((m) => m.name === 'readyForQuery'));
    return out;
  }

  async end(): Promise<void> {
    this.socket.end(serialize.end());
    await new Promise((resolve) => (this.closed ? resolve(undefined) : this.socket.once('close', resolve)));
  }
}

const parse = (text: string, name = '') => serialize.parse({ name, text });
const bind = (portal = '', statement = '', binary = false) => serialize.bind({ portal, statement, binary });
const execute = (portal = '', rows = 0) => serialize.execute({ portal, rows });

/** Bind and Execute with names given as bytes (a LATIN1 session's names). */
function rawBind(portal: Buffer, statement: Buffer): Buffer {
  const body = Buffer.concat([portal, Buffer.from([0]), statement, Buffer.from([0, 0, 0, 0, 0, 0, 0])]);
  return Buffer.concat([Buffer.from([0x42]), u32(body.length + 4), body]);
}
function rawExecute(portal: Buffer): Buffer {
  const body = Buffer.concat([portal, Buffer.from([0, 0, 0, 0, 0])]);
  return Buffer.concat([Buffer.from([0x45]), u32(body.length + 4), body]);
}
function rawQuery(sql: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x51]), u32(sql.length + 5), sql, Buffer.from([0])]);
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Every event of every session recording, and the raw text of those files. */
async function recordings(): Promise<{ events: RecordingEvent[]; text: string }> {
  const files = await gw.sessionFiles();
  const events: RecordingEvent[] = [];
  let text = '';
  for (const f of files) {
    events.push(...await readEvents(f));
    text += await readFile(f, 'utf8');
  }
  return { events, text };
}

/** The events of the session whose statements mention `fragment`. */
async function sessionWith(fragment: string, g: TestGateway = gw): Promise<RecordingEvent[]> {
  return eventually(async () => {
    for (const f of await g.sessionFiles()) {
      const events = await readEvents(f);
      if (events.some((e) => String(e.data.sql ?? '').includes(fragment))) return events;
    }
    return undefined;
  });
}

function expectNoSeed(where: string | Buffer, what: string): void {
  const text = typeof where === 'string' ? where : where.toString('latin1');
  for (const seed of SEEDS) expect(text, `${what} holds ${seed}`).not.toContain(seed);
}

const logged = async (fragment: string) => (await db.loggedStatements()).some((s) => s.includes(fragment));

describe('the recording names the statement that ran', () => {
  it('records Execute against the statement bound, however the names are re-parsed after Bind', async () => {
    const c = await RawClient.connect(gw.conn());
    // 1: the unnamed statement re-parsed after Bind
    c.send(parse('UPDATE counter SET n = n + 1 /* case-1 */'), bind(), parse('SELECT 1 /* decoy-1 */'), execute(), serialize.sync());
    expect((await c.ready()).errors).toEqual([]);
    // 2: a named statement closed and parsed again under its name
    c.send(parse('UPDATE counter SET n = n + 1 /* case-2 */', 's'), bind('p', 's'), serialize.close({ type: 'S', name: 's' }),
      parse('SELECT 2 /* decoy-2 */', 's'), execute('p'), serialize.sync());
    expect((await c.ready()).errors).toEqual([]);
    // 3: two portals of the same statement name at different times, executed in reverse
    c.send(parse('UPDATE counter SET n = n + 1 /* case-3a */', 't'), bind('pa', 't'), serialize.close({ type: 'S', name: 't' }),
      parse('SELECT 3 /* case-3b */', 't'), bind('pb', 't'), execute('pb'), execute('pa'), serialize.sync());
    expect((await c.ready()).errors).toEqual([]);
    // 4: a Parse the policy refuses is recorded with its verdict before anything is forwarded
    c.send(parse('DROP TABLE victim /* case-4 */'), serialize.sync());
    expect((await c.ready()).errors[0]).toMatch(/blocked by rule no-drop/);
    await c.end();

    const events = await sessionWith('case-4');
    const parseOf = (tag: string) => events.find((e) => e.type === EventType.PgParse && String(e.data.sql).includes(tag))!;
    const executes = events.filter((e) => e.type === EventType.PgExecute);
    const executeOf = (tag: string) => executes.find((e) => String(e.data.sql).includes(tag));
    for (const tag of ['case-1', 'case-2', 'case-3a', 'case-3b']) {
      expect(executeOf(tag)?.data.parse, tag).toBe(parseOf(tag).seq);
      expect(parseOf(tag).data.verdict).toBe('allow');
    }
    for (const decoy of ['decoy-1', 'decoy-2']) expect(executeOf(decoy), decoy).toBeUndefined();
    expect(parseOf('case-4').data.verdict).toBe('block');
    const executed = executes.map((e) => String(e.data.sql));
    expect(executed.findIndex((s) => s.includes('case-3b'))).toBeLessThan(executed.findIndex((s) => s.includes('case-3a')));
    // What PostgreSQL ran: the three UPDATEs, never the DROP.
    expect((await db.loggedStatements()).filter((s) => /UPDATE counter .*case-(1|2|3a)/.test(s))).toHaveLength(3);
    expect(await logged('case-4')).toBe(false);
  });

  it('keys portals by their bytes: two names that read alike as UTF-8 stay apart (LATIN1 session)', async () => {
    const c = await RawClient.connect(gw.conn(), { client_encoding: 'LATIN1' });
    c.send(parse('UPDATE counter SET n = n + 1 /* case-5 */', 'u'), parse('SELECT 5 /* decoy-5 */', 'v'),
      rawBind(Buffer.from([0xe9]), Buffer.from('u')), rawBind(Buffer.from([0xe8]), Buffer.from('v')),
      rawExecute(Buffer.from([0xe9])), serialize.sync());
    expect((await c.ready()).errors).toEqual([]);
    await c.end();
    const execute5 = await eventually(async () => (await recordings()).events.find((e) => e.type === EventType.PgExecute && String(e.data.sql).includes('case-5')));
    expect(execute5.data.portal).toBe('é');
    expect(await logged('case-5')).toBe(true);
  });
});

describe('extended protocol masking with or without Describe', () => {
  /** Each case: its name, what it sends, how many ReadyForQuery it ends with. */
  const cases: [string, (c: RawClient) => void, number?][] = [
    ['no Describe at all', (c) => c.send(parse('SELECT email, ssn, card FROM secrets ORDER BY id'), bind(), execute(), serialize.sync())],
    ['a Describe of the statement only', (c) => c.send(parse('SELECT email, ssn, card FROM secrets', 'd1'), serialize.describe({ type: 'S', name: 'd1' }),
      bind('', 'd1'), execute(), serialize.sync())],
    ['a Describe of another portal', (c) => c.send(parse('SELECT id FROM secrets', 'd2'), parse('SELECT email, ssn, card FROM secrets', 'd3'),
      bind('q1', 'd2'), bind('q2', 'd3'), serialize.describe({ type: 'P', name: 'q1' }), execute('q2'), serialize.sync())],
    ['a Describe of the portal before it was bound again', (c) => c.send(parse('SELECT 1', 'd4'), bind('', 'd4'),
      serialize.describe({ type: 'P', name: '' }), parse('SELECT email, ssn, card FROM secrets', 'd5'), bind('', 'd5'), execute(''), serialize.sync())],
    ['binary results, no Describe', (c) => c.send(parse('SELECT email, ssn, card_num, card_dec FROM secrets'), bind('', '', true), execute(), serialize.sync())],
    ['a portal read in pieces', (c) => c.send(serialize.query('BEGIN'), parse('SELECT email, ssn FROM secrets'), bind('r'), execute('r', 1), execute('r', 5),
      serialize.sync(), serialize.query('COMMIT')), 3],
    ['a SQL cursor read through Execute', (c) => c.send(serialize.query('BEGIN; DECLARE cur CURSOR FOR SELECT email, card FROM secrets'),
      execute('cur'), serialize.sync(), serialize.query('COMMIT')), 3],
  ];
  for (const [name, drive, readies] of cases) {
    it(`masks rows with ${name}, and shows the client only what it asked for`, async () => {
      const c = await RawClient.connect(gw.conn());
      const before = c.bytes.length;
      drive(c);
      const answers = await c.readies(readies ?? 1);
      await c.end();
      const names = answers.map((m) => m.name);
      expect(names).toContain('dataRow');
      if (name === 'no Describe at all' || name === 'binary results, no Describe') {
        expect(names).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'dataRow', 'dataRow', 'commandComplete', 'readyForQuery']);
      }
      expectNoSeed(c.bytes.subarray(before), `client bytes (${name})`);
      expectNoSeed((await recordings()).text, `recordings (${name})`);
    });
  }
});

describe('every byte path is masked', () => {
  const psqlOut = async (sql: string) => {
    const res = await run('psql', ['-X', '-A', '-t', '-c', sql], { env: libpqEnv(gw.conn()) });
    return `${res.stdout}${res.stderr}`;
  };
  const queries: [string, string, RegExp][] = [
    ['bytea in text format (hex)', "SELECT convert_to(email, 'UTF8'), convert_to(ssn, 'LATIN1') FROM secrets", /\\x5b6d61736b6564/],
    ['a value split across two columns', 'SELECT left(ssn, 5), substr(ssn, 6), left(email, 7), substr(email, 8), left(card, 9), substr(card, 10) FROM secrets', /\[masked:/],
    ['a split with a NULL between the halves', 'SELECT left(ssn, 6), NULL, substr(ssn, 7) FROM secrets', /\[masked:ssn\]/],
    ['values glued to letters and digits', "SELECT 'x' || ssn || '9', 'a' || card || 'b', '7' || card, '12' || card || '3', 'zz' || email FROM secrets", /\[masked:/],
    ['an error message quoting the value', 'SELECT email::int FROM secrets', /invalid input syntax/],
    ['COPY out', 'COPY (SELECT email, ssn, card FROM secrets) TO STDOUT', /\[masked:/],
    ['application_name set from a column (ParameterStatus)', "SELECT set_config('application_name', email, false) FROM secrets WHERE id = 1", /\[masked:email\]/],
  ];
  for (const [name, sql, expected] of queries) {
    it(`masks ${name}`, async () => {
      const out = await psqlOut(sql);
      expect(out).toMatch(expected);
      expectNoSeed(out, `psql output (${name})`);
      expectNoSeed((await recordings()).text, `recordings (${name})`);
    });
  }

  it('masks binary-format rows by type: text, bytea, bigint and numeric', async () => {
    const client = new pg.Client(gw.conn());
    await client.connect();
    const res = await client.query({ text: "SELECT email, ssn, convert_to(card, 'UTF8') AS raw, card_num, card_dec, id FROM secrets WHERE id >= $1 ORDER BY id", values: [1], binary: true } as pg.QueryConfig);
    await client.end();
    expect(res.rows).toHaveLength(3);
    expect(res.rows[0].email.toString()).toBe('[masked:email]');
    expect(res.rows[0].raw.toString()).toBe('[masked:card]');
    expect(res.rows[0].card_num).toBeNull(); // an integer cannot say "masked"
    expect(res.rows[0].card_dec).toBeNull();
    expect(res.rows[0].id).toBe(1); // what no rule matches passes as it was
    const shown = res.rows.map((r: Record<string, unknown>) => Object.values(r).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v))));
    expectNoSeed(JSON.stringify(shown), 'binary rows');
    expectNoSeed((await recordings()).text, 'recordings (binary)');
  });

  it('masks notifications: payload and channel, and the pid is the backend the client was told', async () => {
    const listener = new pg.Client(gw.conn());
    await listener.connect();
    const seen: pg.Notification[] = [];
    listener.on('notification', (n) => seen.push(n));
    await listener.query('LISTEN "seed9x@corp.example.com"');
    await listener.query('LISTEN plain');
    await listener.query("SELECT pg_notify('plain', email || ' / ' || ssn) FROM secrets WHERE id = 1");
    await listener.query("NOTIFY \"seed9x@corp.example.com\", 'x'");
    const pid = (await listener.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await eventually(() => (seen.length >= 2 ? true : undefined));
    await listener.end();
    expect(seen.map((n) => n.payload)).toContain('[masked:email] / [masked:ssn]');
    expect(seen.map((n) => n.channel)).toContain('[masked:email]');
    expect(seen.every((n) => n.processId === pid)).toBe(true);
    expectNoSeed(JSON.stringify(seen), 'notifications');
  });
});

describe('statements are decoded in the encoding the server reads them in', () => {
  /** SELECT E'<SJIS 表>'; DROP …: in SJIS 0x95 0x5C is one character, so the quote after it ends the literal. */
  const smuggled = (table: string) => Buffer.concat([Buffer.from("SELECT E'"), Buffer.from([0x95, 0x5c]), Buffer.from(`'; DROP TABLE ${table}; --'`)]);

  it('sees a DROP hidden in what a UTF-8 reading takes for a literal (SJIS, GBK, BIG5), and the server never runs it', async () => {
    for (const encoding of ['SJIS', 'GBK', 'BIG5']) {
      const c = await RawClient.connect(gw.conn(), { client_encoding: encoding });
      c.send(rawQuery(smuggled('victim')));
      const answer = await c.ready();
      await c.end();
      expect(answer.errors.join(), encoding).toMatch(/blocked by rule no-drop/);
    }
    expect(await logged('DROP TABLE victim')).toBe(false);
    const check = new pg.Client(db.app);
    await check.connect();
    expect((await check.query('SELECT count(*)::int AS n FROM victim')).rows[0].n).toBe(1);
    await check.end();
  });

  it('decodes EUC_JP and LATIN1 statements exactly as the server does, and records the text that ran', async () => {
    for (const [encoding, text] of [['EUC_JP', '日本語テキスト'], ['LATIN1', 'déjà vu']] as const) {
      const c = await RawClient.connect(gw.conn(), { client_encoding: encoding });
      c.send(rawQuery(iconv.encode(`SELECT '${text}' AS t /* ${encoding} */`, encoding === 'LATIN1' ? 'latin1' : 'euc-jp')));
      const before = c.bytes.length;
      const answer = await c.ready();
      await c.end();
      expect(answer.errors).toEqual([]);
      expect(c.bytes.subarray(before).includes(iconv.encode(text, encoding === 'LATIN1' ? 'latin1' : 'euc-jp'))).toBe(true);
      expect((await db.loggedStatements()).some((s) => s.includes(`SELECT '${text}' AS t /* ${encoding} */`))).toBe(true);
      const recorded = await eventually(async () => (await recordings()).events.find((e) => e.type === EventType.PgQuery && String(e.data.sql).includes(`/* ${encoding} */`)));
      expect(recorded.data.sql).toBe(`SELECT '${text}' AS t /* ${encoding} */`);
    }
  });

  it('refuses a statement whose bytes are not valid in the session encoding, and records why', async () => {
    const c = await RawClient.connect(gw.conn());
    c.send(rawQuery(Buffer.concat([Buffer.from("SELECT 'bad "), Buffer.from([0xff, 0xfe]), Buffer.from("' /* invalid-utf8 */")])));
    const answer = await c.ready();
    c.send(serialize.query('SELECT 1 AS still_usable'));
    expect((await c.ready()).rows).toEqual([['1']]);
    await c.end();
    expect(answer.errors.join()).toMatch(/blocked by rule client-encoding/);
    const events = await sessionWith('invalid-utf8');
    const query = events.find((e) => e.type === EventType.PgQuery && String(e.data.sql).includes('invalid-utf8'))!;
    expect(events.find((e) => e.type === EventType.PolicyBlock && e.data.statement === query.seq)?.data.rule).toBe('client-encoding');
    expect(await logged('invalid-utf8')).toBe(false);
  });

  it('accepts SQL_ASCII on a UTF8 server (psql in the C locale), which validates those bytes as UTF-8', async () => {
    // The server does no conversion for a SQL_ASCII client but still verifies its bytes as its own UTF8
    // (pg_any_to_server), so the gateway reads them as UTF-8; a SQL_ASCII server is refused (unit test).
    const c = await RawClient.connect(gw.conn(), { client_encoding: 'SQL_ASCII' });
    expect(c.all.filter((m) => m.name === 'error')).toEqual([]);
    expect(c.all.some((m) => m.name === 'readyForQuery')).toBe(true);
    const { events } = await recordings();
    expect(events.some((e) => e.type === EventType.PgError && String(e.data.message).includes('SQL_ASCII'))).toBe(false);
  });

  it('ends the session when the server reports a client_encoding change, with the reason recorded', async () => {
    // The guardrails refuse the statements that change it; a user function they cannot see into
    // (allowed here: this gateway has no data-changing rule) is what the fail-safe is for.
    const admin = new pg.Client(db.app);
    await admin.connect();
    await admin.query("CREATE FUNCTION enc_switch() RETURNS text LANGUAGE sql AS $$ SELECT set_config('client_encoding', 'SJIS', false) $$");
    await admin.end();
    const plain = await startTestGateway(db, { masking: [{ name: 'email', builtin: 'email' }] });
    try {
      const c = await RawClient.connect(plain.conn());
      c.send(serialize.query('SELECT enc_switch()'));
      const fatal = await c.until((m) => m.name === 'error');
      expect((fatal.at(-1) as unknown as { message: string }).message).toMatch(/client_encoding changed from UTF8 to SJIS/);
      const end = await eventually(async () => {
        for (const f of await plain.sessionFiles()) {
          const e = (await readEvents(f)).find((x) => x.type === EventType.SessionEnd);
          if (e) return e;
        }
        return undefined;
      });
      expect(String(end.data.reason)).toMatch(/client_encoding changed/);
    } finally {
      await plain.stop();
    }
  });
});

describe('transparent to real clients', () => {
  it('passes the client encoding of PGCLIENTENCODING, PGOPTIONS and a startup parameter through', async () => {
    const show = (env: Record<string, string>) => run('psql', ['-X', '-A', '-t', '-c', 'SHOW client_encoding'], { env: { ...libpqEnv(gw.conn()), ...env } });
    expect((await show({ PGCLIENTENCODING: 'LATIN1' })).stdout.trim()).toBe('LATIN1');
    expect((await show({ PGCLIENTENCODING: 'EUC_JP' })).stdout.trim()).toBe('EUC_JP');
    expect((await show({ PGOPTIONS: '-c client_encoding=EUC_JP' })).stdout.trim()).toBe('EUC_JP');
    const latin = await run('psql', ['-X', '-A', '-t', '-c', "SELECT 'é'"], { env: { ...libpqEnv(gw.conn()), PGCLIENTENCODING: 'LATIN1' }, binary: true } as never);
    void latin;
    const c = await RawClient.connect(gw.conn(), { client_encoding: 'LATIN1', application_name: 'caf\u00e9' });
    c.send(serialize.query('SHOW client_encoding'));
    expect((await c.ready()).rows).toEqual([['LATIN1']]);
    await c.end();
  });

  it('tells node-postgres the real backend pid: its own notifications match it, pg_terminate_backend of it works', async () => {
    const a = new pg.Client(gw.conn());
    await a.connect();
    const told = (a as unknown as { processID: number }).processID;
    expect((await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(told);
    const own: pg.Notification[] = [];
    a.on('notification', (n) => own.push(n));
    await a.query('LISTEN mine');
    await a.query('NOTIFY mine');
    await eventually(() => (own.length ? true : undefined));
    expect(own[0]!.processId).toBe(told);
    const ended = new Promise((resolve) => a.on('error', resolve));
    const b = new pg.Client(gw.conn());
    await b.connect();
    expect((await b.query('SELECT pg_terminate_backend($1) AS ok', [told])).rows[0].ok).toBe(true);
    await b.end();
    expect(String(await ended)).toMatch(/terminat/);
  });

  it('closes a client that sends Terminate before its StartupMessage without a word (node-postgres connect(); end())', async () => {
    const client = new pg.Client(gw.conn());
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    let settled: unknown = 'pending';
    void client.connect().then(() => (settled = 'connected'), (e: unknown) => (settled = e));
    const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    const closed = new Promise((resolve) => stream.once('close', resolve));
    await client.end();
    await closed;
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([]);
    expect(String(settled)).not.toMatch(/protocol violation/);
    const raw = connect({ host: gw.conn().host, port: gw.conn().port });
    const got: Buffer[] = [];
    raw.on('data', (b: Buffer) => got.push(b));
    raw.write(serialize.end());
    await new Promise((resolve) => raw.once('close', resolve));
    expect(Buffer.concat(got).length).toBe(0);
  });
});
