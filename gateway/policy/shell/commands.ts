/**
 * One simple command: the programs it runs through its wrappers, what it
 * feeds to an interpreter, the files it runs or writes, and the code nested
 * in it (`sh -c`, `eval`, `trap`, `find -exec`, `su -c`, `ssh host cmd`…).
 */
import { codeSource } from './interpreters.js';
import { decodes, languageOf, STDIN_PATHS, urlBasename, type Language } from './programs.js';
import { emptyOut, merge, type FactWalker, type Out, type Stream, type Via } from './facts.js';
import type { ShellNode } from './parser.js';
import { staticOutput } from './static-text.js';
import { unwrap } from './wrappers.js';
import { literalWord, type Word } from './words.js';

export function analyseCommand(w: FactWalker, node: ShellNode, stdin: Stream | undefined, extraArgs: ShellNode[]): Out {
  const wordNodes: ShellNode[] = [];
  const pre = emptyOut();
  node.children.forEach((child, i) => {
    const field = node.fieldNameForChild(i);
    if (field === 'name') wordNodes.push(child.namedChildren[0] ?? child);
    else if (field === 'argument') wordNodes.push(child);
    else if (field === 'redirect') return; // judged by the walker (FactWalker.redirected)
    else if (child.isNamed) merge(pre, w.statement(child, undefined)); // assignments, and their substitutions
  });
  wordNodes.push(...extraArgs);
  return analyseArgv(w, wordNodes.map((n) => w.word(n)), stdin, pre, new Map());
}

function analyseArgv(w: FactWalker, words: Word[], stdin: Stream | undefined, pre: Out, subOut: Map<Word, Out>): Out {
  const inv = unwrap(words);
  if (inv.unresolved) w.unresolved(inv.unresolved);
  if (words.some((x) => x.promptExpansion)) w.unresolved('a ${…@P} expansion runs the command substitutions a variable holds');
  const chain = inv.chain.map((n) => (n === '.' ? 'source' : n));
  for (const name of chain) if (w.functions.has(name)) w.unresolved(`${name} is a function defined in this line: what it runs depends on how it was defined`);

  // Substitutions first: what they write is part of what this command writes. `>(…)` reads this command's output.
  for (const word of words) {
    if (subOut.has(word)) continue;
    const o = emptyOut();
    for (const sub of word.subs) {
      const readsUs = sub.type === 'process_substitution' && w.text(sub).startsWith('>');
      merge(o, w.statement(sub, readsUs ? { via: 'process-substitution', from: new Set([...chain, ...(stdin?.from ?? [])]), decoded: stdin?.decoded ?? false } : undefined));
    }
    subOut.set(word, o);
  }
  const out = merge(emptyOut(), pre);
  for (const name of chain) out.from.add(name);
  for (const word of words) merge(out, subOut.get(word));
  merge(out, stdin);
  if (chain.length === 0) return out;

  const at = inv.program;
  const program = chain.at(-1)!;
  const args = at === undefined ? [] : words.slice(at + 1);
  w.facts.commands.push({ chain, program, args: args.map(show), line: words.map(show).join(' ') });
  out.decoded ||= decodes(program, args);
  const text = staticOutput(program, args, stdin?.text);
  if (text !== undefined) out.text = text;
  else delete out.text;

  const feed = (interpreter: string, via: Via, from: Out | undefined, direct = false) => {
    if (from) w.facts.feeds.push({ interpreter, direct, via, from: [...from.from], decoded: from.decoded });
  };
  const ctx: CodeContext = { w, subOut, stdin, feed };
  for (const path of inv.paths) {
    if (!w.facts.runs.includes(path)) w.facts.runs.push(path);
    const wrote = w.written(path);
    if (wrote) feed(path.slice(path.lastIndexOf('/') + 1), 'file', wrote, true);
  }
  if (inv.shellOnStdin) readsStdin(ctx, 'sh', 'shell');
  for (const code of inv.nestedCode) runCode(ctx, code, chain.at(-1)!, 'shell');
  if (at === undefined) return out;

  const language = languageOf(program);
  if (program === 'eval') runCode(ctx, args, 'eval', 'shell');
  else if (program === 'source') runScript(ctx, args[0], 'source', 'shell');
  else if (program === 'trap' && args[0] && !/^-/.test(args[0].value ?? '')) runCode({ ...ctx, stdin: undefined }, [args[0]], 'trap', 'shell');
  else if (program === 'alias' && args.some((a) => show(a).includes('='))) w.unresolved('alias changes what a name runs in later lines');
  else if (program === 'hash' && args.some((a) => a.value === '-p')) w.unresolved('hash -p changes which file a name runs');
  else if (program === 'find') findExec(w, args, subOut);
  else if (language) {
    const source = codeSource(program, language, args);
    if (source.stdin || inv.stdinAsArgs) readsStdin(ctx, program, language);
    if (source.code.length) runCode(ctx, source.code, program, language);
    if (source.script) runScript(ctx, source.script, program, language);
  }
  if (language) {
    // The written files a program reads as data do not matter; the ones it writes do.
  } else writes(w, program, args, out);
  return out;
}

interface CodeContext {
  w: FactWalker;
  subOut: Map<Word, Out>;
  stdin: Stream | undefined;
  feed: (interpreter: string, via: Via, from: Out | undefined, direct?: boolean) => void;
}

function show(word: Word): string {
  return word.value ?? word.text;
}

/** An interpreter reads its program from stdin: whatever the line sends there is code. */
function readsStdin(ctx: CodeContext, interpreter: string, language: Language): void {
  const { stdin } = ctx;
  if (!stdin) return; // the client's own input: what it sends is not in this line
  if (stdin.file) {
    if (!ctx.w.facts.runs.includes(stdin.file)) ctx.w.facts.runs.push(stdin.file);
  }
  const spelledOut = stdin.text !== undefined && stdin.from.size === 0;
  if (!spelledOut) ctx.feed(interpreter, stdin.via, stdin);
  if (stdin.text !== undefined) readCode(ctx, stdin.text, interpreter, language, undefined);
}

/** Inline code: judged as shell code when it is spelled out, fed from a substitution (and unknowable) when not. */
function runCode(ctx: CodeContext, words: Word[], interpreter: string, language: Language): void {
  if (words.length === 0) return;
  if (words.every((x) => x.value !== undefined)) {
    readCode(ctx, words.map((x) => x.value).join(' '), interpreter, language, ctx.stdin);
    return;
  }
  const from = emptyOut();
  for (const x of words) merge(from, ctx.subOut.get(x));
  if (from.from.size) ctx.feed(interpreter, 'command-substitution', from);
  ctx.w.unresolved(`the code ${interpreter} runs is only known at run time: ${words.map((x) => x.text).join(' ')}`);
}

function readCode(ctx: CodeContext, text: string, interpreter: string, language: Language, stdin: Stream | undefined): void {
  if (language === 'shell') {
    ctx.w.code(text, stdin, `the code ${interpreter} runs`);
    return;
  }
  // Another language: the judge cannot follow it, but shell commands in its string
  // literals (os.system("…"), system("…"), `…`) are judged as shell code.
  for (const m of text.matchAll(/'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`([^`]*)`/g)) {
    const literal = (m[1] ?? m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    if (/[a-z]/i.test(literal)) ctx.w.code(literal, undefined, `a string in the code ${interpreter} runs`, true);
  }
  if (language === 'awk' && /system\s*\(|\|\s*getline|\|&|print[^;}]*\|/.test(text)) readsStdin(ctx, interpreter, 'other');
}

/** A script file: a process substitution or stdin is fed code; a file this line wrote is a download run; any other file is run. */
function runScript(ctx: CodeContext, word: Word | undefined, interpreter: string, _language: Language): void {
  if (!word) return;
  if (word.procSub) return ctx.feed(interpreter, 'process-substitution', ctx.subOut.get(word));
  if (word.value !== undefined && STDIN_PATHS.has(word.value)) return readsStdin(ctx, interpreter, 'other');
  if (word.value === undefined && word.base === undefined) {
    ctx.w.unresolved(`${interpreter} runs a file only known at run time: ${word.text}`);
    return;
  }
  const path = show(word);
  if (!ctx.w.facts.runs.includes(path)) ctx.w.facts.runs.push(path);
  const wrote = ctx.w.written(path);
  if (wrote) ctx.feed(interpreter, 'file', wrote);
}

/** `find … -exec cmd {} ;` runs cmd for each file. */
function findExec(w: FactWalker, args: Word[], subOut: Map<Word, Out>): void {
  for (let k = 0; k < args.length; k++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(args[k]!.value ?? '')) continue;
    let end = k + 1;
    while (end < args.length && args[end]!.value !== ';' && args[end]!.value !== '+') end++;
    const argv = args.slice(k + 1, end).map((x) => (x.value === '{}' ? literalWord('found-file') : x));
    analyseArgv(w, argv, undefined, emptyOut(), subOut);
    k = end;
  }
}

/** Files a command writes, so that running one later in the line counts as running what was written. */
function writes(w: FactWalker, program: string, args: Word[], out: Out): void {
  const values = args.map((a) => a.value);
  const operands = values.filter((v): v is string => v !== undefined && !v.startsWith('-'));
  const optionValue = (re: RegExp): string | undefined => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === undefined) continue;
      const m = re.exec(v);
      if (m) return m[1] || values[i + 1];
    }
    return undefined;
  };
  const urls = operands.filter((v) => /^[a-z]+:\/\/|\//i.test(v));
  if (program === 'curl') {
    const file = optionValue(/^(?:-[a-zA-Z]*o|--output=?)(.*)$/);
    if (file && file !== '-') w.write(file, out);
    if (values.some((v) => v !== undefined && /^(-[a-zA-Z]*O|--remote-name(-all)?)$/.test(v))) for (const u of urls) { const b = urlBasename(u); if (b) w.write(b, out); }
  } else if (program === 'wget' || program === 'wget2') {
    const file = optionValue(/^(?:-[a-zA-Z]*O|--output-document=?)(.*)$/);
    if (file && file !== '-') w.write(file, out);
    if (file === undefined) for (const u of urls) w.write(urlBasename(u) ?? 'index.html', out);
  } else if (program === 'tee') {
    for (const f of operands) w.write(f, out);
  } else if (program === 'dd') {
    for (const v of operands) if (v.startsWith('of=')) w.write(v.slice(3), out);
  } else if (['cp', 'mv', 'install', 'ln', 'rsync'].includes(program) && operands.length >= 2) {
    const dest = operands.at(-1)!;
    const carried = emptyOut();
    for (const src of operands.slice(0, -1)) merge(carried, w.written(src));
    if (carried.from.size) {
      w.write(dest, carried);
      for (const src of operands.slice(0, -1)) w.write(`${dest}/${src.slice(src.lastIndexOf('/') + 1)}`, carried);
    }
  }
}
