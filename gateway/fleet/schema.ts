import type pg from 'pg';

/**
 * The control plane's schema, one migration per version, applied in order on
 * start. Several gateways may start at once: each takes the same transaction
 * advisory lock before it reads the version, so one applies a migration and
 * the others see it done.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE hopscope_gateways (
        name text PRIMARY KEY,
        key_id text NOT NULL,
        admin_url text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        lease_seconds integer NOT NULL,
        -- live: heartbeating; stopped: left cleanly; crashed: its lease expired (marked by a peer, or by itself on restart)
        state text NOT NULL CHECK (state IN ('live', 'stopped', 'crashed'))
      );
      -- Every signing key a gateway of the fleet has used: tokens signed by any of them are verified everywhere
      -- until the key is retired.
      CREATE TABLE hopscope_keys (
        key_id text PRIMARY KEY,
        public_key text NOT NULL,
        gateway text NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz,
        retired_by text
      );
      CREATE TABLE hopscope_revocations (
        id bigserial PRIMARY KEY,
        identity text,
        token_id text,
        at bigint NOT NULL,
        by text,
        reason text,
        gateway text NOT NULL,
        CHECK ((identity IS NULL) <> (token_id IS NULL))
      );
      CREATE TABLE hopscope_sessions (
        id text PRIMARY KEY,
        gateway text NOT NULL,
        protocol text NOT NULL,
        identity text NOT NULL,
        target text NOT NULL,
        client text NOT NULL,
        token_id text NOT NULL,
        root_token_id text NOT NULL,
        parent text,
        link_kind text,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        end_cause text
      );
      CREATE INDEX hopscope_sessions_live ON hopscope_sessions (gateway) WHERE ended_at IS NULL;
      -- Revocations follow the lineage through ended sessions too (a descendant outlives its parent).
      CREATE INDEX hopscope_sessions_parent ON hopscope_sessions (parent);
      CREATE INDEX hopscope_sessions_identity ON hopscope_sessions (identity);
      CREATE INDEX hopscope_sessions_token ON hopscope_sessions (token_id);
      CREATE INDEX hopscope_sessions_root_token ON hopscope_sessions (root_token_id);
      CREATE TABLE hopscope_approvals (
        id text PRIMARY KEY,
        gateway text NOT NULL,
        session text NOT NULL,
        identity text NOT NULL,
        target text NOT NULL,
        protocol text NOT NULL,
        rule text NOT NULL,
        operation text NOT NULL,
        requested_at timestamptz NOT NULL,
        -- approved / denied through another gateway than the holder, until the holder applies it
        requested text,
        -- what happened to the held operation, written by its holder: approved / denied, or timeout / cancelled,
        -- or gateway-gone (its holder died)
        decision text,
        approver text,
        reason text,
        decided_at timestamptz,
        decided_via text
      );
      CREATE INDEX hopscope_approvals_pending ON hopscope_approvals (requested_at) WHERE decision IS NULL;
    `,
  },
];

/** The version this code reads and writes. A control plane migrated further by a newer gateway is refused. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Any 64-bit number that no other application on the control-plane database is likely to take: "hopscope". */
const MIGRATION_LOCK = 0x686f7073636f7065n;

/** Brings the schema to SCHEMA_VERSION; returns the versions it applied (none when another gateway did). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query('CREATE TABLE IF NOT EXISTS hopscope_schema (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM hopscope_schema');
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(`the control plane's schema is at version ${current}, newer than this gateway's ${SCHEMA_VERSION}: upgrade the gateway`);
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO hopscope_schema (version) VALUES ($1)', [m.version]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
