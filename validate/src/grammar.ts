import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { TreeCursor } from 'web-tree-sitter';
import { planElision, restoreElided } from './heredoc-elide.ts';

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

/** Why a {@link GrammarError} was thrown: callers branch on this, never on the message. */
export const grammarErrorCodes = ['load_failed', 'parse_cancelled', 'parse_failed'] as const;
export type GrammarErrorCode = (typeof grammarErrorCodes)[number];

/**
 * Thrown when the grammar cannot be loaded (`load_failed`), a parse ran past its time budget
 * (`parse_cancelled`) or tree-sitter returned no tree (`parse_failed`); callers turn it into `deny`.
 */
export class GrammarError extends Error {
  override name = 'GrammarError';
  readonly code: GrammarErrorCode;
  constructor(code: GrammarErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
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
  /**
   * The same parse without heredoc elision (see `heredoc-elide.ts`): the whole text goes through
   * tree-sitter. The reference the elision is tested against.
   */
  parseWhole(source: string, timeoutMs: number): ParseResult;
}

let loading: Promise<BashGrammar> | undefined;
/** The raw exports of the initialised web-tree-sitter module, when {@link loadBashGrammar} could reach them. */
let rawExports: RawModule | null = null;

/**
 * web-tree-sitter's raw wasm exports (see {@link RawModule}), once {@link loadBashGrammar} has
 * initialised the library; null before, or when another part of the process initialised it first.
 * The interpreter grammars share the same module, so they use the same fast copy.
 */
export function rawTreeSitter(): RawModule | null {
  return rawExports;
}

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
    // web-tree-sitter uses the options object as its emscripten Module, so
    // after init it carries the raw wasm exports the fast path calls (see
    // {@link RawModule}). If something else in the process initialised
    // web-tree-sitter first, the object stays empty and we use the public API.
    const mod: Record<string, unknown> = {};
    await Parser.init(mod);
    const language = await Language.load(bashWasmPath());
    const parser = new Parser();
    parser.setLanguage(language);
    rawExports = rawModule(mod);
    return makeGrammar(parser, rawExports, language);
  })().catch((err: unknown) => {
    loading = undefined;
    throw new GrammarError('load_failed', 'could not load the tree-sitter-bash grammar', { cause: err });
  });
  return loading;
}

/**
 * The subset of web-tree-sitter's emscripten module used by the fast path.
 * Every `_ts_tree_cursor_*_wasm(tree)` function reads the cursor from the
 * module's transfer buffer and the `goto_*` ones write it back there, so a
 * walk that makes no other calls in between needs no marshalling at all;
 * the public `TreeCursor` class copies the cursor in and out of the buffer
 * (eight heap accesses) around every call.
 */
export interface RawModule {
  currentParseCallback: ((index: number) => string) | null;
  currentProgressCallback: unknown;
  currentLogCallback: unknown;
  _ts_parser_parse_wasm(parser: number, buffer: number, oldTree: number, ranges: number, rangeCount: number): number;
  _ts_tree_delete(tree: number): void;
  _ts_tree_root_node_wasm(tree: number): void;
  _ts_node_has_error_wasm(tree: number): number;
  _ts_tree_cursor_new_wasm(tree: number): void;
  _ts_tree_cursor_delete_wasm(tree: number): void;
  _ts_tree_cursor_goto_first_child_wasm(tree: number): number;
  _ts_tree_cursor_goto_next_sibling_wasm(tree: number): number;
  _ts_tree_cursor_goto_parent_wasm(tree: number): number;
  _ts_tree_cursor_current_node_type_id_wasm(tree: number): number;
  _ts_tree_cursor_current_node_is_named_wasm(tree: number): number;
  _ts_tree_cursor_start_index_wasm(tree: number): number;
  _ts_tree_cursor_end_index_wasm(tree: number): number;
  _ts_tree_cursor_current_field_id_wasm(tree: number): number;
}

const RAW_FUNCTIONS = [
  '_ts_parser_parse_wasm', '_ts_tree_delete', '_ts_tree_root_node_wasm', '_ts_node_has_error_wasm', '_ts_tree_cursor_new_wasm',
  '_ts_tree_cursor_delete_wasm', '_ts_tree_cursor_goto_first_child_wasm', '_ts_tree_cursor_goto_next_sibling_wasm',
  '_ts_tree_cursor_goto_parent_wasm', '_ts_tree_cursor_current_node_type_id_wasm', '_ts_tree_cursor_current_node_is_named_wasm',
  '_ts_tree_cursor_start_index_wasm', '_ts_tree_cursor_end_index_wasm', '_ts_tree_cursor_current_field_id_wasm',
] as const;

function rawModule(mod: Record<string, unknown>): RawModule | null {
  for (const f of RAW_FUNCTIONS) if (typeof mod[f] !== 'function') return null;
  if (!('currentParseCallback' in mod)) return null;
  return mod as unknown as RawModule;
}

/** Inputs at least this long are parsed through the public API with a progress callback that enforces the deadline. */
const FAST_PARSE_MAX = 4096;

function makeGrammar(parser: Parser, raw: RawModule | null, language: Language): BashGrammar {
  const fast = raw === null ? null : fastParser(parser, raw, language);
  const parseWhole = (source: string, timeoutMs: number): ParseResult => {
    // tree-sitter is linear in the input; only large inputs can take long
    // enough to need the (per-step, JS-crossing) progress check.
    if (fast !== null && source.length < FAST_PARSE_MAX) return fast(source);
    const deadline = performance.now() + timeoutMs;
    let checks = 0;
    const tree =
      source.length < FAST_PARSE_MAX
        ? parser.parse(source)
        : parser.parse(source, null, {
            // Returning true cancels the parse (the .d.ts types it as void).
            progressCallback: (() => ++checks % 16 === 0 && performance.now() > deadline) as () => void,
          });
    if (tree === null) {
      // A cancelled tree-sitter parse is resumed by the next parse call unless
      // the parser is reset: the next command would be read with this one's offsets.
      parser.reset();
      throw new GrammarError('parse_cancelled', `parse cancelled after ${timeoutMs} ms`);
    }
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
  };
  return {
    parseWhole,
    parse(source, timeoutMs) {
      const e = planElision(source);
      if (e !== null) {
        const t0 = performance.now();
        const cut = parseWhole(e.text, timeoutMs);
        const root = restoreElided(cut.root, cut.hasError, e, source);
        if (root !== null) return { root, hasError: false };
        return parseWhole(source, Math.max(1, timeoutMs - (performance.now() - t0)));
      }
      return parseWhole(source, timeoutMs);
    },
  };
}

/**
 * Parse and copy through the raw wasm exports: no `Tree`/`TreeCursor`
 * objects (each registers a finalizer), no cursor marshalling, node type
 * names from a table. Produces exactly the tree {@link copy} does.
 */
function fastParser(parser: Parser, M: RawModule, language: Language): (source: string) => ParseResult {
  const handles = parser as unknown as { 0: number; 1: number };
  const types = language.types;
  const namedById: boolean[] = [];
  for (let i = 0; i < types.length; i++) namedById.push(language.nodeTypeIsNamed(i));
  let text = '';
  const input = (index: number): string => (index === 0 ? text : text.slice(index));
  let tree = 0;
  const build = (): SyntaxNode => {
    const id = M._ts_tree_cursor_current_node_type_id_wasm(tree);
    const type = types[id] || 'ERROR';
    const named = id < namedById.length ? namedById[id]! : M._ts_tree_cursor_current_node_is_named_wasm(tree) === 1;
    const start = M._ts_tree_cursor_start_index_wasm(tree);
    const end = M._ts_tree_cursor_end_index_wasm(tree);
    let children: SyntaxNode[] | readonly SyntaxNode[] = NO_CHILDREN;
    if (M._ts_tree_cursor_goto_first_child_wasm(tree) === 1) {
      const list: SyntaxNode[] = [];
      do list.push(build());
      while (M._ts_tree_cursor_goto_next_sibling_wasm(tree) === 1);
      M._ts_tree_cursor_goto_parent_wasm(tree);
      children = list;
    }
    return { type, named, start, end, children };
  };
  return (source) => {
    text = source;
    M.currentParseCallback = input;
    M.currentProgressCallback = null;
    M.currentLogCallback = null;
    let t: number;
    try {
      t = M._ts_parser_parse_wasm(handles[0], handles[1], 0, 0, 0);
    } finally {
      M.currentParseCallback = null;
      text = '';
    }
    if (!t) throw new GrammarError('parse_failed', 'parse failed');
    tree = t;
    try {
      M._ts_tree_root_node_wasm(t); // root node → transfer buffer
      const hasError = M._ts_node_has_error_wasm(t) === 1;
      M._ts_tree_cursor_new_wasm(t); // reads the node, leaves the cursor in the buffer
      try {
        return { root: build(), hasError };
      } finally {
        M._ts_tree_cursor_delete_wasm(t);
      }
    } finally {
      tree = 0;
      M._ts_tree_delete(t);
    }
  };
}

// Copying through a cursor costs a few wasm calls per node and no wasm-side
// Node objects, which is the cheapest way to get a tree we can walk freely
// through the public API.
function copy(cursor: TreeCursor): SyntaxNode {
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
