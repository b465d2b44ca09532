// Workspace diffs through the harness API (issue 13: "snapshots, diff, restore, fork" in the SDK):
// computed by the harness from the snapshots the run's verified log names, so an agent needs no
// access to the snapshot store; an agent sees only its own runs; a reviewer sees every run; big
// diffs are bounded per reply and narrowed with `paths`.
import { describe, expect, it } from 'vitest';
import { MAX_DIFF_PATCH_BYTES } from '@airlock/proto';
import { useStack, errorCode } from '../fixtures.ts';

const stack = useStack({ harness: { auth: 'required' as const } });

const as = (...args: Parameters<typeof stack.as>) => stack.as(...args);
const code = errorCode;

describe('run.diff', () => {
  it('lists and patches the changes between two steps, for the run\'s agent and a reviewer, never another agent', async () => {
    await using bot = await as('bot-d', 'agent');
    await using other = await as('bot-e', 'agent');
    await using rita = await as('rita', 'reviewer');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    await r.exec("printf 'one\\ntwo\\n' > a.txt && mkdir -p sub && printf 'x' > sub/b.txt && printf '\\0\\1' > bin.dat");
    await r.exec("printf 'one\\nTWO\\n' > a.txt && rm sub/b.txt && printf 'new\\n' > c.txt && chmod +x c.txt");

    const all = await r.diff({ from: 0, patch: true });
    expect(all.from.step).toBe(0);
    expect(all.to.step).toBe(2);
    expect(all.changes.filter((c) => c.type === 'file').map((c) => `${c.change} ${c.path}`).sort()).toEqual(['added a.txt', 'added bin.dat', 'added c.txt']);
    expect(all.patches?.find((p) => p.path === 'bin.dat')?.kind).toBe('binary');

    const step2 = await r.diff({ from: 1, to: 2, patch: true });
    expect(step2.changes.map((c) => `${c.change} ${c.path}`).sort()).toEqual(['added c.txt', 'deleted sub/b.txt', 'modified a.txt']);
    const a = step2.patches?.find((p) => p.path === 'a.txt');
    expect(a?.kind === 'text' ? a.patch : '').toContain('-two\n+TWO');
    // Paths only, narrowed.
    const narrowed = await r.diff({ from: 1, to: 2, paths: ['sub/'] });
    expect(narrowed.changes.map((c) => c.path)).toEqual(['sub/b.txt']);
    expect(narrowed.patches).toBeUndefined();

    expect((await rita.run(run.runId).diff({ from: 1, to: 2 })).changes).toHaveLength(3);
    expect(await code(other.run(run.runId).diff({ from: 0 }))).toBe('forbidden');
    expect(await code(r.diff({ from: 7 }))).toBe('bad_request');
    await bot.close(run.runId);
  });

  it('bounds the patches of one reply and names the files left out, which `paths` then shows', async () => {
    await using bot = await as('bot-f', 'agent');
    const run = await bot.open({});
    const r = bot.run(run.runId);
    // Eight text files of ~100 KB each: their patches together are past one reply's budget.
    await r.exec("for i in 1 2 3 4 5 6 7 8; do seq 1 19000 | sed \"s/^/f$i-/\" > f$i.txt; done");
    const d = await r.diff({ from: 0, patch: true });
    const text = (d.patches ?? []).filter((p) => p.kind === 'text');
    const omitted = (d.patches ?? []).filter((p) => p.kind === 'omitted').map((p) => p.path);
    expect(text.length).toBeGreaterThan(0);
    expect(omitted.length).toBeGreaterThan(0);
    expect(text.reduce((n, p) => n + (p.kind === 'text' ? Buffer.byteLength(p.patch) : 0), 0)).toBeLessThanOrEqual(MAX_DIFF_PATCH_BYTES);
    const one = await r.diff({ from: 0, patch: true, paths: [omitted[0]!] });
    expect(one.patches).toMatchObject([{ path: omitted[0], kind: 'text' }]);
    await bot.close(run.runId);
  });
});
