/**
 * The shape of a SQL text: the text with its plain numeric literals cut out.
 * pgbench -S, an ORM or a script sends the same statement with a new number
 * every time; judging it (parse, guardrails, masking by provenance) costs tens
 * of microseconds each time. Texts of one shape can share one verdict when the
 * verdict cannot depend on the numbers — which `verdictIndependentOfNumbers`
 * decides once, on the real parser's tree of the first text of the shape.
 *
 * Why two texts of one shape parse alike: they are the same bytes except
 * inside holes, and each hole holds a plain decimal (`123`, `4.5`) followed by
 * a character that cannot continue a number. PostgreSQL's lexer reads left to
 * right, so it is in the same state at every hole's start in both texts, reads
 * one numeric token there in both, and continues in the same state. The trees
 * differ only in the values of those constants.
 *
 * The scanner gives up (no shape: the text is judged on its own) on anything
 * whose lexing depends on more than the text: a backslash (escape strings),
 * `$` other than a parameter (dollar quoting), non-ASCII characters (byte and
 * character offsets would differ), control characters, and unterminated
 * strings, identifiers or comments.
 */
export interface SqlShape {
  /** The text with each hole replaced by \u0001 (a character no shaped text contains). */
  key: string;
  /** Character (= byte, the text is ASCII) offsets of the numeric literals cut out, in order. */
  holes: { start: number; end: number }[];
}

const PLAIN_NUMBER = /^\d+(\.\d+)?$/;
/** Non-ASCII, control characters (but tab, newline, return) and the backslash, anywhere in the text. */
const UNSURE = /[^\t\n\r\x20-\x7e]|\\/;
const HOLE = '\u0001';

const isDigit = (c: number) => c >= 48 && c <= 57;
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36;

/** The shape of an ASCII text, or undefined when the scanner cannot be sure how PostgreSQL lexes it. */
export function shapeOf(sql: string): SqlShape | undefined {
  if (UNSURE.test(sql)) return undefined;
  const holes: { start: number; end: number }[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 39 || c === 34) { // 'string' or "identifier", the quote doubled inside
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf(c === 39 ? "'" : '"', j);
        if (q < 0) return undefined;
        if (sql.charCodeAt(q + 1) === c) j = q + 2;
        else {
          i = q + 1;
          break;
        }
      }
      continue;
    }
    if (c === 45 && sql.charCodeAt(i + 1) === 45) { // -- comment
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) { // /* nested comments */
      let depth = 0;
      let j = i;
      do {
        const open = sql.indexOf('/*', j);
        const close = sql.indexOf('*/', j);
        if (close < 0) return undefined;
        if (open >= 0 && open < close) {
          depth++;
          j = open + 2;
        } else {
          depth--;
          j = close + 2;
        }
      } while (depth > 0);
      i = j;
      continue;
    }
    if (c === 36) { // $n parameter; anything else may open a dollar-quoted string
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      if (j === i + 1 || (j < n && isWordChar(sql.charCodeAt(j)))) return undefined;
      i = j;
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n && (isWordChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++;
      if (!PLAIN_NUMBER.test(sql.slice(i, j))) return undefined; // 1e5, 0x1F, 1_000, .5, 1..2: not a plain decimal
      holes.push({ start: i, end: j });
      i = j;
      continue;
    }
    if (isWordChar(c)) { // a keyword or identifier (digits and $ inside it are part of it)
      let j = i + 1;
      while (j < n && isWordChar(sql.charCodeAt(j))) j++;
      i = j;
      continue;
    }
    i++;
  }
  if (holes.length === 0) return { key: sql, holes };
  let key = '';
  let at = 0;
  for (const h of holes) {
    key += sql.slice(at, h.start) + HOLE;
    at = h.end;
  }
  return { key: key + sql.slice(at), holes };
}

type Node = Record<string, unknown>;

/**
 * True when a verdict on this tree holds for every text of its shape: each
 * numeric constant of the tree sits where its value cannot change what the
 * gateway decides — an operand of an operator whose other operand is a column
 * (`aid = 5`, `abalance + -3`), an item of `column IN (…)`, a value of INSERT …
 * VALUES or of UPDATE … SET — and the constants are exactly the shape's holes
 * (a negative constant starts at its minus sign). Anywhere else (ORDER BY 1,
 * LIMIT, subscripts, type modifiers, `1 = 1`, function arguments) the value may
 * matter, and the text is judged on its own every time.
 */
export function verdictIndependentOfNumbers(sql: string, shape: SqlShape, stmts: readonly object[]): boolean {
  const eligible = new Set<Node>();
  const numeric: Node[] = [];
  const isNumber = (v: unknown): v is { A_Const: Node } => {
    const c = (v as { A_Const?: Node } | undefined)?.A_Const;
    return !!c && ('ival' in c || 'fval' in c);
  };
  const isColumn = (v: unknown) => !!v && typeof v === 'object' && 'ColumnRef' in v;
  const mark = (v: unknown) => {
    if (isNumber(v)) eligible.add(v.A_Const);
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const obj = node as Node;
    const expr = obj.A_Expr as Node | undefined;
    if (expr) {
      if (expr.kind === 'AEXPR_OP') {
        if (isColumn(expr.lexpr)) mark(expr.rexpr);
        if (isColumn(expr.rexpr)) mark(expr.lexpr);
      } else if (expr.kind === 'AEXPR_IN' && isColumn(expr.lexpr)) {
        for (const item of ((expr.rexpr as { List?: { items?: unknown[] } } | undefined)?.List?.items ?? [])) mark(item);
      }
    }
    const insert = obj.InsertStmt as { selectStmt?: { SelectStmt?: { valuesLists?: { List?: { items?: unknown[] } }[] } } } | undefined;
    for (const row of insert?.selectStmt?.SelectStmt?.valuesLists ?? []) for (const item of row.List?.items ?? []) mark(item);
    const update = obj.UpdateStmt as { targetList?: { ResTarget?: { val?: unknown } }[] } | undefined;
    for (const t of update?.targetList ?? []) mark(t.ResTarget?.val);
    if (isNumber(obj)) numeric.push(obj.A_Const);
    for (const value of Object.values(obj)) if (value && typeof value === 'object') visit(value);
  };
  visit(stmts);
  if (numeric.length !== shape.holes.length) return false;
  const starts = new Set(shape.holes.map((h) => h.start));
  for (const c of numeric) {
    if (!eligible.has(c)) return false;
    let at = typeof c.location === 'number' ? c.location : -1;
    if (sql.charCodeAt(at) === 45) { // -3, - 3: the constant starts at its minus sign
      at++;
      while (sql.charCodeAt(at) === 32 || sql.charCodeAt(at) === 9 || sql.charCodeAt(at) === 10 || sql.charCodeAt(at) === 13) at++;
    }
    if (!starts.delete(at)) return false;
  }
  return starts.size === 0;
}

/** A text with holes: the parts between the holes (one more than holes), filled with another text's numbers. */
export class HoledText {
  private constructor(private readonly parts: readonly string[]) {}

  /**
   * The holes of `shape` carried into `derived`, which is `sql` with `edits` applied
   * (byte ranges of `sql`, the rewrite of masking by provenance). Undefined when an
   * edit touches a hole: the rewrite then depends on the number.
   */
  static of(sql: string, shape: SqlShape, edits: readonly { start: number; end: number; text: string }[]): HoledText | undefined {
    const sorted = [...edits].sort((a, b) => a.start - b.start);
    const parts: string[] = [];
    let current = '';
    let at = 0;
    let e = 0;
    for (const h of shape.holes) {
      for (; e < sorted.length && sorted[e]!.start < h.end; e++) {
        const edit = sorted[e]!;
        if (edit.end > h.start || edit.start < at) return undefined;
        current += sql.slice(at, edit.start) + edit.text;
        at = edit.end;
      }
      current += sql.slice(at, h.start);
      parts.push(current);
      current = '';
      at = h.end;
    }
    for (; e < sorted.length; e++) {
      const edit = sorted[e]!;
      if (edit.start < at) return undefined;
      current += sql.slice(at, edit.start) + edit.text;
      at = edit.end;
    }
    parts.push(current + sql.slice(at));
    return new HoledText(parts);
  }

  /** The text with the numbers of `sql` (whose shape is `shape`) in its holes. */
  fill(sql: string, shape: SqlShape): string {
    let out = this.parts[0]!;
    for (let i = 0; i < shape.holes.length; i++) {
      const h = shape.holes[i]!;
      out += sql.slice(h.start, h.end) + this.parts[i + 1]!;
    }
    return out;
  }
}
