/**
 * The bash grammar (tree-sitter-bash, WebAssembly through web-tree-sitter):
 * loaded once, asynchronously, before the first judgement; parsing is then
 * synchronous, so judging a command never waits.
 */
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

let loading: Promise<void> | undefined;
let parser: Parser | undefined;

/**
 * Loads the WebAssembly runtime and the bash grammar (once; later calls share the first load).
 *
 * Both are compiled by Liftoff only, never tiered up to TurboFan: V8 otherwise optimises the grammar's hot functions
 * (the lexer is one huge function) on background threads, about a second of CPU after each gateway start (more on
 * a loaded machine) that competes with the sessions' own work and, in bench:ssh, landed in the transfers measured
 * against the gateway without guardrails (issue 15, /work/notes/bench-ssh-rules.md). Judging is cached by text and
 * parses a few hundred bytes per command: Liftoff's code is fast enough, and parses the same (same WebAssembly).
 * V8 decides a module's tiers when it compiles it, so the flag is set for the two compiles and put back at once;
 * the SQL parser (libpg-query) is loaded before (createPolicies) and keeps its tiers. If Liftoff cannot compile
 * them (a CPU it does not support), they are loaded again as V8 would by default.
 */
export function loadShellParser(): Promise<void> {
  return (loading ??= (async () => {
    let p: Parser;
    try {
      p = await withLiftoffOnly(createParser);
    } catch {
      p = await createParser();
    }
    // One parse at load: the first parse compiles the code it runs (a few ms on the thread), which would
    // otherwise land on the first command judged.
    p.parse('cd /tmp && curl -fsSL "$URL" | sh -c "$(cat <<EOF\necho $((1 + 2))\nEOF\n)" 2>&1 > out.txt; for f in *.sh; do bash "$f"; done')?.delete();
    parser = p;
  })());
}

async function createParser(): Promise<Parser> {
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
  const language = await Language.load(wasm);
  const p = new Parser();
  p.setLanguage(language);
  return p;
}

async function withLiftoffOnly<T>(work: () => Promise<T>): Promise<T> {
  v8.setFlagsFromString('--liftoff-only');
  try {
    return await work();
  } finally {
    v8.setFlagsFromString('--no-liftoff-only');
  }
}

export function shellParserLoaded(): boolean {
  return parser !== undefined;
}

/**
 * Parses `text` and hands the root to `use`; the tree lives in WebAssembly
 * memory and is freed as soon as `use` returns, so `use` must not keep nodes.
 */
export function withParsedShell<T>(text: string, use: (root: Node) => T): T {
  if (!parser) throw new Error('the shell parser is not loaded (loadShellParser)');
  const tree: Tree | null = parser.parse(text);
  if (!tree) throw new Error('the shell parser returned no tree');
  try {
    return use(tree.rootNode);
  } finally {
    tree.delete();
  }
}

export type { Node as ShellNode } from 'web-tree-sitter';
