// Red team (session 8): the masking fast paths — each built-in's `mayMatch` prefilter
// (gateway/policy/masking-prefilter.ts), the written-out replace (masking-pass.ts), SSH
// chunks read as latin1 on a byte 0xff — against the plain sequential passes, and the
// places a value can hide from them: SSH chunk boundaries, adjacent pg columns, a reload.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Masker } from '../../gateway/policy/masking.js';
import { compileMasking } from '../../gateway/policy/rules.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { attackTexts, plainPasses, random, sshOutputOf } from './redteam-s8-masking-support.js';
import { secretAcrossReload, type ReloadCase } from './redteam-s8-reload.js';
import { recordingText } from './redteam-s8-support.js';

const BUILTINS = ['us-ssn', 'email', 'credit-card', 'iban', 'aws-access-key', 'jwt', 'pem-private-key'];
/** The rules of the gateway under attack: a user rule first whose replacement completes an SSN, then every built-in, then user rules with a lookbehind and a class. */
const MASKING = [
  { name: 'glue', pattern: 'ZZ', replace: '' },
  ...BUILTINS.map((b) => ({ name: b, builtin: b })),
  { name: 'after-secret', pattern: '(?<=secret=)[A-Za-z0-9]+' },
  { name: 'token', pattern: 'tok_[a-f0-9]{8}' },
  { name: 'quoted-password', pattern: 'password: "[^"]*"' },
  { name: 'geheim', pattern: 'Geheimzahl-ä[0-9]+' },
];
const RULES = compileMasking(MASKING, 'redteam');

describe('prefilters against the plain sequential passes (in process)', () => {
  it('values with other Unicode digits, dashes, at-signs, full-width and combining characters, NUL and lone surrogates mask exactly as the plain passes do', () => {
    const masker = new Masker(RULES);
    const texts = [...attackTexts(random(8)), ...attackTexts(random(88))];
    // Values that only appear after an earlier rule's replacement, and user rules with a lookbehind.
    texts.push('123-ZZ45-6789', 'aliceZZ@example.org', 'AKIAIOSFZZODNN7EXAMPLE', 'secret=abc123 secret=\u0663', 'tok_deadbeef', 'ZZtok_deadZZbeef');
    const differ = texts.filter((t) => JSON.stringify(masker.maskText(t)) !== JSON.stringify(plainPasses(RULES, t)));
    expect(differ.map((t) => JSON.stringify(t)).slice(0, 10)).toEqual([]);
  });
});

let db: PgServer;
let sshd: SshdServer;
let gw: TestGateway;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres({ logStatements: true }), startSshd()]);
  gw = await startTestGateway(db, {
    recording: { dir: './recordings', fsync: 'batch', maxRowsPerResult: 100_000 },
    masking: MASKING,
  }, { ssh: sshd });
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await Promise.all([db?.stop(), sshd?.stop()]);
});

async function direct(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client(db.app);
  await c.connect();
  try {
    return await c.query(sql, values);
  } finally {
    await c.end();
  }
}

async function viaGateway(app: string, sql: string, binary = false): Promise<{ rows: unknown[][]; recorded: unknown[][] }> {
  const c = new pg.Client({ ...gw.conn(), application_name: app });
  await c.connect();
  const { rows } = await c.query({ text: sql, rowMode: 'array', binary } as pg.QueryConfig);
  await c.end();
  const text = await recordingText(gw, app);
  const result = text.split('\n').find((l) => l.includes('"type":"pg.result"') && l.includes('"rowCount"'));
  const recorded = result ? (JSON.parse(result) as { data: { rows: unknown[][] } }).data.rows : [];
  return { rows: rows as unknown[][], recorded };
}

describe('PostgreSQL rows through the gateway', () => {
  it('every attack text comes back (to the client and in the recording, text and binary format) exactly as the plain passes mask it', async () => {
    // PostgreSQL text holds neither NUL nor a lone surrogate: those stay in the in-process test above.
    const texts = attackTexts(random(8)).filter((t) => !/[\u0000\ud800-\udfff]/.test(t));
    await direct('CREATE TABLE odd (id int, note text)');
    await direct('INSERT INTO odd SELECT i, t FROM unnest($1::text[]) WITH ORDINALITY AS x(t, i)', [texts]);
    const expected = texts.map((t) => [plainPasses(RULES, t).text]);
    for (const binary of [false, true]) {
      const { rows, recorded } = await viaGateway(`s8-odd-${binary ? 'binary' : 'text'}`, 'SELECT note FROM odd ORDER BY id', binary);
      const wrong = rows.map((r, i) => [texts[i], r[0], expected[i]![0]]).filter(([, got, want]) => got !== want);
      expect(wrong.slice(0, 5)).toEqual([]);
      expect(recorded).toEqual(expected);
    }
    // The table holds the values themselves (the masking happened on the way out).
    expect((await direct('SELECT count(*)::int AS n FROM odd WHERE note LIKE \'%123-45-6789%\'')).rows[0].n).toBeGreaterThan(0);
  }, 120_000);

  it('a value split over two text columns with a NULL text column between is masked (a NULL does not separate)', async () => {
    await direct("CREATE TABLE split1 (ssn text); INSERT INTO split1 VALUES ('123-45-6789')");
    const { rows, recorded } = await viaGateway('s8-split-null', 'SELECT left(ssn, 6) AS a, NULL::text AS b, substr(ssn, 7) AS c FROM split1');
    expect(rows[0]!.join('')).not.toContain('123-45-6789');
    expect(JSON.stringify(recorded)).not.toMatch(/123-45"[^\]]*"-6789/);
    expect(rows[0]![0]).not.toBe('123-45');
  }, 60_000);

  // Fixed hole (gateway/pg/message-masking.ts maskCopyData; the fields of each row now go through masking.ts splitValues,
  // as a result row's columns do): a text COPY row was masked as one text, its columns joined by
  // tabs, so a value split over two adjacent columns (masked in a SELECT row by the joined-run pass) passes:
  // `COPY (SELECT left(ssn, 6), substr(ssn, 7) FROM split3) TO STDOUT` through psql prints "123-45\t-6789".
  // (COPY data is recorded as a byte count only: the client is where it shows.)
  it('a value split over two columns of a COPY TO STDOUT row is masked, as in a SELECT row', async () => {
    await direct("CREATE TABLE split3 (ssn text); INSERT INTO split3 VALUES ('123-45-6789')");
    const app = 's8-split-copy';
    const { run } = await import('../helpers/processes.js');
    const conn = gw.conn();
    const res = await run('psql', ['-X', '-c', 'COPY (SELECT left(ssn, 6), substr(ssn, 7) FROM split3) TO STDOUT'], {
      env: { PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: 'agent', PGPASSWORD: conn.password, PGDATABASE: 'db', PGAPPNAME: app },
    });
    const got = res.stdout;
    expect(res.stderr).toBe('');
    expect(got).not.toBe('123-45\t-6789\n');
  }, 60_000);

  // Fixed hole (masking.ts maskSplitValues, now splitValues: skipped columns no longer end the run): "Numbers and dates
  // neither join nor separate" — but a number column between two halves ended the joined run (texts[i] stays undefined), so `left(ssn, 6), 0, substr(ssn, 7)` reaches the client and
  // the recording as '123-45', '0', '-6789' unmasked. (A text column 'x' between them separates too: this is the
  // documented claim, not a new bypass.)
  it('a value split over two text columns with a number column between is masked (a number does not separate)', async () => {
    await direct("CREATE TABLE split2 (ssn text); INSERT INTO split2 VALUES ('123-45-6789')");
    const { rows, recorded } = await viaGateway('s8-split-int', 'SELECT left(ssn, 6) AS a, 0 AS n, substr(ssn, 7) AS c FROM split2');
    expect([rows[0]![0], rows[0]![2]]).not.toEqual(['123-45', '-6789']);
    expect([recorded[0]![0], recorded[0]![2]]).not.toEqual(['123-45', '-6789']);
  }, 60_000);
});

/** Runs `command` on the target through the gateway (exec, no pty); returns what the client got and the recorded output. */
async function sshRun(command: string): Promise<{ client: string; recorded: string }> {
  const client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
  const marker = `s8-${Math.random().toString(36).slice(2)}`;
  let out: Awaited<ReturnType<typeof ssh2Exec>>;
  try {
    out = await ssh2Exec(client, `: ${marker}; ${command}`);
  } finally {
    client.end(); // the recording is sealed when the connection ends
  }
  const file = await findSshRecording(marker);
  return { client: out.stdout, recorded: sshOutputOf(file).toString('latin1') };
}

async function findSshRecording(marker: string): Promise<string> {
  const { eventually } = await import('../helpers/gateway.js');
  const { readFile } = await import('node:fs/promises');
  return eventually(async () => {
    for (const f of await gw.sessionFiles()) {
      const text = await readFile(f, 'utf8');
      if (text.includes(marker) && /"type":"seal"/.test(text)) return text;
    }
    return undefined;
  }, 20_000);
}

const file = async (name: string, content: string | Buffer) => {
  const path = join(sshd.dir, name);
  await writeFile(path, content);
  return path;
};

describe('SSH output through the gateway', () => {
  it('a chunk holding a byte 0xff (read as latin1) with values among UTF-8 text is masked', async () => {
    const path = await file('s8-ff.txt', Buffer.concat([Buffer.from('é 123-45-6789 '), Buffer.from([0xff]), Buffer.from(' alice.smith@example.org ☃\n')]));
    const { client, recorded } = await sshRun(`cat ${path}`);
    for (const v of ['123-45-6789', 'alice.smith@example.org']) {
      expect(client).not.toContain(v);
      expect(recorded).not.toContain(v);
    }
    expect(recorded).toContain('[masked:us-ssn]');
  }, 60_000);

  // HOLE (gateway/ssh/masking.ts maskAndEmit; the same before the 0xff fast path, which decides alike): a chunk that is
  // not valid UTF-8 is masked as latin1, where a user rule's non-ASCII character (ä = C3 A4) reads as two others ('Ã¤'),
  // so the rule cannot match: one byte 0xff anywhere in the chunk (`sed 's/$/\xff/' f`) lets `Geheimzahl-ä1234` through.
  // `it.fails`: it runs, and passes only while the hole is open; a fix makes it fail until `.fails` is removed.
  it.fails('a user rule with a non-ASCII character still masks in a chunk holding a byte 0xff', async () => {
    const path = await file('s8-umlaut.txt', Buffer.concat([Buffer.from('Geheimzahl-ä1234 '), Buffer.from([0xff]), Buffer.from('\n')]));
    const { client, recorded } = await sshRun(`cat ${path}`);
    expect(Buffer.from(client, 'utf8').includes('1234')).toBe(true); // the line came through (masked or not)
    expect({ client: client.includes('ä1234'), recorded: Buffer.from(recorded, 'latin1').includes(Buffer.from('ä1234')) }).toEqual({ client: false, recorded: false });
  }, 60_000);

  it('the same user rule masks in a valid UTF-8 chunk (guard for the case above)', async () => {
    const path = await file('s8-umlaut-ok.txt', 'Geheimzahl-ä1234\n');
    const { client, recorded } = await sshRun(`cat ${path}`);
    expect(client).toContain('[masked:geheim]');
    expect({ client: client.includes('ä1234'), recorded: Buffer.from(recorded, 'latin1').includes(Buffer.from('ä1234')) }).toEqual({ client: false, recorded: false });
  }, 60_000);

  it('an SSN written in two parts with a pause between, split at each of its positions on a short line, is masked', async () => {
    const line = 'id 123-45-6789 end\n';
    const path = await file('s8-short.txt', line);
    const cuts = [4, 6, 7, 9, 10, 13];
    const { client, recorded } = await sshRun(cuts.map((c) => `head -c ${c} ${path}; sleep 0.3; tail -c +${c + 1} ${path}`).join('; '));
    expect(client).not.toContain('123-45-6789');
    expect(recorded).not.toContain('123-45-6789');
    expect(client.match(/\[masked:us-ssn\]/g)?.length).toBe(cuts.length);
  }, 60_000);

  // Was a HOLE (fixed 2026-12-03: the trailing run of value characters of a long line is held too) — gateway/ssh/masking.ts
  // OutputMasker.push: a line longer than TAIL_LIMIT (8 KB) without its newline was masked
  // and emitted whole, the trailing run of value characters included, so a value straddling the chunk boundary of a long
  // line passes in two unmatched parts. Repro: a file of 9000 'x' then '123-45-6789\n'; `head -c 9006 f; sleep 0.5;
  // tail -c +9007 f` over exec through the gateway: the client and the recording get ...xxx123-45-6789 unmasked.
  // Without the sleep, any single-line file larger than an SSH packet (minified JSON) can cut a value the same way.
  it('a value straddling the chunk boundary of a line longer than 8 KB is masked', async () => {
    const path = await file('s8-long.txt', `${'x'.repeat(9000)}123-45-6789\n`);
    const { client, recorded } = await sshRun(`head -c 9006 ${path}; sleep 0.5; tail -c +9007 ${path}`);
    expect({ client: client.includes('123-45-6789'), recorded: recorded.includes('123-45-6789') }).toEqual({ client: false, recorded: false });
  }, 60_000);

  // Was a HOLE (the same, without any pause; fixed with it): `cat` of a one-line file of 400 KB holding an SSN every 12 bytes. The target's
  // output reaches the gateway in SSH packets; every cut that falls inside an SSN lets that SSN through whole.
  it('cat of a single-line file larger than an SSH packet, dense with SSNs, passes none of them', async () => {
    const path = await file('s8-dense.txt', `${'123-45-6789,'.repeat(400_000 / 12)}\n`);
    const { client, recorded } = await sshRun(`cat ${path}`);
    expect(client.length).toBeGreaterThan(0);
    expect({ client: client.includes('123-45-6789'), recorded: recorded.includes('123-45-6789') }).toEqual({ client: false, recorded: false });
  }, 60_000);

  // Was a HOLE (fixed 2026-12-03: OutputMasker keeps a key open from its BEGIN line to its END line across chunks) —
  // pem-private-key over SSH output: the rule needs the BEGIN line in the text it masks; the output masker masks
  // each chunk up to its last newline on its own, so key lines that arrive in a later chunk than the BEGIN line (a key
  // printed in parts, or cut by an SSH packet boundary in a larger file) have no BEGIN before them and pass unmasked.
  // Repro: key file BEGIN / 3 body lines / END; `head -n 2 key; sleep 0.5; tail -n +3 key` over exec through the gateway.
  it('the lines of a private key printed in two parts are all masked', async () => {
    const body = ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw', 'SECONDLINEofTHEkeyQIBAAKCAQEAq7BFUpk', 'THIRDLINEofTHEkeyMbnQeR2u4XJrWmRgb0'];
    const path = await file('s8-key.pem', `-----BEGIN PRIVATE KEY-----\n${body.join('\n')}\n-----END PRIVATE KEY-----\n`);
    const { client, recorded } = await sshRun(`head -n 2 ${path}; sleep 0.5; tail -n +3 ${path}`);
    for (const line of body) expect({ line, client: client.includes(line), recorded: recorded.includes(line) }).toEqual({ line, client: false, recorded: false });
  }, 60_000);

  // HOLE (gateway/ssh/masking.ts flush, VALUE_RUN): on a non-interactive channel a held line is let go after 15 ms up
  // to its trailing run of "value characters" ([A-Za-z0-9@._%+-/=: ]). A user rule whose match holds another character
  // (here the quote of `password: "[^"]*"`) loses its head to that release: `head -c 11 f; sleep 0.5; tail -c +12 f` of
  // a file `password: "hunter2-QX"` reaches the client and the recording as 'password: "' then 'hunter2-QX"' unmasked.
  // `it.fails`, as above.
  it.fails('a user rule whose match begins with characters no value is made of (a quote), printed in two parts, is masked', async () => {
    const path = await file('s8-quoted.txt', 'password: "hunter2-QX"\n');
    const { client, recorded } = await sshRun(`head -c 11 ${path}; sleep 0.5; tail -c +12 ${path}`);
    expect({ client: client.includes('hunter2-QX'), recorded: recorded.includes('hunter2-QX') }).toEqual({ client: false, recorded: false });
  }, 60_000);

  it('the same key printed at once is masked whole (guard for the split case above)', async () => {
    const body = ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw', 'SECONDLINEofTHEkeyQIBAAKCAQEAq7BFUpk'];
    const path = await file('s8-key2.pem', `-----BEGIN PRIVATE KEY-----\n${body.join('\n')}\n-----END PRIVATE KEY-----\n`);
    const { client, recorded } = await sshRun(`cat ${path}`);
    for (const line of body) expect({ line, client: client.includes(line), recorded: recorded.includes(line) }).toEqual({ line, client: false, recorded: false });
  }, 60_000);
});

describe('a session open across a reload (SIGHUP) that adds masking', () => {
  const SECRET = 'vault-secret-QXJZ';
  const acrossReload = (n: number, c: ReloadCase) => secretAcrossReload(db, n, c, SECRET);

  const cases: [string, ReloadCase][] = [
    ['a bare-name column rule', { rule: { name: 'vault', column: 'secret_note' }, warm: true }],
    ['a table column rule', { rule: { name: 'vault', column: 'vault.secret_note' }, warm: true }],
    ['a pattern rule', { rule: { name: 'vault', pattern: 'vault-secret-[A-Z]+' }, warm: true }],
    ['a bare-name rule on a column read through a trusted function, not read before the reload', { rule: { name: 'vault', column: 'secret_note' }, viaFunction: true, warm: false }],
  ];
  for (const [n, [what, c]] of cases.entries()) {
    it(`${what}: the live session's next result is masked, to the client and in the recording`, async () => {
      const { after, control, recording } = await acrossReload(n, c);
      expect(control).not.toContain(SECRET);
      expect(after).not.toContain(SECRET);
      expect(recording).not.toContain(SECRET);
    }, 60_000);
  }

  // Fixed hole (gateway/pg/masking.ts RowMasker.columnsOf/use: a description read under rules since reloaded is read
  // again): the column rules of a RowDescription were cached by the frame's bytes (lastFrame/lastDescribed) and not
  // read again when a reload put other rules in force. A session that read
  // `SELECT id, secret_note FROM vault4_f()` (a trusted function; no provenance, so only the bare-name rule can mask it)
  // before a reload that adds the bare-name rule `secret_note` gets the same RowDescription after it, hence the old
  // (empty) rules: the client and the recording get 'vault-secret-QXJZ'. A session started after the reload, or the same
  // session when it had not read that shape before, gets [masked:vault].
  it('a bare-name rule on a column read through a trusted function, read before the reload: masked after it', async () => {
    const { after, control, recording } = await acrossReload(4, { rule: { name: 'vault', column: 'secret_note' }, viaFunction: true, warm: true });
    expect(control).not.toContain(SECRET);
    expect({ client: after.includes(SECRET), recording: recording.includes(SECRET) }).toEqual({ client: false, recording: false });
  }, 60_000);
});
