import { parseSql } from '../policy/sql-policy.js';
import type { ColumnInfo } from './frames.js';

/**
 * What the extended protocol left on the server, as the gateway must know it to
 * record exactly what ran: prepared statements (by name) and portals (by name),
 * each portal holding the statement it was bound to at Bind time — never looked
 * up again by name, so a statement re-parsed under the same name after a Bind
 * cannot change what the recording says the portal ran.
 *
 * Names are keyed by their bytes (read as latin1, one character per byte), not by
 * a UTF-8 reading of them: two different invalid byte strings must not read as
 * the same name.
 */
export interface PreparedStatement {
  /** Its name as recorded (decoded in the session's encoding). */
  readonly name: string;
  /** The client's text. */
  readonly sql: string;
  /** The text forwarded instead, when the policy rewrote it. */
  readonly forwarded: string | undefined;
  /** The seq of its pg.parse event. */
  readonly parseSeq: number;
  /** The generation of the policies that judged it (SqlSessionPolicy.generation). */
  generation: number | undefined;
  /** Made by SQL PREPARE in a Query (its `sql` is that PREPARE), not by a Parse. */
  readonly bySql?: true;
}

/** The columns of a portal's rows and the masking rule of each, as its row description gave them. */
export interface DescribedColumns {
  readonly columns: ColumnInfo[];
  readonly rules: (string | undefined)[];
}

export class Portal {
  /**
   * Whether the server will have answered a Describe of this very portal before
   * its next Execute (the client's, or one the gateway injects): its columns
   * are then known when its rows come.
   */
  described = false;
  /** Set by the response side when that Describe is answered: null for NoData. */
  columns: DescribedColumns | null | undefined;

  constructor(
    readonly name: string,
    /** The statement bound, as it was at Bind time; undefined for a portal the gateway did not see bound (a SQL cursor). */
    readonly statement: PreparedStatement | undefined,
    readonly statementName: string | null,
    readonly params: unknown[],
  ) {}
}

export class ExtendedState {
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();

  /**
   * A Parse the gateway forwards. PostgreSQL refuses a Parse of a named statement
   * that exists ("prepared statement already exists") and keeps the old one, so a
   * named statement the gateway knows keeps what it holds; the unnamed one is
   * replaced (the server drops it before parsing the new one).
   */
  parsed(key: string, statement: PreparedStatement): void {
    if (key !== '' && this.statements.has(key)) return;
    this.statements.set(key, statement);
  }

  /**
   * A Parse the server will fail (refused, or the stand-in): the unnamed
   * statement is gone (dropped before the parse); a named one that exists stays.
   */
  forgetStatement(key: string): void {
    if (key === '') this.statements.delete(key);
  }

  /** The statement a Bind names, if the gateway saw it parsed. */
  statement(key: string): PreparedStatement | undefined {
    return this.statements.get(key);
  }

  bound(portalKey: string, portalName: string, statementKey: string, statementName: string, params: unknown[]): Portal {
    const portal = new Portal(portalName, this.statements.get(statementKey), statementName, params);
    this.portals.set(portalKey, portal);
    return portal;
  }

  /** The portal an Execute or Describe names; one the gateway never saw bound (a SQL cursor) is known from now on. */
  portal(key: string, name: string): Portal {
    let portal = this.portals.get(key);
    if (!portal) this.portals.set(key, (portal = new Portal(name, undefined, null, [])));
    return portal;
  }

  closed(kind: 'S' | 'P', key: string): void {
    if (kind === 'S') this.statements.delete(key);
    else this.portals.delete(key);
  }

  /**
   * SQL PREPARE / DEALLOCATE / DISCARD ALL in a forwarded Query share the protocol's statement names: a Bind
   * to a name SQL prepared runs that statement, and is recorded with its text (the PREPARE) and the seq of
   * the query that prepared it. `keyOf`: a name's map key (its bytes in the session's encoding, as latin1).
   */
  preparedBySql(sql: string, forward: string | undefined, seq: number, generation: number | undefined, keyOf: (name: string) => string | undefined): void {
    const parsed = parseSql(sql);
    if (parsed.error !== undefined) return;
    const bytes = Buffer.from(sql, 'utf8');
    for (const raw of parsed.stmts) {
      const [type, body] = Object.entries(raw.stmt)[0] ?? [];
      const node = body as { name?: string; isall?: boolean; target?: string } | undefined;
      if (type === 'PrepareStmt' && node?.name) {
        const start = raw.stmt_location ?? 0;
        const text = bytes.subarray(start, raw.stmt_len ? start + raw.stmt_len : undefined).toString('utf8').trim();
        const key = keyOf(node.name);
        if (key !== undefined) this.parsed(key, { name: node.name, sql: text, forwarded: forward, parseSeq: seq, generation, bySql: true });
      } else if (type === 'DeallocateStmt' && node?.isall) {
        this.statements.clear();
      } else if (type === 'DeallocateStmt' && node?.name) {
        const key = keyOf(node.name);
        if (key !== undefined) this.closed('S', key);
      } else if (type === 'DiscardStmt' && node?.target === 'DISCARD_ALL') {
        this.statements.clear();
      }
    }
  }

  /** A simple Query drops the unnamed statement and portal, as PostgreSQL does. */
  simpleQuery(): void {
    this.statements.delete('');
    this.portals.delete('');
  }
}

/**
 * The name at `offset` of a client frame, as a map key (its bytes read as
 * latin1), and where the bytes after its NUL begin.
 */
export function nameKeyAt(raw: Buffer, offset: number): { key: string; bytes: Buffer; next: number } {
  const end = raw.indexOf(0, offset);
  return { key: end === offset ? '' : raw.toString('latin1', offset, end), bytes: raw.subarray(offset, end), next: end + 1 };
}
