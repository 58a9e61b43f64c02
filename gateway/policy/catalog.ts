/**
 * What the SQL policy knows of a PostgreSQL target's catalog: its relations
 * (tables, views, materialized views, foreign tables) with their columns, and
 * its functions. Masking by provenance needs it to rewrite a reference to a
 * protected table into a masked projection (column lists), to refuse views and
 * functions that read protected columns, and guardrails need it to tell
 * user-defined functions (dynamic SQL the gateway cannot see) from built-ins.
 *
 * The policy defines the shape; `gateway/pg/catalog.ts` reads it from the target.
 * OWNER: the pg-provenance work package fills in CatalogSnapshot.
 */
export interface CatalogSnapshot {
  /** Increases with every read; rewrite caches key on it. */
  readonly version: number;
}

/** One target's catalog, shared by the sessions to that target. */
export interface TargetCatalog {
  /** The latest snapshot; undefined before the first read succeeded. */
  readonly snapshot: CatalogSnapshot | undefined;
  /** Reads the catalog again (coalesced: one read in flight at a time). Rejects when the target cannot be read. */
  refresh(): Promise<void>;
}
