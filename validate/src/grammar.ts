import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';

/**
 * A syntax node copied out of tree-sitter's wasm heap into plain JS.
 *
 * Offsets are indices into the JS string that was parsed (UTF-16 code units),
 * the same units `String.prototype.slice` uses.
 */
export interface SyntaxNode {
  /** Node type from tree-sitter-bash (`command`, `word`, `"&&"`, …). */
  readonly type: string;
  /** Whether the grammar names this node (anonymous nodes are punctuation). */
  readonly named: boolean;
  readonly start: number;
  readonly end: number;
  readonly children: readonly SyntaxNode[];
}

/** Result of one parse: the copied tree plus whether tree-sitter saw any ERROR or MISSING node. */
export interface ParseResult {
  readonly root: SyntaxNode;
  readonly hasError: boolean;
}

/** Thrown when the grammar cannot be loaded or a parse is cancelled; callers turn it into `deny`. */
export class GrammarError extends Error {
  override name = 'GrammarError';
}

const NO_CHILDREN: readonly SyntaxNode[] = [];

/**
 * A loaded bash grammar with one reusable tree-sitter `Parser`.
 *
 * Parsing is synchronous; the only asynchronous step is loading the wasm
 * files once in {@link loadBashGrammar}.
 */
export interface BashGrammar {
  /**
   * Parses `source` and copies the tree into plain objects. Throws
   * {@link GrammarError} when parsing exceeds `timeoutMs` (wall clock).
   */
  parse(source: string, timeoutMs: number): ParseResult;
}

let loading: Promise<BashGrammar> | undefined;

/** Absolute path of the tree-sitter-bash wasm grammar shipped in its npm package. */
export function bashWasmPath(): string {
  // tree-sitter-bash has no `exports` map, so its package.json is resolvable.
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('tree-sitter-bash/package.json')), 'tree-sitter-bash.wasm');
}

/**
 * Loads web-tree-sitter and the bash grammar (once per process; later calls
 * share the same promise). This is the library's only I/O.
 */
export function loadBashGrammar(): Promise<BashGrammar> {
  loading ??= (async () => {
    await Parser.init();
    const language = await Language.load(bashWasmPath());
    const parser = new Parser();
    parser.setLanguage(language);
    return makeGrammar(parser);
  })().catch((err: unknown) => {
    loading = undefined;
    throw new GrammarError('could not load the tree-sitter-bash grammar', { cause: err });
  });
  return loading;
}

function makeGrammar(parser: Parser): BashGrammar {
  return {
    parse(source, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      let checks = 0;
      // tree-sitter is linear in the input; only large inputs can take long
      // enough to need the (per-step, JS-crossing) progress check.
      const tree =
        source.length < 4096
          ? parser.parse(source)
          : parser.parse(source, null, {
              // Returning true cancels the parse (the .d.ts types it as void).
              progressCallback: (() => ++checks % 16 === 0 && performance.now() > deadline) as () => void,
            });
      if (tree === null) throw new GrammarError(`parse cancelled after ${timeoutMs} ms`);
      try {
        const hasError = tree.rootNode.hasError;
        const cursor = tree.walk();
        try {
          return { root: copy(cursor), hasError };
        } finally {
          cursor.delete();
        }
      } finally {
        tree.delete();
      }
    },
  };
}

// Copying through a cursor costs a few wasm calls per node and no wasm-side
// Node objects, which is the cheapest way to get a tree we can walk freely.
function copy(cursor: import('web-tree-sitter').TreeCursor): SyntaxNode {
  const type = cursor.nodeType;
  const named = cursor.nodeIsNamed;
  const start = cursor.startIndex;
  const end = cursor.endIndex;
  let children: SyntaxNode[] | readonly SyntaxNode[] = NO_CHILDREN;
  if (cursor.gotoFirstChild()) {
    const list: SyntaxNode[] = [];
    do list.push(copy(cursor));
    while (cursor.gotoNextSibling());
    cursor.gotoParent();
    children = list;
  }
  return { type, named, start, end, children };
}
