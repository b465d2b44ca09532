import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { TreeCursor } from 'web-tree-sitter';
import { rawTreeSitter, type RawModule } from '../grammar.ts';

/** A syntax node of interpreter code, copied out of wasm (offsets are JS string indices). */
export interface Node {
  readonly type: string;
  /** Named by the grammar (anonymous nodes are punctuation and keywords). */
  readonly named: boolean;
  /** Field name under the parent (`function`, `arguments`, `object`, …) or null. */
  readonly field: string | null;
  readonly start: number;
  readonly end: number;
  readonly children: readonly Node[];
}

/** A parsed piece of interpreter code. */
export interface CodeTree {
  readonly root: Node;
  readonly hasError: boolean;
  readonly src: string;
}

/** Languages parsed with a tree-sitter grammar. */
export const TREE_LANGS = ['python', 'javascript'] as const;
export type TreeLang = (typeof TREE_LANGS)[number];

/** A loaded grammar: its parser and, when web-tree-sitter's raw exports are reachable, the fast parse-and-copy. */
interface Loaded {
  readonly parser: Parser;
  readonly fast: FastParse | null;
}
type FastParse = (src: string, deadline: number) => CodeTree | null;

const parsers = new Map<TreeLang, Loaded>();
const NONE: readonly Node[] = [];

function wasmPath(lang: TreeLang): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve(`tree-sitter-${lang}/package.json`)), `tree-sitter-${lang}.wasm`);
}

/**
 * The parser for `lang`, loaded synchronously on first use (a few ms, once per
 * process): commands without interpreter code never pay for these grammars.
 * web-tree-sitter must already be initialised, which loading the bash grammar does.
 */
function parserFor(lang: TreeLang): Loaded {
  let p = parsers.get(lang);
  if (p === undefined) {
    const wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => unknown } }).WebAssembly;
    const language = Language.loadSync(new wasm.Module(readFileSync(wasmPath(lang))) as Parameters<typeof Language.loadSync>[0]);
    const parser = new Parser();
    parser.setLanguage(language);
    const raw = rawTreeSitter();
    p = { parser, fast: raw === null ? null : fastCodeParser(parser, raw, language) };
    parsers.set(lang, p);
  }
  return p;
}

/** Inputs at least this long are parsed with a progress callback that enforces the deadline. */
const CHECKED_PARSE_MIN = 4096;

/**
 * Loads the grammar for `lang` if needed; returns the milliseconds spent (0 when it was loaded).
 * The one-time load is not validation work: callers move their deadline by it.
 */
export function loadGrammar(lang: TreeLang): number {
  if (parsers.has(lang)) return 0;
  const t0 = performance.now();
  parserFor(lang);
  return performance.now() - t0;
}

/** Parses `src` as `lang` and copies the tree; null when cancelled by the deadline. */
export function parseCode(lang: TreeLang, src: string, deadline: number): CodeTree | null {
  const loaded = parserFor(lang);
  return loaded.fast !== null ? loaded.fast(src, deadline) : publicParse(loaded.parser, src, deadline);
}

/**
 * The same parse and copy through web-tree-sitter's public API (`Tree`, `TreeCursor`): used when the
 * raw exports are not reachable, and by the test that checks the fast copy against it.
 */
export function parseCodePublic(lang: TreeLang, src: string, deadline: number): CodeTree | null {
  return publicParse(parserFor(lang).parser, src, deadline);
}

function publicParse(parser: Parser, src: string, deadline: number): CodeTree | null {
  let checks = 0;
  const tree =
    src.length < CHECKED_PARSE_MIN
      ? parser.parse(src)
      : parser.parse(src, null, { progressCallback: (() => ++checks % 16 === 0 && performance.now() > deadline) as () => void });
  if (tree === null) {
    // tree-sitter resumes a cancelled parse on the next call unless reset (see grammar.ts).
    parser.reset();
    return null;
  }
  try {
    const hasError = tree.rootNode.hasError;
    const cursor = tree.walk();
    try {
      return { root: copy(cursor), hasError, src };
    } finally {
      cursor.delete();
    }
  } finally {
    tree.delete();
  }
}

function copy(cursor: TreeCursor): Node {
  const type = cursor.nodeType;
  const isNamed = cursor.nodeIsNamed;
  const field = cursor.currentFieldName;
  const start = cursor.startIndex;
  const end = cursor.endIndex;
  let children: Node[] | readonly Node[] = NONE;
  if (cursor.gotoFirstChild()) {
    const list: Node[] = [];
    do if (cursor.nodeType !== 'comment') list.push(copy(cursor));
    while (cursor.gotoNextSibling());
    cursor.gotoParent();
    children = list;
  }
  return { type, named: isNamed, field, start, end, children };
}

/**
 * Parse and copy through web-tree-sitter's raw wasm exports, the way `grammar.ts` copies bash trees:
 * no `Tree`/`TreeCursor` objects (each registers a finalizer), no cursor marshalling through the
 * transfer buffer around every call, type names, named-ness and comment skipping from tables built
 * once. Produces exactly the tree {@link copy} does (`tree.test.ts` compares them); the deadline is
 * enforced the same way (a progress callback for inputs of {@link CHECKED_PARSE_MIN} and more).
 */
function fastCodeParser(parser: Parser, M: RawModule, language: Language): FastParse {
  const handles = parser as unknown as { 0: number; 1: number };
  const types = language.types;
  const fields = language.fields;
  const namedById: boolean[] = [];
  const commentById: boolean[] = [];
  for (let i = 0; i < types.length; i++) {
    namedById.push(language.nodeTypeIsNamed(i));
    commentById.push(types[i] === 'comment');
  }
  let text = '';
  let deadline = 0;
  let checks = 0;
  const input = (index: number): string => (index === 0 ? text : text.slice(index));
  const progress = (): boolean => ++checks % 16 === 0 && performance.now() > deadline;
  let tree = 0;
  // `id` is the current node's type id, read by the caller (which needs it to skip comments).
  const build = (id: number): Node => {
    const type = types[id] || 'ERROR';
    const isNamed = id < namedById.length ? namedById[id]! : M._ts_tree_cursor_current_node_is_named_wasm(tree) === 1;
    const fieldName = fields[M._ts_tree_cursor_current_field_id_wasm(tree)] as string | null;
    const start = M._ts_tree_cursor_start_index_wasm(tree);
    const end = M._ts_tree_cursor_end_index_wasm(tree);
    let children: Node[] | readonly Node[] = NONE;
    if (M._ts_tree_cursor_goto_first_child_wasm(tree) === 1) {
      const list: Node[] = [];
      do {
        const child = M._ts_tree_cursor_current_node_type_id_wasm(tree);
        if (commentById[child] !== true) list.push(build(child));
      } while (M._ts_tree_cursor_goto_next_sibling_wasm(tree) === 1);
      M._ts_tree_cursor_goto_parent_wasm(tree);
      children = list;
    }
    return { type, named: isNamed, field: fieldName, start, end, children };
  };
  return (src, until) => {
    text = src;
    deadline = until;
    checks = 0;
    M.currentParseCallback = input;
    M.currentProgressCallback = src.length < CHECKED_PARSE_MIN ? null : progress;
    M.currentLogCallback = null;
    let t: number;
    try {
      t = M._ts_parser_parse_wasm(handles[0], handles[1], 0, 0, 0);
    } finally {
      M.currentParseCallback = null;
      M.currentProgressCallback = null;
      text = '';
    }
    if (!t) {
      // tree-sitter resumes a cancelled parse on the next call unless reset (see grammar.ts).
      parser.reset();
      return null;
    }
    tree = t;
    try {
      M._ts_tree_root_node_wasm(t); // root node → transfer buffer
      const hasError = M._ts_node_has_error_wasm(t) === 1;
      M._ts_tree_cursor_new_wasm(t); // reads the node, leaves the cursor in the buffer
      try {
        return { root: build(M._ts_tree_cursor_current_node_type_id_wasm(t)), hasError, src };
      } finally {
        M._ts_tree_cursor_delete_wasm(t);
      }
    } finally {
      tree = 0;
      M._ts_tree_delete(t);
    }
  };
}

/** First child with field name `f`. */
export function field(n: Node, f: string): Node | undefined {
  for (const c of n.children) if (c.field === f) return c;
  return undefined;
}

/** Children that are not punctuation. */
export function named(n: Node): Node[] {
  return n.children.filter((c) => c.named);
}
