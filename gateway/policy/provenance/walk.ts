import type { CatalogSnapshot } from '../catalog.js';
import type { Protection, ProtectionRules } from './protection.js';
import { displayName, resolveRelation, type RangeVarNode, type Resolution } from './resolve.js';
import { constantExpression, patternExpression } from './source-patterns.js';
import { projection, type Edit, type SqlText } from './splice.js';
import { CREATION_PATHS, FROM_ITEM_KEYS, HARMLESS_PATHS, refusedStatement, WRITE_STATEMENTS } from './statements.js';
import { protectedRead } from './writes.js';

type Node = Record<string, unknown>;

/** A relation a statement creates: references to it are fine even before the catalog sees it. */
export interface CreatedName {
  schema: string | undefined;
  name: string;
}

/** What one text needs: its rewrites, or why it is refused, or names the catalog does not know. */
export interface Findings {
  edits: Edit[];
  refusal: { rule: string; reason: string } | undefined;
  unknownRelations: { schema: string | undefined; name: string }[];
  unknownFunctions: string[];
  creates: CreatedName[];
}

/**
 * Walks every statement of a text, wherever it is nested (subqueries, CTEs, set
 * operations, joins, LATERAL, cursors, PREPARE, EXPLAIN, CREATE … AS, COPY
 * (query), rule actions), and plans the masked projection of each reference to
 * a protected relation.
 */
export class Walker {
  readonly found: Findings = { edits: [], refusal: undefined, unknownRelations: [], unknownFunctions: [], creates: [] };
  private readonly protection: Protection;

  constructor(private readonly snapshot: CatalogSnapshot, private readonly rules: ProtectionRules, private readonly text: SqlText) {
    this.protection = rules.protection(snapshot);
  }

  private refuse(rule: string | undefined, reason: string): void {
    this.found.refusal ??= { rule: rule ?? 'masking-provenance', reason: rule ? reason : `${reason} (column masking rules in scope: ${this.rules.ruleNames})` };
  }

  walk(value: unknown, path: string, scope: ReadonlySet<string>): void {
    if (this.found.refusal || !value || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const v of value) this.walk(v, path, scope);
      return;
    }
    const node = value as Node;
    const keys = Object.keys(node);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]!)) {
      this.typed(keys[0]!, node[keys[0]!] as Node, path, scope);
    } else if (typeof node.relname === 'string') {
      this.rangeVar(node as unknown as RangeVarNode, path, scope);
    } else {
      this.fields(node, path, scope, new Set());
    }
  }

  /** A struct's fields; a WITH clause scopes its CTE names exactly as PostgreSQL does. */
  private fields(body: Node, path: string, scope: ReadonlySet<string>, skip: ReadonlySet<string>): void {
    let inner = scope;
    const withClause = body.withClause as { ctes?: Node[]; recursive?: boolean } | undefined;
    if (withClause?.ctes) {
      const names = withClause.ctes.map((c) => (c.CommonTableExpr as { ctename: string }).ctename);
      withClause.ctes.forEach((c, i) => {
        const visible = new Set([...scope, ...(withClause.recursive ? names : names.slice(0, i))]);
        this.walk((c.CommonTableExpr as Node).ctequery, 'CommonTableExpr.ctequery', visible);
      });
      inner = new Set([...scope, ...names]);
    }
    for (const [k, v] of Object.entries(body)) {
      if (k !== 'withClause' && !skip.has(k)) this.walk(v, `${path}.${k}`, inner);
    }
  }

  private typed(type: string, body: Node, path: string, scope: ReadonlySet<string>): void {
    if (type === 'RangeVar') return this.rangeVar(body as unknown as RangeVarNode, path, scope);
    const refused = refusedStatement(type, body);
    if (refused) return this.refuse(undefined, refused);
    const skip = new Set<string>();
    switch (type) {
      case 'FuncCall':
        this.function(body.funcname as Node[], (body.args as unknown[] | undefined)?.length ?? 0);
        break;
      case 'A_Expr':
        this.operator(body.name as Node[] | undefined);
        break;
      case 'ColumnRef': {
        // `x.f` is also functional notation for f(x): a call without a FuncCall node.
        const fields = (body.fields as Node[] | undefined) ?? [];
        const last = (fields.at(-1)?.String as { sval?: string } | undefined)?.sval;
        if (fields.length > 1 && last) this.attributeCall(last);
        break;
      }
      case 'CreateTrigStmt':
        this.function(body.funcname as Node[], -1, 'trigger function');
        break;
      case 'CreateFunctionStmt':
        this.createdFunction(body.funcname as Node[]);
        break;
      case 'RenameStmt':
      case 'AlterObjectSchemaStmt': {
        const kind = (body.renameType ?? body.objectType) as string;
        if (/FUNCTION|PROCEDURE|ROUTINE|AGGREGATE/.test(kind) && this.rules.hasTrusted) {
          return this.refuse(undefined, 'renaming or moving a function could give it a trusted name');
        }
        if (type === 'RenameStmt' && kind === 'OBJECT_TABLE' && body.relation && typeof body.newname === 'string') {
          const rv = body.relation as RangeVarNode;
          this.found.creates.push({ schema: rv.schemaname, name: body.newname });
        }
        break;
      }
      case 'CopyStmt':
        if (body.relation && body.is_from !== true) this.copyOut(body);
        else if (body.relation) this.writeTarget(type, body, scope); // COPY FROM writes rows, reads none
        skip.add('relation');
        break;
      default:
        if (WRITE_STATEMENTS.has(type)) {
          this.writeTarget(type, body, scope);
          skip.add('relation');
        }
    }
    if (!this.found.refusal) this.fields(body, type, scope, skip);
  }

  private resolve(rv: RangeVarNode): Resolution {
    const res = resolveRelation(rv, this.snapshot, this.protection, this.rules);
    if (res.kind === 'unknown') this.found.unknownRelations.push({ schema: rv.schemaname, name: rv.relname });
    return res;
  }

  private rangeVar(rv: RangeVarNode, path: string, scope: ReadonlySet<string>): void {
    if (CREATION_PATHS.has(path)) {
      this.found.creates.push({ schema: rv.schemaname, name: rv.relname });
      return;
    }
    if (HARMLESS_PATHS.has(path)) return;
    const key = path.slice(path.lastIndexOf('.') + 1);
    if (!rv.schemaname && scope.has(rv.relname) && FROM_ITEM_KEYS.has(key)) return; // a CTE, not a table
    const res = this.resolve(rv);
    if (res.kind === 'refused') return this.refuse(res.rule, res.reason);
    if (res.kind !== 'protected') return;
    if (!FROM_ITEM_KEYS.has(key) || rv.location === undefined) {
      const rule = res.rules.values().next().value;
      return this.refuse(rule, `${displayName(rv)} has protected columns (${[...res.rules.keys()].join(', ')}); ${describePath(path)} would copy or expose them`);
    }
    this.found.edits.push(this.maskedFromItem(rv, res));
  }

  /** `customers c` → `(SELECT id, '[masked:email]'::text AS email, … FROM customers) c`; the alias defaults to the relation's name. */
  private maskedFromItem(rv: RangeVarNode, res: Extract<Resolution, { kind: 'protected' }>): Edit {
    const t = this.text;
    const first = t.tokenAt(rv.location!);
    const last = t.nameEnd(first);
    let start = t.token(first)!.start;
    let end = t.token(last)!.end;
    let only = '';
    if (t.isOnly(first - 1)) {
      only = 'ONLY ';
      start = t.token(first - 1)!.start;
    } else if (t.token(first - 1)?.text === '(' && t.isOnly(first - 2)) {
      only = 'ONLY ';
      start = t.token(first - 2)!.start;
      end = t.token(t.closing(first - 1))!.end;
    } else if (t.token(last + 1)?.text === '*') {
      end = t.token(last + 1)!.end;
    }
    const name = t.slice(t.token(first)!.start, t.token(last)!.end);
    const alias = rv.alias ? '' : ` AS ${quote(rv.relname)}`;
    return { start, end, text: `(SELECT ${projection(res.columns, this.masks(res))} FROM ${only}${name})${alias}` };
  }

  /** Each protected column's SQL: a column rule's constant, or the pattern rules applied to the column itself. */
  private masks(res: Extract<Resolution, { kind: 'protected' }>): Map<string, string> {
    const byRule = new Map(this.rules.rules.map((r) => [r.name, r.replacement]));
    return new Map([...res.rules].map(([col, rule]) => {
      const patterns = res.patterns.get(col);
      if (!patterns) return [col, constantExpression(byRule.get(rule) ?? `[masked:${rule}]`)];
      return [col, patternExpression(col, res.columns.find((c) => c.name === col)?.type, patterns)];
    }));
  }

  /** `COPY customers (cols) TO …` → `COPY (SELECT <cols with masks> FROM ONLY customers) TO …`, options kept. */
  private copyOut(body: Node): void {
    const rv = body.relation as RangeVarNode;
    const res = this.resolve(rv);
    if (res.kind === 'refused') return this.refuse(res.rule, res.reason);
    if (res.kind !== 'protected' || rv.location === undefined) return;
    const t = this.text;
    const first = t.tokenAt(rv.location);
    const last = t.nameEnd(first);
    const attlist = (body.attlist as Node[] | undefined)?.map((a) => ({ name: (a.String as { sval: string }).sval }));
    const end = attlist ? t.token(t.closing(last + 1))!.end : t.token(last)!.end;
    const name = t.slice(t.token(first)!.start, t.token(last)!.end);
    const only = res.relation.kind === 'r' ? 'ONLY ' : ''; // COPY of a table leaves its children out
    this.found.edits.push({ start: t.token(first)!.start, end, text: `(SELECT ${projection(attlist ?? res.columns, this.masks(res))} FROM ${only}${name})` });
  }

  private writeTarget(type: string, body: Node, scope: ReadonlySet<string>): void {
    void scope;
    const rv = body.relation as RangeVarNode | undefined;
    if (!rv) return;
    const res = this.resolve(rv);
    if (res.kind === 'refused') return this.refuse(res.rule, res.reason);
    if (res.kind !== 'protected') return;
    const read = protectedRead(type, body, rv, new Set(res.rules.keys()));
    if (read) {
      const col = /protected column (?:\S+\.)?(\S+)/.exec(read)?.[1];
      const rule = (col && res.rules.get(col)) ?? res.rules.values().next().value;
      this.refuse(rule, `${type.replace(/Stmt$/, '').toUpperCase()} on ${displayName(rv)} reads ${read}: a predicate or RETURNING on a protected column leaks it`);
    }
  }

  private function(funcname: Node[] | undefined, args: number, what = 'function'): void {
    const parts = (funcname ?? []).map((p) => (p.String as { sval?: string } | undefined)?.sval ?? '');
    const name = parts.at(-1);
    if (!name) return;
    const schema = parts.length > 1 ? parts.at(-2) : undefined;
    const candidates = (this.snapshot.functionsByName.get(name) ?? []).filter((f) => !schema || f.schema === schema);
    if (candidates.length === 0) {
      this.found.unknownFunctions.push(schema ? `${schema}.${name}` : name);
      return;
    }
    for (const fn of candidates) {
      const problem = this.rules.functionProblem(fn, args);
      if (problem) return this.refuse(undefined, `the ${what} ${problem}; what it reads cannot be masked`);
    }
  }

  private attributeCall(name: string): void {
    for (const fn of this.snapshot.functionsByName.get(name) ?? []) {
      const problem = this.rules.functionProblem(fn, 1);
      if (problem) return this.refuse(undefined, `.${name} may call ${problem}; what it reads cannot be masked`);
    }
  }

  private operator(name: Node[] | undefined): void {
    const parts = (name ?? []).map((p) => (p.String as { sval?: string } | undefined)?.sval ?? '');
    const op = parts.at(-1);
    if (!op) return;
    const schema = parts.length > 1 ? parts.at(-2) : undefined;
    for (const o of this.snapshot.operatorsByName.get(op) ?? []) {
      if (schema && o.schema !== schema) continue;
      if (!this.rules.isTrusted(o.functionSchema, o.functionName)) {
        return this.refuse(undefined, `operator ${o.schema}.${op} calls the user-defined function ${o.functionSchema}.${o.functionName}, not listed in sql.trustedFunctions`);
      }
    }
  }

  private createdFunction(funcname: Node[] | undefined): void {
    const parts = (funcname ?? []).map((p) => (p.String as { sval?: string } | undefined)?.sval ?? '');
    const name = parts.at(-1) ?? '';
    const schema = parts.length > 1 ? parts.at(-2)! : undefined;
    if (this.rules.hasTrusted && (schema ? this.rules.isTrusted(schema, name) : this.rules.trustsName(name))) {
      this.refuse(undefined, `creating ${parts.join('.')} would give code a trusted name (sql.trustedFunctions)`);
    }
  }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function describePath(path: string): string {
  const [type] = path.split('.');
  const what: Record<string, string> = {
    AlterTableStmt: 'ALTER TABLE', CreateTrigStmt: 'CREATE TRIGGER', RuleStmt: 'CREATE RULE', CreatePolicyStmt: 'CREATE POLICY',
    AlterPolicyStmt: 'ALTER POLICY', RenameStmt: 'RENAME', AlterObjectSchemaStmt: 'SET SCHEMA', IndexStmt: 'CREATE INDEX',
    CreateStatsStmt: 'CREATE STATISTICS', Constraint: 'a foreign key to it', CreateStmt: 'a partition or child of it',
    RangeTableSample: 'TABLESAMPLE',
  };
  return what[type!] ?? `this use of it (${path})`;
}
