/**
 * What one SQL text does, as guardrails judge it: every statement nested
 * anywhere (CTEs, EXPLAIN, PREPARE, rule actions, function bodies, DO blocks,
 * MERGE actions, …) as if it were top level, what runs SQL the gateway cannot
 * read, the functions it calls, and what it does to the session (prepared
 * statements, the client encoding). Derived once per text and cached; what
 * depends on the session (EXECUTE names) or the catalog (which functions are
 * user-defined) is resolved when judging.
 */
export interface StatementFacts {
  /** The node name a rule names (a MERGE action counts as InsertStmt/UpdateStmt/DeleteStmt). */
  type: string;
  /** UPDATE, DELETE, MERGE (or one of its actions) with no predicate that restricts rows (where.ts). */
  unbounded: boolean;
  /** Called functions, last name part, lower case. */
  functions: Set<string>;
  /** Referenced relations as written ([schema.]name). */
  tables: string[];
  copyProgram: boolean;
  /** Destructive operations (operations.ts). */
  operations: Set<string>;
  /** Where the statement sits, outermost first ('DO block', 'EXPLAIN', …); empty at top level. */
  via: string[];
}

/** A call the catalog must classify: a built-in, or a user-defined function (code the gateway cannot see). */
export interface Call {
  name: string;
  schema: string | undefined;
  via: string[];
  /** A trigger's function: judged where it was created when that was in this text. */
  trigger: boolean;
}

export type SessionStep =
  | { kind: 'prepare'; name: string; body: TextFacts }
  | { kind: 'execute'; name: string; via: string[] }
  | { kind: 'deallocate'; name: string | undefined };

export interface TextFacts {
  statements: StatementFacts[];
  /** SQL the gateway cannot read, each described ("EXECUTE of a computed string, inside DO block"). */
  dynamic: string[];
  calls: Call[];
  /** Built-in refusals: statements that change how the server reads the client's text. */
  lexing: { rule: string; reason: string }[];
  /** PREPARE / EXECUTE / DEALLOCATE in text order. */
  steps: SessionStep[];
  /** Functions and procedures this text creates (names), for its triggers. */
  created: Set<string>;
  /** Operators used (a user-defined one calls a user-defined function). */
  operators: Set<string>;
}

export function emptyFacts(): TextFacts {
  return { statements: [], dynamic: [], calls: [], lexing: [], steps: [], created: new Set(), operators: new Set() };
}

export function where(via: readonly string[]): string {
  return via.length ? `, inside ${via.join(' › ')}` : '';
}
