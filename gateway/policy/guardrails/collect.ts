import { STATEMENT_TYPES } from '../statement-types.js';
import { parseSql } from '../sql-policy.js';
import { collectDo, collectFunction } from './bodies.js';
import { emptyFacts, where, type StatementFacts, type TextFacts } from './facts.js';
import { operationsOf } from './operations.js';
import { restrictsRows, withQueriesOf, type WithQueries } from './where.js';

type Node = Record<string, unknown>;
type RawStmt = { stmt: Node; stmt_location?: number; stmt_len?: number };

/** Built-ins that run SQL given to them as text: the gateway cannot see that SQL. */
const RUNS_TEXT_AS_SQL = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'table_to_xml', 'table_to_xmlschema',
  'table_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema', 'schema_to_xml', 'schema_to_xmlschema',
  'schema_to_xml_and_xmlschema', 'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
  'ts_stat', 'ts_rewrite',
]);

/** Wrappers named in reasons ("inside EXPLAIN"). */
const LABELS: Record<string, string> = {
  ExplainStmt: 'EXPLAIN', CopyStmt: 'COPY', DeclareCursorStmt: 'DECLARE CURSOR', RuleStmt: 'CREATE RULE',
  CreateTableAsStmt: 'CREATE TABLE AS', ViewStmt: 'CREATE VIEW', CreateSchemaStmt: 'CREATE SCHEMA', SelectStmt: 'SELECT',
  InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE',
};

const MAX_DEPTH = 24;

const NO_VARIABLES: ReadonlySet<string> = new Set();

/**
 * The facts of one parsed text (every statement, nested ones included).
 * `variables`: parameter and variable names in scope (a function body).
 */
export function collectText(text: string, stmts: readonly RawStmt[], via: string[], out: TextFacts = emptyFacts(),
  variables: ReadonlySet<string> = NO_VARIABLES): TextFacts {
  for (const raw of stmts) new Collector(out, variables, withQueriesOf(raw.stmt)).statement(raw.stmt, via, () => sliceStatement(text, raw));
  return out;
}

/** Parses a nested text (a function body, a PL/pgSQL statement) and collects it, or says it cannot be read. */
export function collectNested(text: string, via: string[], out: TextFacts, what: string, variables: ReadonlySet<string> = NO_VARIABLES): void {
  if (via.length > MAX_DEPTH) {
    out.dynamic.push(`${what} nested too deeply to read${where(via)}`);
    return;
  }
  const parsed = parseSql(text);
  if (parsed.error !== undefined) out.dynamic.push(`${what} the gateway cannot parse (${parsed.error})${where(via)}`);
  else collectText(text, parsed.stmts, via, out, variables);
}

/** One raw statement's text: stmt_location and stmt_len count UTF-8 bytes. */
function sliceStatement(text: string, raw: RawStmt): string {
  const start = raw.stmt_location ?? 0;
  if (Buffer.byteLength(text) === text.length) return raw.stmt_len ? text.slice(start, start + raw.stmt_len) : text.slice(start);
  const bytes = Buffer.from(text);
  return bytes.subarray(start, raw.stmt_len ? start + raw.stmt_len : bytes.length).toString();
}

class Collector {
  /** The statements enclosing the node being visited: each collects the tables and functions of its subtree. */
  private readonly stack: StatementFacts[] = [];
  /** Per enclosing SELECT: the pg_settings row its WHERE fixes (see settingNameOf). */
  private readonly settingNames: (string | undefined)[] = [];

  /** `ctes`: the statement's WITH queries by name (a FROM/USING item naming one that reads the target is the target). */
  constructor(private readonly out: TextFacts, private readonly variables: ReadonlySet<string>, private readonly ctes: WithQueries) {}

  /** A statement node ({ DeleteStmt: {...} }), judged as if top level. `text`: its own text, when known. */
  statement(node: Node, via: string[], text: (() => string) | undefined): void {
    const type = Object.keys(node)[0];
    if (type === undefined) return;
    this.statementBody(type, node[type] as Node, via, text);
  }

  private statementBody(type: string, body: Node, via: string[], text: (() => string) | undefined): void {
    const facts: StatementFacts = {
      type, unbounded: false, functions: new Set(), tables: [], copyProgram: type === 'CopyStmt' && body.is_program === true,
      operations: operationsOf(type, body), via,
    };
    this.out.statements.push(facts);
    this.stack.push(facts);
    const inner = [...via, LABELS[type] ?? type];
    const skip = new Set<string>();
    switch (type) {
      case 'DeleteStmt':
        facts.unbounded = !restrictsRows(body.whereClause, body.relation as Node, body.usingClause as unknown[], this.variables, this.ctes);
        this.settingsUpdate(type, body, via);
        break;
      case 'UpdateStmt':
        facts.unbounded = !restrictsRows(body.whereClause, body.relation as Node, body.fromClause as unknown[], this.variables, this.ctes);
        this.settingsUpdate(type, body, via);
        break;
      case 'InsertStmt':
        this.settingsUpdate(type, body, via);
        break;
      case 'MergeStmt':
        facts.unbounded = this.mergeActions(body, inner);
        break;
      case 'SelectStmt':
        if (body.intoClause) this.out.statements.push({ ...facts, type: 'CreateTableAsStmt' });
        this.settingNames.push(settingFixedBy(body));
        skip.add('__pop_setting');
        break;
      case 'DropStmt':
        for (const obj of (body.objects as { List?: { items?: { String?: { sval?: string } }[] } }[] | undefined) ?? []) {
          const name = obj.List?.items?.map((i) => i.String?.sval).filter(Boolean).join('.');
          if (name) facts.tables.push(name);
        }
        break;
      case 'PrepareStmt': {
        const name = String(body.name ?? '');
        const mark = this.mark();
        this.visit(body.query, [...via, `PREPARE ${name}`]);
        this.out.steps.push({ kind: 'prepare', name, body: this.since(mark) });
        skip.add('query');
        break;
      }
      case 'ExecuteStmt':
        this.out.steps.push({ kind: 'execute', name: String(body.name ?? ''), via });
        break;
      case 'DeallocateStmt':
        this.out.steps.push({ kind: 'deallocate', name: body.isall === true ? undefined : String(body.name ?? '') });
        break;
      case 'DiscardStmt':
        if (body.target === 'DISCARD_ALL') this.out.steps.push({ kind: 'deallocate', name: undefined });
        break;
      case 'DoStmt':
        collectDo(body, text, via, this.out);
        break;
      case 'CreateFunctionStmt':
        collectFunction(body, text, via, this.out);
        break;
      case 'CreateTrigStmt':
      case 'CreateEventTrigStmt':
        this.call(body.funcname as unknown[], via, true);
        break;
      case 'CallStmt':
        if (body.funccall) this.funcCall(body.funccall as Node, via);
        skip.add('funccall');
        break;
      case 'VariableSetStmt':
        this.variableSet(body, via);
        break;
    }
    for (const [key, value] of Object.entries(body)) if (!skip.has(key)) this.visit(value, key === 'ctequery' ? [...inner, 'WITH'] : inner);
    this.stack.pop();
    if (skip.has('__pop_setting')) this.settingNames.pop();
  }

  /** MERGE: each WHEN action counts as its INSERT/UPDATE/DELETE, bounded by ON and by its own condition. */
  private mergeActions(body: Node, via: string[]): boolean {
    const target = body.relation as { relname?: string; schemaname?: string };
    const table = target.schemaname ? `${target.schemaname}.${target.relname}` : String(target.relname);
    let unbounded = false;
    for (const clause of (body.mergeWhenClauses as { MergeWhenClause?: Node }[] | undefined) ?? []) {
      const when = clause.MergeWhenClause;
      const type = { CMD_INSERT: 'InsertStmt', CMD_UPDATE: 'UpdateStmt', CMD_DELETE: 'DeleteStmt' }[when?.commandType as string];
      if (!when || !type) continue;
      // WHEN NOT MATCHED BY SOURCE acts on target rows the ON condition did not match: only its own condition bounds them.
      const on = when.matchKind === 'MERGE_WHEN_MATCHED' ? body.joinCondition : undefined;
      const conds = [on, when.condition].filter((c) => c !== undefined);
      const predicate = conds.length === 2 ? { BoolExpr: { boolop: 'AND_EXPR', args: conds } } : conds[0];
      const actionUnbounded = type !== 'InsertStmt' && !restrictsRows(predicate, target, [body.sourceRelation], this.variables, this.ctes);
      unbounded ||= actionUnbounded;
      this.out.statements.push({ type, unbounded: actionUnbounded, functions: new Set(), tables: [table], copyProgram: false, operations: new Set(), via });
    }
    return unbounded;
  }

  /**
   * An UPDATE of pg_settings runs set_config for every row it matches (the view's rule): judged as
   * set_config of the one setting its WHERE fixes (`name = '<constant>'`), else of any setting. Other
   * writes to pg_settings fail on the server; refused all the same when they could name one of the two.
   */
  private settingsUpdate(type: string, body: Node, via: string[]): void {
    const rel = body.relation as { relname?: string; schemaname?: string } | undefined;
    if (rel?.relname !== 'pg_settings' || (rel.schemaname !== undefined && rel.schemaname !== 'pg_catalog')) return;
    const setting = type === 'UpdateStmt' ? settingFixedBy({ fromClause: [{ RangeVar: rel }], whereClause: body.whereClause })?.toLowerCase() : undefined;
    const what = `${type === 'UpdateStmt' ? 'UPDATE' : type === 'InsertStmt' ? 'INSERT INTO' : 'DELETE FROM'} pg_settings${setting ? ` (${setting})` : ''}`;
    if (setting === undefined || setting === 'standard_conforming_strings') {
      this.out.lexing.push({ rule: 'standard-conforming-strings', reason: `${what} could change how the server reads string literals${where(via)}` });
    }
    if (setting === undefined || setting === 'client_encoding') {
      this.out.lexing.push({ rule: 'client-encoding', reason: `${what} could change how the server decodes the client's bytes${where(via)}` });
    }
  }

  private variableSet(body: Node, via: string[]): void {
    const name = String(body.name ?? '').toLowerCase();
    const how = body.kind === 'VAR_RESET' ? 'RESET' : 'SET';
    if (name === 'client_encoding') {
      this.out.lexing.push({ rule: 'client-encoding', reason: `${how} client_encoding would change how the server decodes the client's bytes${where(via)}` });
    } else if (name === 'standard_conforming_strings') {
      const args = (body.args as Node[] | undefined) ?? [];
      const value = constantString(args[0])?.toLowerCase();
      const on = body.kind === 'VAR_SET_VALUE' && args.length === 1 && ['on', 'true', 'yes', '1'].includes(value ?? '');
      if (!on) this.out.lexing.push({ rule: 'standard-conforming-strings', reason: `${how} standard_conforming_strings would change how the server reads string literals${where(via)}` });
    }
  }

  private mark(): Record<keyof Omit<TextFacts, 'created' | 'operators'>, number> {
    const o = this.out;
    return { statements: o.statements.length, dynamic: o.dynamic.length, calls: o.calls.length, lexing: o.lexing.length, steps: o.steps.length };
  }

  /** What was collected since a mark: a PREPARE's body. */
  private since(m: ReturnType<Collector['mark']>): TextFacts {
    const o = this.out;
    return { statements: o.statements.slice(m.statements), dynamic: o.dynamic.slice(m.dynamic), calls: o.calls.slice(m.calls),
      lexing: o.lexing.slice(m.lexing), steps: o.steps.slice(m.steps), created: new Set(), operators: o.operators };
  }

  /** Walks any node: nested statements become statements of their own; calls and relations are noted. */
  private visit(node: unknown, via: string[]): void {
    if (Array.isArray(node)) {
      for (const item of node) this.visit(item, via);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const obj = node as Node;
    if (typeof obj.relname === 'string') {
      const table = typeof obj.schemaname === 'string' ? `${obj.schemaname}.${obj.relname}` : obj.relname;
      for (const s of this.stack) s.tables.push(table);
    }
    for (const [key, value] of Object.entries(obj)) {
      if (STATEMENT_TYPES.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
        this.statementBody(key, value as Node, via, undefined);
        continue;
      }
      if (key === 'FuncCall') this.funcCall(value as Node, via);
      else if (key === 'A_Expr') this.operator(value as Node);
      this.visit(value, via);
    }
  }

  private funcCall(call: Node, via: string[]): void {
    const parts = this.call(call.funcname as unknown[], via, false);
    if (!parts) return;
    const [schema, name] = parts;
    const builtinSchema = schema === undefined || schema === 'pg_catalog';
    const lower = name.toLowerCase();
    if (builtinSchema && RUNS_TEXT_AS_SQL.has(lower)) this.out.dynamic.push(`${name}() runs SQL given to it as text${where(via)}`);
    if (builtinSchema && lower === 'set_config') {
      const first = (call.args as Node[] | undefined)?.[0];
      const setting = (constantString(first) ?? this.settingNameOf(first))?.toLowerCase();
      if (setting === undefined || setting === 'client_encoding') {
        this.out.lexing.push({ rule: 'client-encoding',
          reason: `set_config(${setting === undefined ? 'a computed name' : "'client_encoding'"}, …) could change how the server decodes the client's bytes${where(via)}` });
      } else if (setting === 'standard_conforming_strings') {
        this.out.lexing.push({ rule: 'standard-conforming-strings', reason: `set_config('standard_conforming_strings', …) would change how the server reads string literals${where(via)}` });
      }
    }
  }

  /**
   * `set_config(name, …) FROM pg_settings WHERE name = '<setting>'` (pg_dump's
   * form): the column `name` of that select can only hold the one setting its
   * WHERE fixes, so the call is judged as set_config('<setting>', …).
   */
  private settingNameOf(arg: Node | undefined): string | undefined {
    const fields = (arg as { ColumnRef?: { fields?: { String?: { sval?: string } }[] } } | undefined)?.ColumnRef?.fields;
    if (!fields || fields.length !== 1 || fields[0]?.String?.sval !== 'name') return undefined;
    return this.settingNames.at(-1);
  }

  private operator(expr: Node): void {
    if (expr.kind !== 'AEXPR_OP' && expr.kind !== 'AEXPR_OP_ANY' && expr.kind !== 'AEXPR_OP_ALL') return;
    const name = ((expr.name as { String?: { sval?: string } }[] | undefined) ?? []).at(-1)?.String?.sval;
    if (name) this.out.operators.add(name);
  }

  /** Notes a call of a function name ([schema, name]); returns its parts. */
  private call(funcname: unknown[] | undefined, via: string[], trigger: boolean): [string | undefined, string] | undefined {
    const parts = (funcname ?? []).map((p) => (p as { String?: { sval?: string } }).String?.sval ?? '');
    const name = parts.at(-1);
    if (!name) return undefined;
    const schema = parts.length > 1 ? parts.at(-2) : undefined;
    for (const s of this.stack) s.functions.add(name.toLowerCase());
    if (!this.out.calls.some((c) => c.name === name && c.schema === schema && c.trigger === trigger)) this.out.calls.push({ name, schema, via, trigger });
    return [schema, name];
  }
}

/** A constant string (or a cast of one, or a boolean/number constant as text); undefined when computed. */
export function constantString(node: unknown): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const n = node as { A_Const?: Node; TypeCast?: { arg?: unknown } };
  if (n.TypeCast) return constantString(n.TypeCast.arg);
  const c = n.A_Const;
  if (!c) return undefined;
  if (c.sval) return (c.sval as { sval?: string }).sval ?? '';
  if (c.boolval) return (c.boolval as { boolval?: boolean }).boolval ? 'true' : 'false';
  if (c.ival) return String((c.ival as { ival?: number }).ival ?? 0);
  return undefined;
}

/**
 * The setting a SELECT's rows are restricted to when it reads pg_settings alone
 * with `WHERE name = '<constant>'` (as an AND-conjunct); else undefined.
 */
function settingFixedBy(select: Node): string | undefined {
  const from = select.fromClause as { RangeVar?: { relname?: string; schemaname?: string } }[] | undefined;
  const rel = from?.length === 1 ? from[0]?.RangeVar : undefined;
  if (!rel || rel.relname !== 'pg_settings' || (rel.schemaname !== undefined && rel.schemaname !== 'pg_catalog')) return undefined;
  const conjuncts: unknown[] = [];
  const flatten = (n: unknown): void => {
    const b = (n as { BoolExpr?: { boolop?: string; args?: unknown[] } } | undefined)?.BoolExpr;
    if (b?.boolop === 'AND_EXPR') b.args?.forEach(flatten);
    else conjuncts.push(n);
  };
  flatten(select.whereClause);
  for (const c of conjuncts) {
    const e = (c as undefined | { A_Expr?: { kind?: string; name?: { String?: { sval?: string } }[]; lexpr?: unknown; rexpr?: unknown } })?.A_Expr;
    if (!e || e.kind !== 'AEXPR_OP' || e.name?.at(-1)?.String?.sval !== '=') continue;
    for (const [col, val] of [[e.lexpr, e.rexpr], [e.rexpr, e.lexpr]] as const) {
      const f = (col as { ColumnRef?: { fields?: { String?: { sval?: string } }[] } }).ColumnRef?.fields;
      const value = constantString(val);
      if (f?.length === 1 && f[0]?.String?.sval === 'name' && value !== undefined) return value;
    }
  }
  return undefined;
}
