/**
 * The bash grammar (tree-sitter-bash, WebAssembly through web-tree-sitter):
 * loaded once, asynchronously, before the first judgement; parsing is then
 * synchronous, so judging a command never waits.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

let loading: Promise<void> | undefined;
let parser: Parser | undefined;

/** Loads the WebAssembly runtime and the bash grammar (once; later calls share the first load). */
export function loadShellParser(): Promise<void> {
  return (loading ??= (async () => {
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
    const language = await Language.load(wasm);
    const p = new Parser();
    p.setLanguage(language);
    // One parse at load: the first parse compiles the grammar's WebAssembly (about 20 ms on the thread, and close
    // to a second of background CPU to optimise it), which would otherwise land on the first command judged.
    p.parse('cd /tmp && curl -fsSL "$URL" | sh -c "$(cat <<EOF\necho $((1 + 2))\nEOF\n)" 2>&1 > out.txt; for f in *.sh; do bash "$f"; done')?.delete();
    parser = p;
  })());
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
