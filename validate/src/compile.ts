import type { CodeRule, CommandRule, EnvRule, PathRule, Policy, VerdictKind } from './policy.ts';

/** A path rule with its globs compiled. */
export interface CompiledPathRule {
  readonly rule: PathRule;
  readonly patterns: readonly string[];
  readonly matcher: PathMatcher;
  readonly except: PathMatcher | null;
}

/** Path rules of one access kind, with a union matcher to reject most paths at once. */
export interface PathRuleSet {
  readonly rules: readonly CompiledPathRule[];
  readonly any: PathMatcher;
}

/**
 * Matches a path against many globs quickly. `**\/name` globs are tested on
 * the last segment only, `**\/dir/**` globs as an unanchored segment search;
 * only the rest need a full anchored regex (backtracking over `.*` prefixes
 * was the chain's hottest spot).
 */
export interface PathMatcher {
  test(path: string): boolean;
}

const DEEP_PREFIX = '(?:.*/)?';

function matcher(globs: readonly string[]): PathMatcher {
  const base: string[] = [];
  const seg: string[] = [];
  const deep: string[] = [];
  const full: string[] = [];
  for (const g of globs) {
    const rest = g.startsWith('**/') ? g.slice(3) : null;
    if (rest !== null && !rest.includes('/')) base.push(globSource(rest));
    else if (rest !== null && /^[^*?[\]]+\/\*\*$/.test(rest)) seg.push(escapeRe(rest.slice(0, -3)));
    // `^(?:.*/)?R$` is `(?:^|/)R$` searched unanchored: the engine only
    // tries R after a slash instead of backtracking `.*` per alternative.
    else if (rest !== null) deep.push(globSource(g).slice(DEEP_PREFIX.length));
    else full.push(globSource(g));
  }
  const b = base.length ? new RegExp('^(?:' + base.join('|') + ')$', 'is') : null;
  const s = seg.length ? new RegExp('(?:^|/)(?:' + seg.join('|') + ')(?:/|$)', 'is') : null;
  const d = deep.length ? new RegExp('(?:^|/)(?:' + deep.join('|') + ')$', 'is') : null;
  const f = full.length ? new RegExp('^(?:' + full.join('|') + ')$', 'is') : null;
  return {
    test(path) {
      if (b !== null && b.test(path.slice(path.lastIndexOf('/') + 1))) return true;
      if (s !== null && s.test(path)) return true;
      if (d !== null && d.test(path)) return true;
      return f !== null && f.test(path);
    },
  };
}

/** Policy with rules indexed for the hot path. */
export interface CompiledPolicy {
  readonly policy: Policy;
  readonly commandRules: ReadonlyMap<string, readonly CommandRule[]>;
  readonly readRules: PathRuleSet;
  readonly writeRules: PathRuleSet;
  readonly envRules: readonly { rule: EnvRule; names: RegExp; value: RegExp | null }[];
  readonly codeRules: readonly { rule: CodeRule; all: readonly RegExp[] }[];
  readonly argRegexes: ReadonlyMap<CommandRule, readonly RegExp[]>;
  readonly networkTools: ReadonlySet<string>;
  readonly localHosts: ReadonlySet<string>;
  /** Effective verdict for a built-in rule id. */
  verdictFor(rule: string, fallback: VerdictKind): VerdictKind;
}

/** Converts a path glob (`**`, `*`, `?`, `[…]`) to an anchored, case-insensitive regex. */
export function globToRegex(glob: string): RegExp {
  return new RegExp('^' + globSource(glob) + '$', 'is');
}

function globSource(glob: string): string {
  let re = '';
  let i = 0;
  if (glob.startsWith('**/')) {
    re = DEEP_PREFIX;
    i = 3;
  }
  for (; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else if (ch === '\\' && i + 1 < glob.length) {
      re += escapeRe(glob[i + 1]!);
      i++;
    } else re += escapeRe(ch);
  }
  return re;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Compiles a policy once per validator. */
export function compilePolicy(policy: Policy): CompiledPolicy {
  const commandRules = new Map<string, CommandRule[]>();
  const argRegexes = new Map<CommandRule, RegExp[]>();
  for (const r of policy.commands) {
    for (const c of r.commands) {
      const list = commandRules.get(c) ?? [];
      list.push(r);
      commandRules.set(c, list);
    }
    argRegexes.set(r, (r.argsMatch ?? []).map((s) => new RegExp(s, 'u')));
  }
  const path = (r: PathRule): CompiledPathRule => ({
    rule: r,
    patterns: r.patterns,
    matcher: matcher(r.patterns),
    except: r.except?.length ? matcher(r.except) : null,
  });
  const set = (access: 'read' | 'write'): PathRuleSet => {
    const rules = policy.paths.filter((r) => r.access === access);
    return { rules: rules.map(path), any: matcher(rules.flatMap((r) => r.patterns)) };
  };
  const overrides = policy.overrides;
  return {
    policy,
    commandRules,
    argRegexes,
    readRules: set('read'),
    writeRules: set('write'),
    envRules: policy.env.map((rule) => ({
      rule,
      names: new RegExp('^(?:' + rule.names.map((n) => n.split('*').map(escapeRe).join('.*')).join('|') + ')$'),
      value: rule.valueMatch === undefined ? null : new RegExp(rule.valueMatch, 'u'),
    })),
    codeRules: policy.code.map((rule) => ({ rule, all: rule.all.map((s) => new RegExp(s, 'u')) })),
    networkTools: new Set(policy.network.tools),
    localHosts: new Set(policy.network.localHosts.map((h) => h.toLowerCase())),
    verdictFor: (rule, fallback) => overrides[rule] ?? fallback,
  };
}

/**
 * Whether an argument glob `a` and a policy glob `b` can match a common string. Used when a command
 * argument is itself a glob (`cat /e*\/sh*w`): it is flagged when it could
 * expand to a protected path.
 */
export function globsIntersect(a: string, b: string): boolean {
  // In bash (no globstar) `**` in an argument is just `*`: it never crosses `/`.
  return tokensIntersect(argumentGlob(a), policyGlob(b));
}

/** A command argument tokenised for {@link tokensIntersect}. */
export type GlobTokens = readonly Tok[];

/** Tokenises an argument glob (`**` is `*`). */
export function argumentGlob(a: string): GlobTokens {
  return tokens(a, false);
}

// Policy globs are few and fixed: tokenise each once.
const policyTokens = new Map<string, Tok[]>();

/** Tokenises a policy glob (`**` crosses `/`), cached. */
export function policyGlob(b: string): GlobTokens {
  let t = policyTokens.get(b);
  if (t === undefined) {
    t = tokens(b, true);
    if (policyTokens.size < 4096) policyTokens.set(b, t);
  }
  return t;
}

/**
 * {@link globsIntersect} on tokenised globs: does some string match both? A memoised walk over (token of `ta`,
 * token of `tb`) pairs. It runs for every glob argument against every protected pattern, so it keeps its state
 * in module variables and one reused memo rather than a closure and a fresh table per call.
 */
export function tokensIntersect(ta: GlobTokens, tb: GlobTokens): boolean {
  const w = tb.length + 1;
  const size = (ta.length + 1) * w;
  if (memo.length < size) memo = new Uint8Array(Math.max(size, memo.length * 2));
  else memo.fill(0, 0, size);
  A = ta;
  B = tb;
  W = w;
  try {
    return go(0, 0);
  } finally {
    A = B = NO_TOKENS;
  }
}

const NO_TOKENS: GlobTokens = [];
// memo[i * W + j]: 0 unknown, 1 false (or being computed), 2 true.
let memo = new Uint8Array(1024);
let A: GlobTokens = NO_TOKENS;
let B: GlobTokens = NO_TOKENS;
let W = 0;

function go(i: number, j: number): boolean {
  const key = i * W + j;
  const hit = memo[key]!;
  if (hit !== 0) return hit === 2;
  memo[key] = 1;
  let r: boolean;
  const x = A[i];
  const y = B[j];
  if (x === undefined && y === undefined) r = true;
  else if (x !== undefined && x.star) {
    r = go(i + 1, j) || (y !== undefined && (y.star ? go(i, j + 1) : (x.deep || !y.slash || y.neg) && go(i, j + 1)));
  } else if (y !== undefined && y.star) {
    r = go(i, j + 1) || (x !== undefined && (y.deep || !x.slash || x.neg) && go(i + 1, j));
  } else if (x === undefined || y === undefined) r = false;
  else r = overlap(x, y) && go(i + 1, j + 1);
  memo[key] = r ? 2 : 1;
  return r;
}

export interface Tok {
  star: boolean;
  deep: boolean;
  /** Characters this token matches (for neg, the ones it excludes). */
  set: Set<string>;
  neg: boolean;
  any: boolean;
  /** `set` holds `/`. */
  slash: boolean;
  /** The character of a token that matches exactly one (a literal), else null. */
  ch: string | null;
}

function tok(star: boolean, deep: boolean, set: Set<string>, neg: boolean, any: boolean): Tok {
  const ch = !star && !neg && set.size === 1 ? (set.values().next().value as string) : null;
  return { star, deep, set, neg, any, slash: set.has('/'), ch };
}

function tokens(g: string, allowDeep: boolean): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < g.length; i++) {
    const ch = g[i]!;
    if (ch === '*') {
      const deep = g[i + 1] === '*';
      if (deep) i++;
      out.push(tok(true, deep && allowDeep, new Set(), false, false));
    } else if (ch === '?') out.push(tok(false, false, new Set('/'), true, true));
    else if (ch === '[' && g.indexOf(']', i + 2) > 0) {
      const close = g.indexOf(']', i + 2);
      let body = g.slice(i + 1, close);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      const set = new Set<string>();
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-' && body[k + 2] !== undefined) {
          for (let c = body.charCodeAt(k); c <= body.charCodeAt(k + 2); c++) set.add(String.fromCharCode(c).toLowerCase());
          k += 2;
        } else set.add(body[k]!.toLowerCase());
      }
      out.push(tok(false, false, set, neg, false));
      i = close;
    } else if (ch === '\\' && i + 1 < g.length) {
      out.push(tok(false, false, new Set([g[i + 1]!.toLowerCase()]), false, false));
      i++;
    } else out.push(tok(false, false, new Set([ch.toLowerCase()]), false, false));
  }
  return out;
}

function overlap(x: Tok, y: Tok): boolean {
  if (x.ch !== null && y.ch !== null) return x.ch === y.ch;
  if (!x.neg && !y.neg) {
    for (const c of x.set) if (y.set.has(c)) return true;
    return false;
  }
  if (x.neg && y.neg) return true;
  const [pos, neg] = x.neg ? [y, x] : [x, y];
  for (const c of pos.set) if (!neg.set.has(c)) return true;
  return false;
}
