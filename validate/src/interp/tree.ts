import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Language, Parser } from 'web-tree-sitter';
import type { TreeCursor } from 'web-tree-sitter';

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

const parsers = new Map<TreeLang, Parser>();
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
function parserFor(lang: TreeLang): Parser {
  let p = parsers.get(lang);
  if (p === undefined) {
    const wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => unknown } }).WebAssembly;
    const language = Language.loadSync(new wasm.Module(readFileSync(wasmPath(lang))) as Parameters<typeof Language.loadSync>[0]);
    p = new Parser();
    p.setLanguage(language);
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
  const parser = parserFor(lang);
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

/** First child with field name `f`. */
export function field(n: Node, f: string): Node | undefined {
  for (const c of n.children) if (c.field === f) return c;
  return undefined;
}

/** Children that are not punctuation. */
export function named(n: Node): Node[] {
  return n.children.filter((c) => c.named);
}
