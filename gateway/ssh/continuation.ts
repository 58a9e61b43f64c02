/**
 * Whether bash, having read `text` (the physical lines of one command so far,
 * joined by newlines), runs it or reads another line first: a backslash at
 * the end, an open quote or substitution, or a here-document whose delimiter
 * line has not come yet. A lexical scan after bash's own rules (quotes,
 * escapes, comments, `$(`, `${`, `$((`, `((`, `<<`/`<<-` with quoted or plain
 * delimiters); compound commands (if/for/{ … }) are not followed, so each of
 * their lines is judged on its own. When this scan is wrong the caller still
 * judges what it has at each Enter (see ShellInput), so a mistake costs a
 * refusal, never an unjudged command.
 */
export type Continuation = 'backslash' | 'quote' | 'substitution' | 'heredoc';

type Context = { kind: 'sq' | 'dq' | 'dsq' | 'bt' | 'param' } | { kind: 'cs' | 'arith'; depth: number };

const WORD_BREAK = /[\s;&|()<>]/;

export function continuation(text: string): Continuation | undefined {
  const s = `${text}\n`;
  const stack: Context[] = [];
  const heredocs: { delim: string; strip: boolean }[] = [];
  let i = 0;
  const top = () => stack.at(-1);
  while (i < s.length) {
    const ch = s[i]!;
    const ctx = top();
    const next = s[i + 1];
    if (ctx?.kind === 'sq') {
      if (ch === "'") stack.pop();
      i++;
      continue;
    }
    if (ch === '\\') {
      if (next === '\n' && i + 2 === s.length) return 'backslash'; // escapes the final newline: bash reads on
      i += 2;
      continue;
    }
    if (ctx?.kind === 'dsq') {
      if (ch === "'") stack.pop();
      i++;
      continue;
    }
    if (ctx?.kind === 'bt' && ch === '`') {
      stack.pop();
      i++;
      continue;
    }
    if (ctx?.kind === 'dq' && ch === '"') {
      stack.pop();
      i++;
      continue;
    }
    if (ctx?.kind === 'param' && ch === '}') {
      stack.pop();
      i++;
      continue;
    }
    if (ch === '$' && next === '(') {
      const arith = s[i + 2] === '(';
      stack.push({ kind: arith ? 'arith' : 'cs', depth: arith ? 2 : 1 });
      i += arith ? 3 : 2;
      continue;
    }
    if (ch === '$' && next === '{') {
      stack.push({ kind: 'param' });
      i += 2;
      continue;
    }
    if (ch === '`') {
      stack.push({ kind: 'bt' });
      i++;
      continue;
    }
    if (ctx?.kind === 'dq') {
      i++;
      continue;
    }
    // Outside double quotes: quotes, comments, parentheses, here-documents.
    if (ch === '"') stack.push({ kind: 'dq' });
    else if (ch === "'") stack.push({ kind: ch === "'" && s[i - 1] === '$' ? 'dsq' : 'sq' });
    else if (ch === '#' && ctx?.kind !== 'param' && ctx?.kind !== 'arith' && (i === 0 || WORD_BREAK.test(s[i - 1]!))) {
      while (s[i + 1] !== undefined && s[i + 1] !== '\n') i++;
    } else if (ctx && (ctx.kind === 'cs' || ctx.kind === 'arith') && (ch === '(' || ch === ')')) {
      ctx.depth += ch === '(' ? 1 : -1;
      if (ctx.depth === 0) stack.pop();
    } else if (!ctx && ch === '(' && next === '(' && (i === 0 || WORD_BREAK.test(s[i - 1]!))) {
      stack.push({ kind: 'arith', depth: 2 }); // (( … )): << is a shift there
      i++;
    } else if (ch === '<' && next === '<' && s[i + 2] !== '<' && ctx?.kind !== 'arith' && ctx?.kind !== 'param') {
      const read = readDelimiter(s, i + 2);
      if (read) {
        heredocs.push(read.heredoc);
        i = read.end;
        continue;
      }
    } else if (ch === '<' && next === '<') {
      i += s[i + 2] === '<' ? 3 : 2;
      continue;
    } else if (ch === '\n' && heredocs.length > 0 && (!ctx || ctx.kind === 'cs')) {
      const end = skipBodies(s, i + 1, heredocs.splice(0));
      if (end === undefined) return 'heredoc';
      i = end;
      continue;
    }
    i++;
  }
  const open = top();
  if (!open) return heredocs.length > 0 ? 'heredoc' : undefined;
  return open.kind === 'cs' || open.kind === 'arith' || open.kind === 'param' || open.kind === 'bt' ? 'substitution' : 'quote';
}

/** The delimiter word after `<<` or `<<-`, quotes removed. */
function readDelimiter(s: string, at: number): { heredoc: { delim: string; strip: boolean }; end: number } | undefined {
  let i = at;
  const strip = s[i] === '-';
  if (strip) i++;
  while (s[i] === ' ' || s[i] === '\t') i++;
  let delim = '';
  let quote: string | undefined;
  for (; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else delim += ch;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '\\' && i + 1 < s.length) delim += s[++i];
    else if (WORD_BREAK.test(ch)) break;
    else delim += ch;
  }
  if (quote || delim === '') return undefined;
  return { heredoc: { delim, strip }, end: i };
}

/** Skips here-document bodies from `at`; undefined when a delimiter line has not come yet. */
function skipBodies(s: string, at: number, heredocs: { delim: string; strip: boolean }[]): number | undefined {
  let i = at;
  for (const { delim, strip } of heredocs) {
    for (;;) {
      const nl = s.indexOf('\n', i);
      if (nl < 0) return undefined;
      const line = s.slice(i, nl);
      i = nl + 1;
      if ((strip ? line.replace(/^\t+/, '') : line) === delim) break;
    }
  }
  return i;
}

/**
 * The command as bash's lexer reads it: a backslash-newline outside single
 * quotes is removed (it joins words: `tou\<Enter>ch` is `touch`), so the
 * policy judges the words bash runs. Here-document bodies are left as typed.
 */
export function joinContinuations(text: string): string {
  let out = '';
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      out += ch;
      continue;
    }
    if (ch === '\\' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (ch === '\\') {
      out += ch + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === "'" && !quote) quote = "'";
    else if (ch === '"') quote = quote === '"' ? undefined : '"';
    out += ch;
  }
  return out;
}
