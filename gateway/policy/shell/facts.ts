/**
 * The facts a line gives the judge, read off the bash grammar's tree: every
 * simple command anywhere (lists, pipelines, subshells, bodies, functions,
 * substitutions, code handed to `sh -c`, `su -c`, `ssh host`, `eval`…), the
 * code that reaches an interpreter from elsewhere in the line (a pipe, a
 * substitution, a here-string or heredoc, a file the line wrote), the files
 * run, and what cannot be known before run time.
 */
import { analyseCommand } from './commands.js';
import { withParsedShell, type ShellNode } from './parser.js';
import { resolveWord, type Word } from './words.js';

export interface CommandFact {
  /** Programs, outermost first: wrappers, then what they run (`sudo -E bash -s` → sudo, bash). */
  chain: string[];
  /** The program that finally runs (the last of chain). */
  program: string;
  /** Its arguments after quote removal (a run-time part as written). */
  args: string[];
  /** The whole command after quote removal, words joined by spaces. */
  line: string;
}

export type Via = 'pipe' | 'here-string' | 'heredoc' | 'process-substitution' | 'command-substitution' | 'file';

/** Code reaching an interpreter from elsewhere in the line rather than as text the line spells out. */
export interface Feed {
  /** The interpreter (`sh`, `python3`, `eval`, `source`), or the file run when `direct`. */
  interpreter: string;
  /** A file the line wrote, run as a program (`curl -o a x; ./a`). */
  direct: boolean;
  via: Via;
  /** Programs whose output the code carries, wrappers included. */
  from: string[];
  /** The code passed through a decoder or transformer (base64 -d, xxd -r, rev, printf escapes…). */
  decoded: boolean;
}

export interface LineFacts {
  commands: CommandFact[];
  feeds: Feed[];
  /** Files run, as written: programs named by path or name, scripts given to interpreters, files sourced. */
  runs: string[];
  /** Why part of the line cannot be judged before run time (empty when all of it can). */
  unresolved: string[];
}

/** What a statement writes on stdout: the programs whose output it carries. */
export interface Out {
  from: Set<string>;
  decoded: boolean;
  /** The text written, when the line spells it out (`echo 'ls'`, a quoted heredoc, `base64 -d` of a literal). */
  text?: string;
}

/** What a command reads on stdin. */
export interface Stream extends Out {
  via: Via;
  /** The file stdin is redirected from. */
  file?: string;
}

const MAX_DEPTH = 8;
const DANGEROUS_ASSIGNMENTS = /^(PROMPT_COMMAND|BASH_ENV|ENV|LD_PRELOAD|LD_AUDIT|BASH_FUNC_.*)$/;

export function emptyOut(): Out {
  return { from: new Set(), decoded: false };
}

export function merge(into: Out, add: Out | undefined): Out {
  if (add) {
    for (const p of add.from) into.from.add(p);
    into.decoded ||= add.decoded;
  }
  return into;
}

/** Walks one line (and the code nested in it) into facts. */
export class FactWalker {
  readonly facts: LineFacts = { commands: [], feeds: [], runs: [], unresolved: [] };
  /** Files written in this line (by normalized path and by basename) → what was written into them. */
  readonly writers = new Map<string, Out>();
  /** Functions defined in this line: calling one runs code the judge cannot see at the call. */
  readonly functions = new Set<string>();
  src = '';
  private depth = 0;
  /** Inside code guessed from another language's string literals: what does not parse there proves nothing. */
  private quiet = 0;

  /** Parses `text` as shell code and walks it with `stdin` as its input. */
  code(text: string, stdin: Stream | undefined, what: string, quiet = false): Out {
    if (this.depth >= MAX_DEPTH) {
      this.unresolved(`${what} is nested too deep to follow`);
      return emptyOut();
    }
    const saved = this.src;
    this.depth++;
    if (quiet) this.quiet++;
    try {
      return withParsedShell(text, (root) => {
        this.src = text;
        if (root.hasError) this.unresolved(what === 'the line' ? 'the line does not parse as shell' : `${what} does not parse as shell`);
        for (const fn of root.descendantsOfType('function_definition')) {
          const name = fn.childForFieldName('name');
          if (name) this.functions.add(text.slice(name.startIndex, name.endIndex));
        }
        return this.statement(root, stdin);
      });
    } finally {
      this.src = saved;
      this.depth--;
      if (quiet) this.quiet--;
    }
  }

  unresolved(reason: string): void {
    if (this.quiet === 0 && !this.facts.unresolved.includes(reason)) this.facts.unresolved.push(reason);
  }

  word(node: ShellNode): Word {
    return resolveWord(node, this.src);
  }

  text(node: ShellNode): string {
    return this.src.slice(node.startIndex, node.endIndex);
  }

  /** Any node: statements are walked as such, anything else for the substitutions it holds. */
  statement(node: ShellNode, stdin: Stream | undefined): Out {
    switch (node.type) {
      case 'command': // the grammar hangs some redirections (`bash <<< …`) on the command itself
        return node.childrenForFieldName('redirect').length ? this.redirected(node, stdin, node) : analyseCommand(this, node, stdin, []);
      case 'pipeline':
        return this.pipeline(node.namedChildren.filter((c) => c.type !== 'comment'), stdin);
      case 'redirected_statement':
        return this.redirected(node, stdin);
      case 'function_definition': {
        const body = node.childForFieldName('body');
        if (body) this.statement(body, undefined);
        return emptyOut();
      }
      case 'variable_assignment': {
        const name = node.childForFieldName('name');
        if (name && DANGEROUS_ASSIGNMENTS.test(this.text(name))) this.unresolved(`setting ${this.text(name)} makes the shell or the loader run code later`);
        return this.children(node, stdin);
      }
      case 'command_substitution':
        return this.children(node, undefined);
      case 'process_substitution': // `>(sh)` reads what its caller passes; `<(…)` is called with no input
        return this.children(node, stdin);
      case 'comment':
        return emptyOut();
      default:
        return this.children(node, stdin);
    }
  }

  private children(node: ShellNode, stdin: Stream | undefined): Out {
    const out = emptyOut();
    for (const child of node.namedChildren) merge(out, this.statement(child, stdin));
    return out;
  }

  /** Stage k reads what stages 0..k-1 wrote (filters pass their input on, so all of it counts). */
  pipeline(stages: ShellNode[], stdin: Stream | undefined): Out {
    let upstream: Out | undefined = stdin;
    let last = emptyOut();
    stages.forEach((stage, k) => {
      const input: Stream | undefined = k === 0 ? stdin : { via: 'pipe', ...merge(emptyOut(), upstream), text: last.text };
      last = this.statement(stage, input);
      upstream = merge(merge(emptyOut(), upstream), last);
    });
    return last;
  }

  private redirected(node: ShellNode, inherited: Stream | undefined, command?: ShellNode): Out {
    const body = command ?? node.childForFieldName('body');
    let stdin = inherited;
    const outputs: { path?: string; into?: ShellNode }[] = [];
    const extraArgs: ShellNode[] = [];
    let pipedRest: ShellNode | undefined;
    for (const redirect of node.childrenForFieldName('redirect')) {
      if (redirect.type === 'herestring_redirect') {
        const content = redirect.namedChildren[0];
        const out = emptyOut();
        const word = content && this.word(content);
        if (word) for (const sub of word.subs) merge(out, this.statement(sub, undefined));
        stdin = { via: 'here-string', ...out, text: word?.value === undefined ? undefined : `${word.value}\n` };
      } else if (redirect.type === 'heredoc_redirect') {
        const out: Out = emptyOut();
        for (const child of redirect.namedChildren) {
          if (child.type === 'heredoc_body') {
            for (const sub of child.descendantsOfType(['command_substitution', 'process_substitution'])) merge(out, this.statement(sub, undefined));
            // Only a body without expansions is the text the command reads.
            if (child.namedChildren.every((c) => c.type === 'heredoc_content')) out.text = this.text(child);
          } else if (!child.type.startsWith('heredoc_')) pipedRest = child; // `cat <<EOF | sh`: the rest of the pipeline hangs here
        }
        if (!redirect.namedChildren.some((c) => c.type === 'heredoc_body')) out.text = '';
        stdin = { via: 'heredoc', ...out };
      } else if (redirect.type === 'file_redirect') {
        const op = redirect.children.find((c) => !c.isNamed)?.type ?? '';
        const fd = redirect.childForFieldName('descriptor');
        const [dest, ...rest] = redirect.childrenForFieldName('destination');
        extraArgs.push(...rest); // `cmd 2>/dev/null arg`: the grammar files `arg` under the redirect
        if (!dest) continue;
        const target = this.word(dest);
        if (op.startsWith('<') && op !== '<&' && (!fd || this.text(fd) === '0')) {
          if (target.procSub) stdin = { via: 'process-substitution', ...this.statement(target.procSub, undefined) };
          else stdin = { via: 'file', ...merge(emptyOut(), this.written(target.value ?? target.text)), file: target.value ?? target.text };
        } else if (op.includes('>') && !op.endsWith('&')) {
          outputs.push(target.procSub ? { into: target.procSub } : { path: target.value });
        }
      }
    }
    const out = !body ? emptyOut() : body.type === 'command' ? analyseCommand(this, body, stdin, extraArgs) : this.statement(body, stdin);
    for (const o of outputs) {
      if (o.into) this.statement(o.into, { via: 'process-substitution', ...merge(emptyOut(), out) });
      else if (o.path !== undefined) this.write(o.path, out);
    }
    if (pipedRest) return this.pipedTail(pipedRest, out);
    return out;
  }

  /** The grammar's shape for `cat <<EOF | a | b && c`: a pipeline node with one child standing for "| the rest". */
  private pipedTail(rest: ShellNode, upstream: Out): Out {
    const input: Stream = { via: 'pipe', ...merge(emptyOut(), upstream), text: upstream.text };
    if (rest.type === 'pipeline' && rest.namedChildCount === 1) return this.pipedTail(rest.namedChildren[0]!, upstream);
    if (rest.type === 'list') {
      const [first, ...others] = rest.namedChildren;
      const out = first ? this.pipedTail(first, upstream) : emptyOut();
      for (const o of others) this.statement(o, undefined);
      return out;
    }
    if (rest.type === 'pipeline') return this.pipeline(rest.namedChildren, input);
    return this.statement(rest, input);
  }

  /** Records that `path` was written with `out` in this line. */
  write(path: string, out: Out): void {
    const norm = normalizePath(path);
    this.writers.set(norm, merge(merge(emptyOut(), this.writers.get(norm)), out));
    const base = `base:${basename(norm)}`;
    this.writers.set(base, merge(merge(emptyOut(), this.writers.get(base)), out));
  }

  /** What this line wrote into `path`, matched by path or, since the working directory may differ, by basename. */
  written(path: string): Out | undefined {
    const norm = normalizePath(path);
    return this.writers.get(norm) ?? this.writers.get(`base:${basename(norm)}`);
  }
}

export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** `./x/../a//b` → `a/b`: lexical, since the judge does not know the working directory or symlinks. */
export function normalizePath(path: string): string {
  const absolute = path.startsWith('/');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length && parts.at(-1) !== '..') parts.pop();
    else if (part !== '..' || !absolute) parts.push(part);
  }
  return (absolute ? '/' : '') + parts.join('/');
}

/** The facts of one line. */
export function factsOf(line: string): LineFacts {
  const walker = new FactWalker();
  walker.code(line, undefined, 'the line');
  return walker.facts;
}
