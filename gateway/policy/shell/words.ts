/**
 * One shell word as bash would see it after quote removal: `'c'url`, `c\url`,
 * `"cu"rl` and `$'\x63url'` are all `curl`. A part only known at run time
 * (a variable, a substitution) leaves the value undefined.
 */
import type { ShellNode } from './parser.js';

export interface Word {
  /** The value after quote removal, or undefined when a part is only known at run time. */
  value: string | undefined;
  /** The text as written. */
  text: string;
  /** The literal text after the last '/' when all of it is literal: the name a path runs (`$HOME/bin/curl` → curl). */
  base: string | undefined;
  /** Unquoted glob or brace characters: the shell turns the word into other words at run time. */
  expands: boolean;
  /** `${x@P}`: prompt expansion, which runs command substitutions held in a variable. */
  promptExpansion: boolean;
  /** The outermost command and process substitutions inside the word. */
  subs: ShellNode[];
  /** The word is exactly one process substitution `<(…)`: a file name whose content that command writes. */
  procSub: ShellNode | undefined;
}

const DYN = Symbol('dynamic');
type Part = string | typeof DYN;
const SUBSTITUTIONS = new Set(['command_substitution', 'process_substitution']);

export function resolveWord(node: ShellNode, src: string): Word {
  const acc = { parts: [] as Part[], unquoted: '', prompt: false };
  resolvePart(node, src, acc);
  const joined = acc.parts.map((p) => (p === DYN ? '\0' : p)).join('');
  const tail = joined.slice(joined.lastIndexOf('/') + 1);
  const subs: ShellNode[] = [];
  collectSubs(node, subs);
  return {
    value: joined.includes('\0') ? undefined : joined,
    text: src.slice(node.startIndex, node.endIndex),
    base: tail.includes('\0') || tail === '' ? undefined : tail,
    expands: /[*?[]/.test(acc.unquoted) || /\{[^}]*(,|\.\.)[^}]*\}/.test(acc.unquoted),
    promptExpansion: acc.prompt,
    subs,
    procSub: node.type === 'process_substitution' ? node : undefined,
  };
}

/** A word from a literal string (a nested argv built by a wrapper like `find -exec`). */
export function literalWord(value: string): Word {
  const tail = value.slice(value.lastIndexOf('/') + 1);
  return { value, text: value, base: tail || undefined, expands: false, promptExpansion: false, subs: [], procSub: undefined };
}

function resolvePart(node: ShellNode, src: string, acc: { parts: Part[]; unquoted: string; prompt: boolean }): void {
  const raw = src.slice(node.startIndex, node.endIndex);
  switch (node.type) {
    case 'word':
    case 'number':
      // Escaped characters are literal: never globs, never braces.
      acc.unquoted += raw.replace(/\\[\s\S]/g, 'E');
      acc.parts.push(raw.replace(/\\\n/g, '').replace(/\\([\s\S])/g, '$1'));
      return;
    case 'raw_string':
      acc.unquoted += 'Q';
      acc.parts.push(raw.slice(1, -1));
      return;
    case 'ansi_c_string':
      acc.unquoted += 'Q';
      acc.parts.push(decodeAnsiC(raw.slice(2, -1)));
      return;
    case 'string':
    case 'translated_string':
      acc.unquoted += 'Q';
      resolveDoubleQuoted(node, src, acc);
      return;
    case 'concatenation': {
      let at = node.startIndex;
      for (const child of node.children) {
        if (child.startIndex > at) acc.parts.push(src.slice(at, child.startIndex));
        resolvePart(child, src, acc);
        at = child.endIndex;
      }
      return;
    }
    case 'brace_expression':
      acc.unquoted += '{,}';
      acc.parts.push(DYN);
      return;
    default:
      // Expansions, substitutions and anything this resolver does not know: run-time values.
      if (node.type === 'expansion' && /@P\s*}$/.test(raw)) acc.prompt = true;
      acc.unquoted += 'D';
      acc.parts.push(DYN);
  }
}

function resolveDoubleQuoted(node: ShellNode, src: string, acc: { parts: Part[]; prompt: boolean }): void {
  for (const child of node.children) {
    if (!child.isNamed) continue; // the quotes themselves
    const raw = src.slice(child.startIndex, child.endIndex);
    if (child.type === 'string_content') {
      acc.parts.push(raw.replace(/\\\n/g, '').replace(/\\([\\"$`])/g, '$1'));
      continue;
    }
    // The grammar can start an expansion node at the blank before it: that blank is literal.
    const lead = /^\s*/.exec(raw)![0];
    if (lead) acc.parts.push(lead);
    if (child.type === 'expansion' && /@P\s*}$/.test(raw)) acc.prompt = true;
    acc.parts.push(DYN);
  }
}

function collectSubs(node: ShellNode, out: ShellNode[]): void {
  if (SUBSTITUTIONS.has(node.type)) {
    out.push(node);
    return;
  }
  for (const child of node.namedChildren) collectSubs(child, out);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?',
};

/** `$'…'` as bash decodes it: \xHH, \NNN, \uHHHH, \UHHHHHHHH, \cX and the C escapes. */
export function decodeAnsiC(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|c[\s\S]|[\s\S])/g, (whole, esc: string) => {
    const kind = esc[0]!;
    if (kind === 'x') return String.fromCharCode(parseInt(esc.slice(1), 16));
    if (/[0-7]/.test(kind)) return String.fromCharCode(parseInt(esc, 8) & 0xff);
    if (kind === 'u' || kind === 'U') return String.fromCodePoint(Math.min(parseInt(esc.slice(1), 16), 0x10ffff));
    if (kind === 'c' && esc.length === 2) return String.fromCharCode(esc.charCodeAt(1) & 0x1f);
    return SIMPLE_ESCAPES[esc] ?? whole;
  });
}
