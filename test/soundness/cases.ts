// The commands the harness runs: the shared corpora (<repo>/../shared/corpus), a deterministic sample of
// them for `make test`, and the metamorphic variants of every hostile line.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRANSFORMS, variants } from '../../validate/src/metamorphic.ts';
import type { Case } from './harness.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CORPUS_DIR = resolve(REPO, '..', 'shared', 'corpus');

interface Line {
  readonly cmd: string;
  readonly category?: string;
}

function readJsonl(file: string): Line[] {
  const p = join(CORPUS_DIR, file);
  if (!existsSync(p)) throw new Error(`corpus file missing: ${p} (the shared corpora live next to the repository, see ${CORPUS_DIR}/README.md)`);
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);
}

/** A stable sort key from a seed and a text: the "random" sample is the same on every machine. */
function rank(seed: string, text: string): string {
  return createHash('sha256').update(seed).update('\0').update(text).digest('hex');
}

/** The first `n` of `items` in seeded-hash order. */
export function sample<T>(items: readonly T[], n: number, seed: string, key: (t: T) => string): T[] {
  return [...items]
    .map((t, i) => ({ t, k: rank(seed, `${i}\0${key(t)}`) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, n)
    .map((x) => x.t);
}

export interface CaseSet {
  readonly hostile: Case[];
  readonly benign: Case[];
  readonly variants: Case[];
}

export interface CaseOptions {
  /** How many benign lines (all when undefined). */
  readonly benign?: number;
  /** How many variants per transformation (all when undefined). */
  readonly variantsPerTransform?: number;
  readonly seed?: string;
}

/** All hostile lines, the benign lines asked for, and the variants of every hostile line. */
export function loadCases(opts: CaseOptions = {}): CaseSet {
  const seed = opts.seed ?? 'airlock-soundness-v1';
  const hostileLines = readJsonl('hostile-sample.jsonl');
  const benignLines = readJsonl('benign.jsonl');
  const hostile: Case[] = hostileLines.map((l, i) => ({ id: `h${i}`, cmd: l.cmd, source: 'hostile', ...(l.category ? { category: l.category } : {}) }));
  const benignPicked = opts.benign === undefined ? benignLines.map((l, i) => ({ l, i })) : sample(benignLines.map((l, i) => ({ l, i })), opts.benign, seed, (x) => x.l.cmd);
  const benign: Case[] = benignPicked.map(({ l, i }) => ({ id: `b${i}`, cmd: l.cmd, source: 'benign' }));
  const all: Case[] = [];
  hostile.forEach((h) => {
    variants(h.cmd).forEach((v) => {
      all.push({ id: `${h.id}v${TRANSFORMS.indexOf(v.transform)}`, cmd: v.cmd, source: 'variant', transform: v.transform, originalId: h.id, adds: v.adds, renames: v.renames, ...(h.category ? { category: h.category } : {}) });
    });
  });
  let picked = all;
  if (opts.variantsPerTransform !== undefined) {
    picked = [];
    for (const t of TRANSFORMS) picked.push(...sample(all.filter((c) => c.transform === t), opts.variantsPerTransform, seed, (c) => c.cmd));
  }
  return { hostile, benign, variants: picked };
}
