import { parsePlPgSQLSync } from 'libpg-query';
import { parseSql } from '../sql-policy.js';
import { collectNested, collectText, constantString } from './collect.js';
import { where, type TextFacts } from './facts.js';

type Node = Record<string, unknown>;

/**
 * Code that runs later or elsewhere, read where it is written: DO blocks and
 * the bodies of CREATE FUNCTION / PROCEDURE. SQL bodies (a string or BEGIN
 * ATOMIC) and PL/pgSQL's static statements and expressions are judged as if top
 * level; `EXECUTE` of a computed string is dynamic (the gateway cannot see it),
 * `EXECUTE` of a constant string is read like any statement. A body in another
 * language, or one the parsers cannot read, is dynamic too.
 */
export function collectDo(body: Node, text: (() => string) | undefined, via: string[], out: TextFacts): void {
  const options = defElems(body.args);
  const language = String(options.language ?? 'plpgsql').toLowerCase();
  const inner = [...via, 'DO block'];
  if (language !== 'plpgsql') out.dynamic.push(`a DO block in LANGUAGE ${language}${where(via)}`);
  else plpgsql(text, inner, out, 'a DO block');
}

export function collectFunction(body: Node, text: (() => string) | undefined, via: string[], out: TextFacts): void {
  const parts = ((body.funcname as { String?: { sval?: string } }[] | undefined) ?? []).map((p) => p.String?.sval ?? '');
  const name = parts.at(-1) ?? '';
  out.created.add(name);
  const kind = body.is_procedure === true ? 'procedure' : 'function';
  const inner = [...via, `${kind} ${name}`];
  const options = defElems(body.options);
  if (body.sql_body !== undefined) {
    // BEGIN ATOMIC: the statements are already parsed, as a list of lists.
    const lists = ((body.sql_body as { List?: { items?: unknown[] } }).List?.items ?? []) as { List?: { items?: Node[] } }[];
    // Its statements have no text of their own; DO and CREATE FUNCTION cannot appear there.
    collectText('', lists.flatMap((l) => l.List?.items ?? []).map((stmt) => ({ stmt })), inner, out);
    return;
  }
  const language = String(options.language ?? 'sql').toLowerCase();
  const as = ((options.as as { List?: { items?: { String?: { sval?: string } }[] } } | undefined)?.List?.items ?? []).map((i) => i.String?.sval ?? '');
  if (language === 'sql') {
    const params = ((body.parameters as { FunctionParameter?: { name?: string } }[] | undefined) ?? []).map((p) => p.FunctionParameter?.name);
    const variables = new Set([name, ...params.filter((p): p is string => !!p)]);
    if (as.length === 1) collectNested(as[0]!, inner, out, `the body of ${kind} ${name}`, variables);
    else out.dynamic.push(`${kind} ${name} has no SQL body the gateway can read${where(via)}`);
  } else if (language === 'plpgsql') {
    plpgsql(text, inner, out, `${kind} ${name}`, name);
  } else if (language !== 'internal') {
    out.dynamic.push(`${kind} ${name} in LANGUAGE ${language}${where(via)}`);
  }
}

function defElems(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of (list as { DefElem?: { defname?: string; arg?: Node } }[] | undefined) ?? []) {
    const d = item.DefElem;
    if (!d?.defname) continue;
    const arg = d.arg as { String?: { sval?: string } } | undefined;
    out[d.defname] = arg?.String ? arg.String.sval : d.arg;
  }
  return out;
}

/** PL/pgSQL: every expression and static statement, read as SQL; dynamic EXECUTEs noted. */
function plpgsql(text: (() => string) | undefined, via: string[], out: TextFacts, what: string, fn?: string): void {
  let tree: unknown;
  try {
    if (!text) throw new Error('no statement text');
    tree = parsePlPgSQLSync(text());
  } catch (err) {
    out.dynamic.push(`${what}: PL/pgSQL the gateway cannot read (${(err as Error).message})${where(via.slice(0, -1))}`);
    return;
  }
  const variables = new Set<string>(fn ? [fn] : []);
  JSON.stringify(tree, (key, value: unknown) => {
    if (key === 'refname' && typeof value === 'string') variables.add(value);
    return value;
  });
  walkPlpgsql(tree, via, out, variables);
}

const DYNAMIC_STATEMENTS: Record<string, string> = {
  PLpgSQL_stmt_dynexecute: 'query', PLpgSQL_stmt_dynfors: 'query', PLpgSQL_stmt_open: 'dynquery', PLpgSQL_stmt_return_query: 'dynquery',
};

function walkPlpgsql(node: unknown, via: string[], out: TextFacts, variables: ReadonlySet<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) walkPlpgsql(item, via, out, variables);
    return;
  }
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Node)) {
    if (key === 'PLpgSQL_expr') {
      expression(value as { query?: string; parseMode?: number }, via, out, variables);
      continue;
    }
    const field = DYNAMIC_STATEMENTS[key];
    const dynamic = field ? ((value as Node)[field] as { PLpgSQL_expr?: { query?: string } } | undefined) : undefined;
    if (dynamic?.PLpgSQL_expr) dynamicExecute(dynamic.PLpgSQL_expr.query ?? '', via, out);
    walkPlpgsql(value, via, out, variables);
  }
}

/** A PL/pgSQL expression as the SQL PostgreSQL runs for it (parse modes of RawParseMode). */
function expression(expr: { query?: string; parseMode?: number }, via: string[], out: TextFacts, variables: ReadonlySet<string>): void {
  const query = expr.query ?? '';
  const mode = expr.parseMode ?? 0;
  if (mode === 0) {
    collectNested(query, via, out, 'a PL/pgSQL statement', variables);
    return;
  }
  if (mode === 2) {
    collectNested(`SELECT ${query}`, via, out, 'a PL/pgSQL expression', variables);
    return;
  }
  // Assignments (target := expression): the expression after the first := or = that leaves valid SQL.
  for (const m of query.matchAll(/:=|=/g)) {
    const candidate = `SELECT ${query.slice(m.index! + m[0].length)}`;
    if (parseSql(candidate).error === undefined) {
      collectNested(candidate, via, out, 'a PL/pgSQL assignment', variables);
      return;
    }
  }
  out.dynamic.push(`a PL/pgSQL assignment the gateway cannot read (${query})${where(via)}`);
}

/** EXECUTE <expr>: a constant string is read like any statement; a computed one is dynamic. */
function dynamicExecute(query: string, via: string[], out: TextFacts): void {
  const constant = constantText(query);
  if (constant !== undefined) collectNested(constant, [...via, 'EXECUTE'], out, 'an EXECUTE string');
  else out.dynamic.push(`EXECUTE of a computed string${where(via)}`);
}

function constantText(expression: string): string | undefined {
  const parsed = parseSql(`SELECT ${expression}`);
  const select = parsed.stmts?.length === 1 ? (parsed.stmts[0]!.stmt.SelectStmt as Node | undefined) : undefined;
  const targets = select?.targetList as { ResTarget?: { val?: unknown } }[] | undefined;
  if (!select || targets?.length !== 1 || Object.keys(select).some((k) => !['targetList', 'limitOption', 'op'].includes(k))) return undefined;
  return constantString(targets[0]!.ResTarget?.val);
}
