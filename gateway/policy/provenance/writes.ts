import type { RangeVarNode } from './resolve.js';

type Node = Record<string, unknown>;

/** The parts of a write statement that read the target's existing rows (predicates, new values, what is returned). */
const READING_PARTS: Record<string, readonly string[]> = {
  UpdateStmt: ['targetList', 'whereClause', 'returningClause', 'returningList'],
  DeleteStmt: ['whereClause', 'returningClause', 'returningList'],
  InsertStmt: ['onConflictClause', 'returningClause', 'returningList'],
  MergeStmt: ['joinCondition', 'mergeWhenClauses', 'returningClause', 'returningList'],
};

/**
 * Reads of a protected target's columns in a write statement (UPDATE, DELETE,
 * INSERT … ON CONFLICT, MERGE), whose target cannot be a masked subquery: a
 * predicate or a RETURNING on a protected column is an oracle that leaks it bit
 * by bit, so any such read is refused. Assigning a new value is not a read.
 * Returns what was read, or undefined.
 *
 * Conservative: an unqualified name equal to a protected column counts even in
 * a subquery where it might name another table's column, and `*` or the
 * target's alias as a value (a whole row) counts.
 */
export function protectedRead(type: string, body: Node, target: RangeVarNode, protectedColumns: ReadonlySet<string>): string | undefined {
  const alias = target.alias?.aliasname ?? target.relname;
  for (const part of READING_PARTS[type] ?? []) {
    const found = scan(body[part], alias, protectedColumns, part);
    if (found) return `${found} in ${partName(part)}`;
  }
  return undefined;
}

function partName(part: string): string {
  return ({ targetList: 'SET', whereClause: 'WHERE', returningClause: 'RETURNING', returningList: 'RETURNING',
    onConflictClause: 'ON CONFLICT', joinCondition: 'the MERGE condition', mergeWhenClauses: 'a MERGE action' } as Record<string, string>)[part] ?? part;
}

function scan(value: unknown, alias: string, cols: ReadonlySet<string>, key: string): string | undefined {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = scan(v, alias, cols, key);
      if (found) return found;
    }
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const node = value as Node;
  if (key === 'indexElems') return undefined; // ON CONFLICT (email): the arbiter names a constraint; a unique violation says as much
  const ref = node.ColumnRef as { fields?: Node[] } | undefined;
  if (ref?.fields) return columnRefProblem(ref.fields, alias, cols);
  for (const [k, v] of Object.entries(node)) {
    const found = scan(v, alias, cols, k);
    if (found) return found;
  }
  return undefined;
}

function columnRefProblem(fields: Node[], alias: string, cols: ReadonlySet<string>): string | undefined {
  const names = fields.map((f) => (f.String as { sval?: string } | undefined)?.sval);
  const star = 'A_Star' in (fields.at(-1) ?? {});
  const last = names.at(-1);
  if (names.length === 1) {
    if (star) return '* (every column, protected ones included)';
    if (last !== undefined && cols.has(last)) return `protected column ${last}`;
    if (last === alias) return `the whole row of ${alias}`;
    return undefined;
  }
  const qualifier = names.at(-2);
  if (qualifier !== alias) return undefined; // another relation's column (excluded.*, a source row)
  if (star) return `${alias}.* (every column, protected ones included)`;
  return last !== undefined && cols.has(last) ? `protected column ${alias}.${last}` : undefined;
}
