import { z } from 'zod';
import { OPERATIONS } from './guardrails/operations.js';
import { configError, glob } from './rule-support.js';
import { STATEMENT_TYPES } from './statement-types.js';

/**
 * What a SQL guardrail matches (the `sql:` of a guardrail rule). Every condition
 * given must hold for one statement — any statement of the text, nested ones
 * (CTEs, EXPLAIN, PREPARE, function bodies, DO blocks, MERGE actions, …) judged
 * as if top level.
 * - `statements`: parse-tree node names (statement-types.ts), e.g. DeleteStmt;
 * - `withoutWhere`: UPDATE, DELETE or MERGE (or a MERGE action) with no predicate
 *   that restricts rows (constant-true ones count as none: guardrails/where.ts);
 * - `operations`: destructive DDL by name (guardrails/operations.ts), e.g.
 *   drop-column, alter-column-type, rename, set-schema, detach-partition, cascade;
 * - `functions`, `tables` (globs), `copyProgram` as before.
 */
export const SqlMatcherSchema = z.object({
  statements: z.array(z.string()).optional(),
  withoutWhere: z.boolean().optional(),
  functions: z.array(z.string()).optional(),
  tables: z.array(z.string()).optional(),
  copyProgram: z.boolean().optional(),
  operations: z.array(z.string()).min(1).optional(),
}).strict();

export interface CompiledSqlMatcher {
  statements: Set<string> | undefined;
  withoutWhere: boolean;
  functions: Set<string> | undefined;
  tables: RegExp[] | undefined;
  copyProgram: boolean;
  operations: Set<string> | undefined;
}

const BOUNDED = new Set(['DeleteStmt', 'UpdateStmt', 'MergeStmt']);

export function compileSqlMatcher(sql: z.infer<typeof SqlMatcherSchema>, where: string): CompiledSqlMatcher {
  for (const type of sql.statements ?? []) {
    if (!STATEMENT_TYPES.has(type)) throw configError(`${where}: unknown statement type ${type} (e.g. SelectStmt, DeleteStmt, DropStmt)`);
  }
  for (const op of sql.operations ?? []) {
    if (!(op in OPERATIONS)) throw configError(`${where}: unknown operation ${op} (known: ${Object.keys(OPERATIONS).join(', ')})`);
  }
  if (sql.withoutWhere && !(sql.statements ?? []).every((s) => BOUNDED.has(s))) {
    throw configError(`${where}: withoutWhere applies to DeleteStmt, UpdateStmt and MergeStmt only`);
  }
  return {
    statements: sql.statements && new Set(sql.statements),
    withoutWhere: sql.withoutWhere ?? false,
    functions: sql.functions && new Set(sql.functions.map((f) => f.toLowerCase())),
    tables: sql.tables?.map(glob),
    copyProgram: sql.copyProgram ?? false,
    operations: sql.operations && new Set(sql.operations),
  };
}
