import { z } from 'zod';
import { configError, glob } from './rule-support.js';
import { STATEMENT_TYPES } from './statement-types.js';

/** What a SQL guardrail matches (the `sql:` of a guardrail rule). */
export const SqlMatcherSchema = z.object({
  statements: z.array(z.string()).optional(),
  withoutWhere: z.boolean().optional(),
  functions: z.array(z.string()).optional(),
  tables: z.array(z.string()).optional(),
  copyProgram: z.boolean().optional(),
}).strict();

export interface CompiledSqlMatcher {
  statements: Set<string> | undefined;
  withoutWhere: boolean;
  functions: Set<string> | undefined;
  tables: RegExp[] | undefined;
  copyProgram: boolean;
}

export function compileSqlMatcher(sql: z.infer<typeof SqlMatcherSchema>, where: string): CompiledSqlMatcher {
  for (const type of sql.statements ?? []) {
    if (!STATEMENT_TYPES.has(type)) throw configError(`${where}: unknown statement type ${type} (e.g. SelectStmt, DeleteStmt, DropStmt)`);
  }
  if (sql.withoutWhere && !(sql.statements ?? []).every((s) => s === 'DeleteStmt' || s === 'UpdateStmt')) {
    throw configError(`${where}: withoutWhere applies to DeleteStmt and UpdateStmt only`);
  }
  return {
    statements: sql.statements && new Set(sql.statements),
    withoutWhere: sql.withoutWhere ?? false,
    functions: sql.functions && new Set(sql.functions.map((f) => f.toLowerCase())),
    tables: sql.tables?.map(glob),
    copyProgram: sql.copyProgram ?? false,
  };
}
