/**
 * What the SQL policy knows of a PostgreSQL target's catalog: its relations
 * (tables, views, materialized views, foreign tables) with their columns, and
 * its functions. Masking by provenance needs it to rewrite a reference to a
 * protected table into a masked projection (column lists), to refuse views and
 * functions that read protected columns, and guardrails need it to tell
 * user-defined functions (dynamic SQL the gateway cannot see) from built-ins.
 *
 * The policy defines the shape; `gateway/pg/catalog.ts` reads it from the target.
 */

/** A live column of a relation, in attribute order. */
export interface CatalogColumn {
  attnum: number;
  name: string;
  /** format_type() of the column, e.g. `text`, `character varying(80)`. */
  type: string;
}

export interface CatalogRelation {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table. */
  kind: 'r' | 'p' | 'v' | 'm' | 'f';
  /** A temporary relation (any session's: pg_class shows them all). */
  temp: boolean;
  columns: readonly CatalogColumn[];
  /** Inheritance and partition parents (pg_inherits), by OID. */
  parents: readonly number[];
}

export interface CatalogFunction {
  oid: number;
  schema: string;
  name: string;
  /** A member of an installed extension (pg_depend deptype 'e'). */
  extension: boolean;
}

/** A user-defined operator (not in pg_catalog nor an extension's) and the function it calls. */
export interface CatalogOperator {
  schema: string;
  name: string;
  functionSchema: string;
  functionName: string;
}

/** What a view's or materialized view's rewrite rule reads (pg_rewrite → pg_depend). */
export interface ViewDependencies {
  /** (relation OID, attnum) pairs; attnum 0 = the whole row or the relation as such. */
  columns: readonly { relation: number; attnum: number }[];
  /** Functions the view calls, by OID. */
  functions: readonly number[];
}

export interface CatalogSnapshot {
  /** Increases with every read; rewrite caches key on it. */
  readonly version: number;
  readonly relations: ReadonlyMap<number, CatalogRelation>;
  /** Relations by name (as stored: unquoted names folded to lower case), in every schema. */
  readonly relationsByName: ReadonlyMap<string, readonly CatalogRelation[]>;
  /** By view or materialized view OID. */
  readonly viewDependencies: ReadonlyMap<number, ViewDependencies>;
  readonly functions: ReadonlyMap<number, CatalogFunction>;
  /** Functions and procedures by name, in every schema. */
  readonly functionsByName: ReadonlyMap<string, readonly CatalogFunction[]>;
  /** User-defined operators by operator name. */
  readonly operatorsByName: ReadonlyMap<string, readonly CatalogOperator[]>;
}

/** One target's catalog, shared by the sessions to that target. */
export interface TargetCatalog {
  /** The latest snapshot; undefined before the first read succeeded. */
  readonly snapshot: CatalogSnapshot | undefined;
  /** Reads the catalog again (coalesced: one read in flight at a time). Rejects when the target cannot be read. */
  refresh(): Promise<void>;
}

/** Builds a snapshot's indexes from its lists (used by the reader and by tests). */
export function buildSnapshot(version: number, parts: {
  relations: CatalogRelation[];
  viewDependencies?: Map<number, ViewDependencies>;
  functions?: CatalogFunction[];
  operators?: CatalogOperator[];
}): CatalogSnapshot {
  const group = <T>(items: T[], key: (t: T) => string): Map<string, T[]> => {
    const map = new Map<string, T[]>();
    for (const item of items) {
      const k = key(item);
      const list = map.get(k);
      if (list) list.push(item);
      else map.set(k, [item]);
    }
    return map;
  };
  const functions = parts.functions ?? [];
  return {
    version,
    relations: new Map(parts.relations.map((r) => [r.oid, r])),
    relationsByName: group(parts.relations, (r) => r.name),
    viewDependencies: parts.viewDependencies ?? new Map(),
    functions: new Map(functions.map((f) => [f.oid, f])),
    functionsByName: group(functions, (f) => f.name),
    operatorsByName: group(parts.operators ?? [], (o) => o.name),
  };
}
