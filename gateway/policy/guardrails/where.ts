/**
 * Whether a predicate restricts the rows an UPDATE, DELETE or MERGE action
 * touches — what `withoutWhere` means.
 *
 * Definition (syntactic: the gateway reads the predicate, never the data). With
 * NOT pushed inward (De Morgan), a predicate restricts rows when
 * - an AND restricts when any of its operands does; an OR only when every operand does;
 * - an atom restricts when it is
 *   - a comparison (any operator, IN, BETWEEN, LIKE, ANY/ALL, IS [NOT] DISTINCT FROM)
 *     between an expression over the target row's columns and an expression that
 *     is independent of the target row — a constant, a parameter, a column of
 *     another table, an uncorrelated subquery over other tables. `id = id`,
 *     `id = id + 0`, `a = b` of the same row, `x LIKE '%'`, `x IS DISTINCT FROM NULL`
 *     do not restrict;
 *   - `IS NULL` (not `IS NOT NULL`: the idiom for "every row" of a key column),
 *     `IS TRUE` / `IS FALSE` over a restricting atom, a bare boolean column of the
 *     target, a function call over the target's columns, `WHERE CURRENT OF`;
 *   - a subquery (EXISTS, IN, scalar) whose own WHERE, JOIN ON or HAVING restricts
 *     the target row by this same definition (correlated to it).
 * Constants, parameters and anything that does not read the target row never
 * restrict: `WHERE true`, `1=1`, `'a'='a'`, `NOT false`, `x OR true`, `$1`,
 * `EXISTS (SELECT 1)`, casts and parentheses of those. CASE and COALESCE restrict
 * only when every branch does.
 *
 * Name resolution is fail-closed: an unqualified column counts as the target's
 * only where the target is the sole FROM item; inside a subquery with its own
 * FROM, or next to other FROM/USING items, it may be either, so it neither makes
 * a side "over the target" nor "independent"; another reference to the target's
 * table (a self-join, MERGE … USING the same table) is never independent, nor is a
 * FROM/USING item that reads the target's table or row anywhere inside it: a
 * subquery (`USING (SELECT id FROM t) s`), a WITH query of that name
 * (`WITH s AS (SELECT id FROM t) … USING s`), a LATERAL item correlated to the
 * target row (`USING LATERAL (SELECT t.id) s`). Each lists every row of the target.
 *
 * Not recognised (the gateway cannot know the data): range predicates that happen
 * to hold for every row (`id > 0`), functions that return true for any input.
 */
type Node = Record<string, unknown>;
type Ref = 'target' | 'maybe' | 'other';

export interface Scope {
  /** Qualifiers that name the target row (its alias, or its table name when unaliased). */
  target: Set<string>;
  /** Qualifiers of other references to the target's table: never independent of it. */
  same: Set<string>;
  /** Qualifiers of other FROM items. */
  other: Set<string>;
  /** Unqualified names resolve to the target (it is the scope's only item). */
  unqualifiedIsTarget: boolean;
  /** The scope has FROM items of its own (unqualified names stop here). */
  hasItems: boolean;
  parent: Scope | undefined;
  /** Root only: names of function parameters and PL/pgSQL variables (values independent of the row). */
  variables?: ReadonlySet<string>;
}

interface RangeVarNode { relname?: string; schemaname?: string; alias?: { aliasname?: string } }

/** WITH queries of the statement by name (every one in the text, whatever its scope: a name may be either). */
export type WithQueries = ReadonlyMap<string, unknown[]>;
const NO_WITH: WithQueries = new Map();

/** The scope of an UPDATE/DELETE/MERGE: its target and its FROM/USING items. */
export function dmlScope(target: RangeVarNode, items: unknown[] | undefined, variables: ReadonlySet<string>, ctes: WithQueries = NO_WITH): Scope {
  const scope: Scope = { target: new Set([target.alias?.aliasname ?? target.relname ?? '']), same: new Set(), other: new Set(),
    unqualifiedIsTarget: true, hasItems: true, parent: undefined, variables };
  withQueries.set(scope, ctes);
  for (const item of items ?? []) addItem(scope, item, target);
  scope.unqualifiedIsTarget = scope.same.size === 0 && scope.other.size === 0;
  return scope;
}

const sameTable = (rv: RangeVarNode, target: RangeVarNode) =>
  rv.relname === target.relname && (!rv.schemaname || !target.schemaname || rv.schemaname === target.schemaname);

function addItem(scope: Scope, item: unknown, target: RangeVarNode | undefined): void {
  const [kind, body] = unwrap(item);
  if (!body) return;
  const root = rootTarget(scope);
  const reads = (node: unknown) => target !== undefined && readsTarget(node, target, root.target, withQueries.get(root) ?? NO_WITH, new Set());
  if (kind === 'RangeVar') {
    const rv = body as RangeVarNode;
    const name = rv.alias?.aliasname ?? rv.relname ?? '';
    // A WITH query of that name that reads the target's table is the table again.
    const same = target && (sameTable(rv, target) || (!rv.schemaname && reads({ RangeVar: rv })));
    (same ? scope.same : scope.other).add(name);
  } else if (kind === 'JoinExpr') {
    addItem(scope, body.larg, target);
    addItem(scope, body.rarg, target);
    const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname;
    if (alias) (reads(body) ? scope.same : scope.other).add(alias);
  } else {
    // A subquery, a function or VALUES: independent only when nothing in it reads the target's table or row.
    const alias = (body.alias as { aliasname?: string } | undefined)?.aliasname;
    (reads(body) ? scope.same : scope.other).add(alias ?? '');
  }
}

/**
 * Whether `node` reads the target's table (a RangeVar of it, or of a WITH query that does) or its row (a column
 * qualified by the target's name, as a LATERAL item can). `seen`: WITH queries already followed (a recursive one).
 */
function readsTarget(node: unknown, target: RangeVarNode, targetNames: ReadonlySet<string>, ctes: WithQueries, seen: Set<string>): boolean {
  if (Array.isArray(node)) return node.some((n) => readsTarget(n, target, targetNames, ctes, seen));
  if (!node || typeof node !== 'object') return false;
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'RangeVar') {
      const rv = value as RangeVarNode;
      if (sameTable(rv, target)) return true;
      const name = rv.relname ?? '';
      if (!rv.schemaname && ctes.has(name) && !seen.has(name)) {
        seen.add(name);
        if (ctes.get(name)!.some((q) => readsTarget(q, target, targetNames, ctes, seen))) return true;
      }
    } else if (key === 'ColumnRef') {
      const names = (((value as Node).fields as unknown[]) ?? []).map((f) => (f as { String?: { sval?: string } }).String?.sval);
      const qualifier = names[names.length - 2];
      if (qualifier !== undefined && targetNames.has(qualifier)) return true;
    } else if (value && typeof value === 'object' && readsTarget(value, target, targetNames, ctes, seen)) {
      return true;
    }
  }
  return false;
}

/** Every WITH query of a parse tree by name (several of one name in different scopes: all of them). */
export function withQueriesOf(tree: unknown, into: Map<string, unknown[]> = new Map()): Map<string, unknown[]> {
  if (Array.isArray(tree)) {
    for (const item of tree) withQueriesOf(item, into);
  } else if (tree && typeof tree === 'object') {
    for (const [key, value] of Object.entries(tree as Node)) {
      if (key === 'CommonTableExpr') {
        const cte = value as { ctename?: string; ctequery?: unknown };
        const list = into.get(cte.ctename ?? '') ?? [];
        list.push(cte.ctequery);
        into.set(cte.ctename ?? '', list);
      }
      withQueriesOf(value, into);
    }
  }
  return into;
}

/** The root target, to tell other references to its table inside subqueries. */
function rootTarget(scope: Scope): Scope {
  let s = scope;
  while (s.parent) s = s.parent;
  return s;
}

function subScope(select: Node, parent: Scope, target: RangeVarNode | undefined): Scope {
  const from = select.fromClause as unknown[] | undefined;
  const scope: Scope = { target: new Set(), same: new Set(), other: new Set(), unqualifiedIsTarget: false, hasItems: !!from?.length, parent };
  for (const item of from ?? []) addItem(scope, item, target);
  return scope;
}

function resolve(fields: unknown[], scope: Scope): Ref {
  const names = fields.map((f) => (f as { String?: { sval?: string } }).String?.sval);
  if (names.length === 1) {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      // A parameter or variable name is read as the value (a column of the same name would win in SQL functions: fail-closed either way).
      if (s.parent === undefined) return s.variables?.has(names[0]!) ? 'other' : s.unqualifiedIsTarget ? 'target' : 'maybe';
      if (s.hasItems) return 'maybe';
    }
    return 'maybe';
  }
  const qualifier = names[names.length - 2];
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (qualifier === undefined) return 'maybe';
    if (s.target.has(qualifier)) return 'target';
    if (s.same.has(qualifier)) return 'maybe';
    if (s.other.has(qualifier)) return 'other';
  }
  // NEW.id in a trigger function, f.n for parameter n of function f.
  return qualifier !== undefined && rootTarget(scope).variables?.has(qualifier) ? 'other' : 'maybe';
}

function unwrap(node: unknown): [string, Node | undefined] {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return ['', undefined];
  const key = Object.keys(node)[0];
  return key === undefined ? ['', undefined] : [key, (node as Node)[key] as Node];
}

interface Deps { target: boolean; maybe: boolean }

/** Which references to the target row an expression (with its subqueries) makes. */
function deps(node: unknown, scope: Scope, acc: Deps = { target: false, maybe: false }): Deps {
  if (Array.isArray(node)) {
    for (const item of node) deps(item, scope, acc);
    return acc;
  }
  if (!node || typeof node !== 'object') return acc;
  const obj = node as Node;
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'ColumnRef') {
      const ref = resolve(((value as Node).fields as unknown[]) ?? [], scope);
      if (ref === 'target') acc.target = true;
      else if (ref === 'maybe') acc.maybe = true;
    } else if (key === 'SelectStmt' || key === 'subselect') {
      const [, select] = key === 'SelectStmt' ? ['', value as Node] : unwrap(value);
      if (select) deps(select, subScope(select, scope, rootRangeVar(scope)), acc);
    } else if (value && typeof value === 'object') {
      deps(value, scope, acc);
    }
  }
  return acc;
}

/** The target's table, carried on the root scope for same-table detection in subqueries. */
const targets = new WeakMap<Scope, RangeVarNode>();
/** The statement's WITH queries, carried on the root scope. */
const withQueries = new WeakMap<Scope, WithQueries>();
function rootRangeVar(scope: Scope): RangeVarNode | undefined {
  return targets.get(rootTarget(scope));
}

/** Whether `predicate` restricts the rows of `target` (see the definition above). */
export function restrictsRows(predicate: unknown, target: RangeVarNode, items: unknown[] | undefined, variables: ReadonlySet<string>,
  ctes: WithQueries = NO_WITH): boolean {
  if (predicate === undefined) return false;
  const scope = dmlScope(target, items, variables, ctes);
  targets.set(scope, target);
  return restricts(predicate, scope, false);
}

const overTarget = (node: unknown, scope: Scope) => deps(node, scope).target;
const independent = (node: unknown, scope: Scope) => {
  const d = deps(node, scope);
  return !d.target && !d.maybe;
};

function restricts(node: unknown, scope: Scope, negated: boolean): boolean {
  const [kind, body] = unwrap(node);
  if (!body) return false;
  switch (kind) {
    case 'BoolExpr': {
      const args = (body.args as unknown[] | undefined) ?? [];
      if (body.boolop === 'NOT_EXPR') return restricts(args[0], scope, !negated);
      const conjunction = (body.boolop === 'AND_EXPR') !== negated;
      return conjunction ? args.some((a) => restricts(a, scope, negated)) : args.length > 0 && args.every((a) => restricts(a, scope, negated));
    }
    case 'A_Expr':
      return comparison(body, scope, negated);
    case 'NullTest':
      return (body.nulltesttype === 'IS_NULL') !== negated && overTarget(body.arg, scope);
    case 'BooleanTest': {
      const test = body.booltesttype as string;
      if (test === 'IS_TRUE' || test === 'IS_NOT_FALSE') return restricts(body.arg, scope, negated);
      if (test === 'IS_FALSE' || test === 'IS_NOT_TRUE') return restricts(body.arg, scope, !negated);
      return (test === 'IS_UNKNOWN') !== negated && overTarget(body.arg, scope);
    }
    case 'ColumnRef':
      return resolve((body.fields as unknown[]) ?? [], scope) === 'target';
    case 'TypeCast':
    case 'CollateClause':
      return restricts(body.arg, scope, negated);
    case 'A_Indirection':
    case 'FuncCall':
      return overTarget(body, scope);
    case 'CurrentOfExpr':
      return true;
    case 'CoalesceExpr':
      return ((body.args as unknown[] | undefined) ?? []).every((a) => restricts(a, scope, negated));
    case 'CaseExpr': {
      const results = ((body.args as { CaseWhen?: { result?: unknown } }[] | undefined) ?? []).map((w) => w.CaseWhen?.result);
      // A missing ELSE is NULL: no row passes that branch.
      return results.every((r) => restricts(r, scope, negated)) && (body.defresult === undefined || restricts(body.defresult, scope, negated));
    }
    case 'SubLink':
      return sublink(body, scope);
    default:
      return false;
  }
}

function comparison(expr: Node, scope: Scope, negated: boolean): boolean {
  const kind = expr.kind as string;
  if (kind === 'AEXPR_NULLIF' || expr.lexpr === undefined || expr.rexpr === undefined) return false;
  const [rk, rbody] = unwrap(expr.rexpr);
  const right = rk === 'List' ? ((rbody?.items as unknown[] | undefined) ?? []) : [expr.rexpr];
  const op = ((expr.name as { String?: { sval?: string } }[] | undefined) ?? []).map((n) => n.String?.sval).join('.');
  const isNull = right.length === 1 && (unwrap(right[0])[1] as { isnull?: boolean } | undefined)?.isnull === true;
  if (isNull && (kind === 'AEXPR_DISTINCT' || kind === 'AEXPR_NOT_DISTINCT')) {
    // IS DISTINCT FROM NULL is IS NOT NULL; IS NOT DISTINCT FROM NULL is IS NULL.
    return (kind === 'AEXPR_NOT_DISTINCT') !== negated && overTarget(expr.lexpr, scope);
  }
  if ((kind === 'AEXPR_LIKE' || kind === 'AEXPR_ILIKE') && matchesAnything(right[0])) {
    // x LIKE '%' holds for every non-null x; NOT LIKE '%' for none.
    const positive = !op.startsWith('!') !== negated;
    if (positive) return false;
  }
  const leftOver = overTarget(expr.lexpr, scope);
  const rightOver = right.some((r) => overTarget(r, scope));
  return (leftOver && right.every((r) => independent(r, scope))) || (rightOver && independent(expr.lexpr, scope));
}

function matchesAnything(pattern: unknown): boolean {
  const [, body] = unwrap(pattern);
  const value = (body?.sval as { sval?: string } | undefined)?.sval;
  return value !== undefined && value.length > 0 && /^%+$/.test(value);
}

function sublink(link: Node, scope: Scope): boolean {
  const [, select] = unwrap(link.subselect);
  if (!select) return false;
  const correlated = subqueryRestricts(select, scope);
  if (link.subLinkType === 'EXISTS_SUBLINK' || link.testexpr === undefined) return correlated;
  return correlated || (overTarget(link.testexpr, scope) && independent(link.subselect, scope));
}

/** A subquery restricts the target row when its own WHERE, JOIN ON or HAVING does (it is correlated to it). */
function subqueryRestricts(select: Node, parent: Scope): boolean {
  if (select.op && select.op !== 'SETOP_NONE') {
    return subqueryRestricts(select.larg as Node, parent) && subqueryRestricts(select.rarg as Node, parent);
  }
  const scope = subScope(select, parent, rootRangeVar(parent));
  const quals: unknown[] = [select.whereClause, select.havingClause];
  const collectQuals = (item: unknown) => {
    const [kind, body] = unwrap(item);
    if (kind !== 'JoinExpr' || !body) return;
    quals.push(body.quals);
    collectQuals(body.larg);
    collectQuals(body.rarg);
  };
  for (const item of (select.fromClause as unknown[] | undefined) ?? []) collectQuals(item);
  return quals.some((q) => q !== undefined && restricts(q, scope, false));
}
