// Runs one adversarial case and judges it on three kinds of evidence: what the
// client received (every byte), what the recording files say (raw text, every
// session the case opened, found by its application_name), and what PostgreSQL
// ran (its statement log, and the state of the victim tables the case attacks).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, it } from 'vitest';
import { eventually, type TestGateway } from '../../helpers/gateway.js';
import type { Env, RunResult } from '../../helpers/processes.js';
import { CapturedPg, psql, wire, type PsqlOptions } from './clients.js';
import { describeLeaks, findLeaks, type Leak } from './seed.js';
import { CLASSES, ClassSummary, type CaseResult, type ClassId } from './summary.js';
import type { AdversarialPg, MaskingVariant } from './support.js';
import type { WireClient } from './wire-client.js';

export interface CaseOptions {
  gw?: MaskingVariant;
  /** Victim tables (id, name, note; 5 rows) created for the case; any change to one counts as a destructive statement that ran. */
  victims?: number;
  /** Statements that must not reach PostgreSQL: any statement in its log since the case began that matches. */
  mustNotRun?: RegExp[];
  /** Outside what the defence claims: reported in the counts, never failing the suite. */
  beyond?: string;
  kind?: CaseResult['kind'];
  timeoutMs?: number;
}

export interface CaseContext {
  id: string;
  gw: TestGateway;
  victims: string[];
  env: AdversarialPg;
  psql(sql: string | Buffer, opts?: PsqlOptions): Promise<RunResult>;
  /** node-postgres, connected; `env` adds libpq-style settings through the client config. */
  pg(extra?: Partial<pg.ClientConfig>): Promise<CapturedPg>;
  /** Raw wire client, after startup and authentication. */
  wire(params?: Record<string, string>): Promise<WireClient>;
  /** Adds client-side output (text or bytes) the case obtained by other means. */
  saw(output: string | Buffer, where: string): void;
  /** Records a failed expectation that is not a leak (e.g. a COPY refused that must work). */
  expect(condition: boolean, problem: string): void;
  /** A unique application_name for another connection of this case. */
  appName(): string;
  /** libpq environment with this case's application name, for other libpq programs. */
  libpq(extra?: Env): Env;
}

const VICTIM_ROWS = "(1,'alpha','n1'),(2,'beta','n2'),(3,'gamma','n3'),(4,'delta','n4'),(5,'epsilon','n5')";

export class Harness {
  readonly summary: ClassSummary;
  private n = 0;
  private readonly seenFiles = new Map<string, string>(); // recording file → application_name

  constructor(readonly cls: ClassId, private readonly env: () => AdversarialPg, private readonly part = '') {
    this.summary = new ClassSummary(cls, part);
    afterAll(() => {
      const table = this.summary.write();
      console.log(`\nadversarial PostgreSQL suite (${CLASSES[cls]} just ran):\n${table}\n`);
    });
  }

  /** Declares a vitest case; it fails when the client, a recording or PostgreSQL shows the attack worked. */
  case(name: string, fn: (c: CaseContext) => Promise<void>, opts: CaseOptions = {}): void {
    it(name, async () => {
      const r = await this.run(name, fn, opts);
      if (!r.passed && !opts.beyond) throw new Error(`${name}:\n${[...r.leaks, ...r.ran, ...r.problems].join('\n')}`);
    }, opts.timeoutMs ?? 60_000);
  }

  async run(name: string, fn: (c: CaseContext) => Promise<void>, opts: CaseOptions = {}): Promise<CaseResult> {
    const env = this.env();
    const id = `${this.cls.slice(0, 2)}${this.part}-${String(++this.n).padStart(3, '0')}`;
    const gw = await env.gateway(opts.gw ?? 'by-table');
    const victims = await this.makeVictims(env, id, opts.victims ?? 0);
    const logBefore = opts.mustNotRun ? (await env.db.loggedStatements()).length : 0;
    const outputs: { where: string; data: string | Buffer }[] = [];
    const problems: string[] = [];
    const pgClients: CapturedPg[] = [];
    const wires: WireClient[] = [];
    let conns = 0;
    const appName = () => (conns++ === 0 ? id : `${id}:${conns}`);
    const c: CaseContext = {
      id, gw, victims, env, appName,
      psql: async (sql, o) => {
        const res = await psql(gw, appName(), sql, o);
        outputs.push({ where: 'psql stdout', data: res.stdout }, { where: 'psql stderr', data: res.stderr });
        return res;
      },
      pg: async (extra) => {
        const client = new CapturedPg(gw, appName(), extra);
        pgClients.push(client);
        await client.connect();
        return client;
      },
      wire: async (params) => {
        const w = await wire(gw, appName(), params);
        wires.push(w);
        return w;
      },
      saw: (data, where) => outputs.push({ where, data }),
      expect: (cond, problem) => { if (!cond) problems.push(problem); },
      libpq: (extra = {}) => ({ PGHOST: gw.conn().host, PGPORT: String(gw.conn().port), PGUSER: 'agent', PGPASSWORD: gw.token(), PGDATABASE: 'db', PGAPPNAME: appName(), ...extra }),
    };
    try {
      await fn(c);
    } catch (err) {
      problems.push(`the case threw: ${(err as Error).stack ?? String(err)}`);
    } finally {
      for (const p of pgClients) await p.end();
      for (const w of wires) await w.close().catch(() => undefined);
    }
    for (const p of pgClients) outputs.push({ where: 'node-postgres bytes', data: p.bytes() });
    for (const w of wires) outputs.push({ where: 'wire bytes', data: w.bytes() });
    const leaks: Leak[] = outputs.flatMap((o) => findLeaks(o.data, `client (${o.where})`));
    leaks.push(...(await this.recordingLeaks(gw, id, problems)));
    const ran = [...(await this.victimChanges(env, victims)), ...(await this.forbiddenRan(env, logBefore, opts.mustNotRun))];
    const result: CaseResult = {
      id, name, kind: opts.kind ?? 'case', passed: !leaks.length && !ran.length && !problems.length, beyond: opts.beyond,
      leaks: leaks.length ? [describeLeaks(leaks)] : [], ran, problems,
    };
    this.summary.add(result);
    return result;
  }

  /** Reads (once sealed) every session recording this case opened, and returns the seeded values in its raw text. */
  async recordingLeaks(gw: TestGateway, id: string, problems: string[]): Promise<Leak[]> {
    const texts = await this.recordingTexts(gw, id, problems);
    return texts.flatMap((t) => findLeaks(t.text, `recording ${t.path.split('/').pop()}`));
  }

  /** The raw text of every session recording whose application_name is `id` or `id:n`, once all are sealed. */
  async recordingTexts(gw: TestGateway, id: string, problems: string[]): Promise<{ path: string; text: string }[]> {
    const mine = async () => {
      const files = await readdir(gw.recordingsDir).catch(() => [] as string[]);
      const out: string[] = [];
      for (const f of files.filter((x) => x.endsWith('.jsonl') && !x.startsWith('gateway-'))) {
        const path = join(gw.recordingsDir, f);
        if (!this.seenFiles.has(path)) {
          const head = (await readFile(path, 'utf8')).split('\n', 3).join('\n');
          const m = /"application_name":"([^"]*)"/.exec(head);
          if (!m && !head.includes('"session.start"')) continue; // not written yet; looked at again next time
          this.seenFiles.set(path, m?.[1] ?? '');
        }
        const app = this.seenFiles.get(path)!;
        if (app === id || app.startsWith(`${id}:`)) out.push(path);
      }
      return out;
    };
    const read = async () => Promise.all((await mine()).map(async (path) => ({ path, text: await readFile(path, 'utf8') })));
    try {
      return await eventually(async () => {
        const all = await read();
        return all.every((t) => /"type":"seal"/.test(t.text)) ? all : undefined;
      }, 15_000);
    } catch {
      problems.push('a recording of this case was not sealed within 15 s of its clients closing');
      return read();
    }
  }

  /** Leaks in every recording file of a gateway (sessions and the gateway's own audit file), attributed to the statement before them. */
  static async allRecordingLeaks(gw: TestGateway): Promise<Leak[]> {
    const files = await readdir(gw.recordingsDir);
    const leaks: Leak[] = [];
    for (const f of files.filter((x) => x.endsWith('.jsonl'))) {
      let last = '';
      for (const line of (await readFile(join(gw.recordingsDir, f), 'utf8')).split('\n')) {
        const sql = /"sql":"((?:[^"\\]|\\.)*)"/.exec(line);
        const found = findLeaks(line, `recording ${f} after ${last.slice(0, 120)}`);
        leaks.push(...found);
        if (sql) last = sql[1]!;
      }
    }
    return leaks;
  }

  private async makeVictims(env: AdversarialPg, id: string, n: number): Promise<string[]> {
    if (!n) return [];
    const names = Array.from({ length: n }, (_, i) => `v_${id.replace('-', '_')}_${i + 1}`);
    const c = await env.direct();
    try {
      for (const v of names) await c.query(`DROP TABLE IF EXISTS ${v} CASCADE; CREATE TABLE ${v} (id int PRIMARY KEY, name text, note text); INSERT INTO ${v} VALUES ${VICTIM_ROWS}`);
    } finally {
      await c.end();
    }
    return names;
  }

  /** What changed in the victim tables: gone, renamed, rows deleted or changed, columns dropped or retyped. */
  private async victimChanges(env: AdversarialPg, victims: string[]): Promise<string[]> {
    if (!victims.length) return [];
    const c = await env.direct();
    const out: string[] = [];
    try {
      for (const v of victims) {
        const exists = (await c.query('SELECT to_regclass($1) IS NOT NULL AS e', [v])).rows[0].e as boolean;
        if (!exists) { out.push(`${v}: the table is gone (dropped or renamed)`); continue; }
        const cols = (await c.query("SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped", [v])).rows[0].c;
        if (cols !== 'id:integer,name:text,note:text') out.push(`${v}: columns changed to ${cols}`);
        const rows = (await c.query(`SELECT count(*)::int AS n, string_agg(id || '=' || coalesce(name, '∅'), ',' ORDER BY id) AS s FROM ${v}`)).rows[0];
        if (rows.n !== 5 || rows.s !== '1=alpha,2=beta,3=gamma,4=delta,5=epsilon') out.push(`${v}: rows changed (${rows.n} rows: ${rows.s})`);
      }
    } finally {
      await c.end();
    }
    return out;
  }

  private async forbiddenRan(env: AdversarialPg, from: number, patterns: RegExp[] | undefined): Promise<string[]> {
    if (!patterns?.length) return [];
    const logged = (await env.db.loggedStatements()).slice(from);
    return logged.filter((s) => patterns.some((p) => p.test(s))).map((s) => `PostgreSQL ran: ${s.slice(0, 200)}`);
  }
}
