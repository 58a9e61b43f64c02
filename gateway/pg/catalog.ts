import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { readSecret, type PostgresTargetConfig } from '../config.js';
import {
  buildSnapshot, type CatalogFunction, type CatalogOperator, type CatalogRelation, type CatalogSnapshot,
  type TargetCatalog, type ViewDependencies,
} from '../policy/catalog.js';
import { serializeFrontendStartup } from './protocol/index.js';
import { connectUpstream, type Upstream } from './upstream.js';

/** What the policy reads of a target's catalog, one query each (text results). */
const RELATIONS = `SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence = 't',
  coalesce((SELECT json_agg(json_build_array(a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
    FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
  coalesce((SELECT json_agg(i.inhparent) FROM pg_inherits i WHERE i.inhrelid = c.oid), '[]')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> 'pg_toast'`;
const VIEW_DEPENDENCIES = `SELECT DISTINCT r.ev_class, d.refclassid = 'pg_proc'::regclass, d.refobjid, d.refobjsubid
  FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
  WHERE (d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class) OR d.refclassid = 'pg_proc'::regclass`;
const FUNCTIONS = `SELECT p.oid, n.nspname, p.proname,
  EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace`;
const OPERATORS = `SELECT n.nspname, o.oprname, pn.nspname, p.proname
  FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
  JOIN pg_proc p ON p.oid = o.oprcode JOIN pg_namespace pn ON pn.oid = p.pronamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e')`;

const catalogs = new Map<string, TargetCatalog>();

/**
 * One catalog per PostgreSQL target, read over a side connection with the
 * gateway's own credentials and shared by that target's sessions.
 */
export function catalogFor(target: PostgresTargetConfig): TargetCatalog {
  const key = JSON.stringify([target.name, target.host, target.port, target.database, target.user]);
  let catalog = catalogs.get(key);
  if (!catalog) catalogs.set(key, (catalog = new PgCatalog(target)));
  return catalog;
}

class PgCatalog implements TargetCatalog {
  snapshot: CatalogSnapshot | undefined;
  private version = 0;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly target: PostgresTargetConfig) {}

  /**
   * Coalesced: one read runs at a time. A refresh asked for while one runs waits
   * for one more read that starts after it (the running one may have begun before
   * the change the caller wants to see); every such caller shares that next read.
   */
  refresh(): Promise<void> {
    if (!this.running) return this.start();
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<void> {
    const run = this.read().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async read(): Promise<void> {
    const t = this.target;
    const upstream = await connectUpstream({
      host: t.host, port: t.port, user: t.user, database: t.database,
      password: t.password && readSecret(t.password, `target ${t.name} password`),
      // Names are decoded as UTF-8 below, so that is what the server must send.
      clientStartup: serializeFrontendStartup({ client_encoding: 'UTF8', application_name: 'hopscope-catalog' }),
    });
    try {
      const query = queryOver(upstream);
      const relations = (await query(RELATIONS)).map(relationOf);
      const dependencies = new Map<number, ViewDependencies>();
      for (const [view, isFunction, ref, sub] of await query(VIEW_DEPENDENCIES)) {
        let deps = dependencies.get(Number(view)) as { columns: { relation: number; attnum: number }[]; functions: number[] } | undefined;
        if (!deps) dependencies.set(Number(view), (deps = { columns: [], functions: [] }));
        if (isFunction === 't') deps.functions.push(Number(ref));
        else deps.columns.push({ relation: Number(ref), attnum: Number(sub) });
      }
      const functions: CatalogFunction[] = (await query(FUNCTIONS)).map(([oid, schema, name, ext]) => ({
        oid: Number(oid), schema: schema!, name: name!, extension: ext === 't',
      }));
      const operators: CatalogOperator[] = (await query(OPERATORS)).map(([schema, name, fs, fn]) => ({
        schema: schema!, name: name!, functionSchema: fs!, functionName: fn!,
      }));
      this.snapshot = buildSnapshot(++this.version, { relations, viewDependencies: dependencies, functions, operators });
    } finally {
      upstream.socket.end(serialize.end());
    }
  }
}

function relationOf([oid, schema, name, kind, temp, columns, parents]: (string | null)[]): CatalogRelation {
  return {
    oid: Number(oid), schema: schema!, name: name!, kind: kind as CatalogRelation['kind'], temp: temp === 't',
    columns: (JSON.parse(columns!) as [number, string, string][]).map(([attnum, n, type]) => ({ attnum, name: n, type })),
    parents: (JSON.parse(parents!) as (string | number)[]).map(Number),
  };
}

/** Simple-protocol queries over an authenticated connection, one at a time; text values. */
function queryOver(upstream: Upstream): (sql: string) => Promise<(string | null)[][]> {
  const parser = new Parser();
  let pending: { rows: (string | null)[][]; error?: Error; resolve: (rows: (string | null)[][]) => void; reject: (e: Error) => void } | undefined;
  const fail = (err: Error) => {
    const p = pending;
    pending = undefined;
    p?.reject(err);
  };
  upstream.onData((chunk) => {
    parser.parse(chunk, (msg: BackendMessage) => {
      if (!pending) return;
      if (msg.name === 'dataRow') pending.rows.push((msg as unknown as { fields: (string | null)[] }).fields);
      else if (msg.name === 'error') pending.error = new Error(`catalog read failed: ${(msg as unknown as { message: string }).message}`);
      else if (msg.name === 'readyForQuery') {
        const p = pending;
        pending = undefined;
        if (p.error) p.reject(p.error);
        else p.resolve(p.rows);
      }
    });
  });
  upstream.socket.on('error', fail);
  upstream.socket.on('close', () => fail(new Error('the target closed the catalog connection')));
  return (sql) => new Promise((resolve, reject) => {
    pending = { rows: [], resolve, reject };
    upstream.socket.write(serialize.query(sql));
  });
}
