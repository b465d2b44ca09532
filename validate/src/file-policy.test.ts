import { describe, expect, it } from 'vitest';
import { defaultPolicy, fileChecker, parsePolicy, policyHash, resolveWorkspacePath } from './index.ts';

describe('resolveWorkspacePath', () => {
  it('folds . and .. and keeps paths inside the workspace', () => {
    expect(resolveWorkspacePath('/workspace', 'src/a.ts')).toEqual({ inside: true, rel: 'src/a.ts', abs: '/workspace/src/a.ts' });
    expect(resolveWorkspacePath('/workspace', './src/../b//c/')).toEqual({ inside: true, rel: 'b/c', abs: '/workspace/b/c' });
    expect(resolveWorkspacePath('/workspace', '.')).toEqual({ inside: true, rel: '.', abs: '/workspace' });
    expect(resolveWorkspacePath('/workspace/', '/workspace/x')).toEqual({ inside: true, rel: 'x', abs: '/workspace/x' });
    // `~` is a file name, never the home directory.
    expect(resolveWorkspacePath('/workspace', '~/x')).toEqual({ inside: true, rel: '~/x', abs: '/workspace/~/x' });
  });

  it('finds every way out', () => {
    for (const p of ['../etc/passwd', 'src/../../etc', '/etc/passwd', '/workspace2/x', '/workspace/../workspace2', '..', '/']) {
      expect(resolveWorkspacePath('/workspace', p).inside, p).toBe(false);
    }
    expect(resolveWorkspacePath('/workspace', '/workspace/../etc/shadow')).toEqual({ inside: false, abs: '/etc/shadow' });
  });
});

describe('fileChecker', () => {
  it('denies outside paths, asks for sensitive writes, allows ordinary ones', async () => {
    const c = fileChecker(await defaultPolicy());
    expect(c.check('/workspace', '../x', 'read')).toMatchObject({ verdict: 'deny', rule: 'file.outside_workspace' });
    expect(c.check('/workspace', '/etc/passwd', 'stat')).toMatchObject({ verdict: 'deny', rule: 'file.outside_workspace' });
    expect(c.check('/workspace', 'src/main.ts', 'write')).toMatchObject({ verdict: 'allow' });
    for (const p of ['.git/hooks/pre-commit', '.github/workflows/ci.yml', '.claude/settings.json', '.codex/config.toml', '.mcp.json', '.cursor/rules/x.md', 'pkg/.mcp.json']) {
      expect(c.check('/workspace', p, 'write').verdict, p).toBe('ask');
    }
    // The sensitive set is about writes: reading or listing a hook is fine.
    expect(c.check('/workspace', '.git/hooks/pre-commit', 'read')).toMatchObject({ verdict: 'allow' });
    expect(c.check('/workspace', '.github/workflows', 'list')).toMatchObject({ verdict: 'allow' });
  });

  it('applies the policy path rules bash commands meet (strictest wins)', async () => {
    const c = fileChecker(await defaultPolicy());
    // persistence.tool_config (ask) and file.sensitive (ask) both match; an ask either way.
    expect(c.check('/workspace', '.git/hooks/post-checkout', 'write').verdict).toBe('ask');
    // persistence.ssh_keys is deny in the default policy, whatever the file tools' own set says.
    expect(c.check('/workspace', '.ssh/authorized_keys', 'write')).toMatchObject({ verdict: 'deny', rule: 'persistence.ssh_keys' });
  });

  it('takes its sensitive set and verdict from the policy', async () => {
    const base = await defaultPolicy();
    const strict = parsePolicy(JSON.stringify({ ...base, files: { sensitive: ['secrets/**'], sensitiveVerdict: 'deny' } }));
    const c = fileChecker(strict);
    expect(c.check('/w', 'secrets/a', 'write')).toMatchObject({ verdict: 'deny', rule: 'file.sensitive' });
    // Replaces the default set.
    expect(c.check('/w', '.codex/config.toml', 'write').verdict).toBe('allow');
    expect(() => parsePolicy(JSON.stringify({ ...base, files: { sensitiveVerdict: 'allow' } }))).toThrow(/files/);
  });

  it('leaves the hash of a policy without a files section unchanged', async () => {
    const base = await defaultPolicy();
    expect(policyHash(base)).toBe(policyHash(parsePolicy(JSON.stringify(base))));
    expect('files' in base).toBe(false);
  });
});
