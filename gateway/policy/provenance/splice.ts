import { scanSync } from 'libpg-query';
import type { CatalogColumn } from '../catalog.js';

/** A replacement of bytes [start, end) of the statement's UTF-8 text. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

interface Token { start: number; end: number; text: string; keywordName?: string }

/**
 * The client's text as the parser sees it: UTF-8 bytes (parse-tree locations
 * are byte offsets) and its tokens, scanned once and only when something must
 * be rewritten.
 */
export class SqlText {
  readonly bytes: Buffer;
  private tokenList: Token[] | undefined;

  constructor(readonly sql: string) {
    this.bytes = Buffer.from(sql, 'utf8');
  }

  private get tokens(): Token[] {
    return (this.tokenList ??= (scanSync(this.sql) as { tokens: Token[] }).tokens);
  }

  /** Index of the token starting at a byte offset. */
  tokenAt(offset: number): number {
    const tokens = this.tokens;
    let lo = 0;
    let hi = tokens.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = tokens[mid]!;
      if (t.start === offset) return mid;
      if (t.start < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    throw new Error(`no token starts at byte ${offset}`);
  }

  token(i: number): Token | undefined {
    return this.tokens[i];
  }

  slice(start: number, end: number): string {
    return this.bytes.subarray(start, end).toString('utf8');
  }

  /** The last token index of a dotted name starting at token i (`a`, `a.b`, `a.b.c`). */
  nameEnd(i: number): number {
    let j = i;
    while (this.token(j + 1)?.text === '.' && this.token(j + 2)) j += 2;
    return j;
  }

  /** The token closing a parenthesis opened at token i. */
  closing(i: number): number {
    let depth = 0;
    for (let j = i; this.token(j); j++) {
      const t = this.token(j)!.text;
      if (t === '(') depth++;
      else if (t === ')' && --depth === 0) return j;
    }
    throw new Error('unbalanced parentheses');
  }

  isOnly(i: number): boolean {
    return this.token(i)?.text.toUpperCase() === 'ONLY' && this.token(i)?.keywordName === 'RESERVED_KEYWORD';
  }

  /** Applies edits (non-overlapping) and returns the new text; every other byte is the client's. */
  apply(edits: Edit[]): string {
    const sorted = [...edits].sort((a, b) => a.start - b.start);
    const parts: Buffer[] = [];
    let at = 0;
    for (const e of sorted) {
      if (e.start < at) throw new Error('overlapping rewrites');
      parts.push(this.bytes.subarray(at, e.start), Buffer.from(e.text, 'utf8'));
      at = e.end;
    }
    parts.push(this.bytes.subarray(at));
    return Buffer.concat(parts).toString('utf8');
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal that reads the same whatever standard_conforming_strings says. */
export function quoteLiteral(text: string): string {
  const body = text.replace(/'/g, "''");
  return text.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** `"id", '[masked:email]'::text AS "email", …`: each masked column as its SQL expression, by column name. */
export function projection(columns: readonly Pick<CatalogColumn, 'name'>[], masks: ReadonlyMap<string, string>): string {
  return columns.map((c) => {
    const mask = masks.get(c.name);
    return mask === undefined ? quoteIdent(c.name) : `${mask} AS ${quoteIdent(c.name)}`;
  }).join(', ');
}
