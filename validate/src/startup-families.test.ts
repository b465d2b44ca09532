// Shells that read start-up files (login, interactive, BASH_ENV/ENV): every way of starting one predicts what
// its start-up files run, or is opaque when a file is not in the model. The same members run in real bash
// under strace in test/integration/soundness-startup.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { createValidator, type Validator } from './index.ts';
import { SANDBOX_STARTUP, shellStart, startupSteps, type StartupModel } from './startup.ts';
import { LOGIN_STARTS, INNER, loginMembers } from './startup-members.ts';

let clean: Validator;
beforeAll(async () => {
  clean = await createValidator();
});

const word = (value: string | null) => ({ value, raw: value ?? '$x', start: 0, end: 0, flags: 0 }) as never;
const steps = (shell: string, ...args: string[]) => startupSteps(shellStart(shell, args.map(word))).map((s) => ('path' in s ? s.path : 'firstOf' in s ? s.firstOf.join('|') : `$${s.env}`));

describe('which files a shell reads first', () => {
  it('bash: login, interactive, non-interactive, and the options that change them', () => {
    expect(steps('bash', '-lc', 'x')).toEqual(['/etc/profile', '~/.bash_profile|~/.bash_login|~/.profile', '~/.bash_logout', '/etc/bash.bash_logout', '$BASH_ENV']);
    expect(steps('bash', '-c', 'x')).toEqual(['$BASH_ENV']);
    expect(steps('bash', '-p', '-c', 'x')).toEqual([]);
    expect(steps('bash', '-i', '-c', 'x')).toEqual(['/etc/bash.bashrc', '~/.bashrc']);
    expect(steps('bash', '--norc', '-i', '-c', 'x')).toEqual([]);
    expect(steps('bash', '--rcfile', '/tmp/r', '-i')).toEqual(['/tmp/r']);
    expect(steps('bash', '--posix', '-i')).toEqual(['$ENV']);
    expect(steps('bash', '--noprofile', '-l', '-c', 'x')).toEqual(['$BASH_ENV']);
    expect(steps('-bash', '-c', 'x')[0]).toBe('/etc/profile');
  });
  it('sh/dash, zsh, csh', () => {
    expect(steps('sh', '-l', '-c', 'x')).toEqual(['/etc/profile', '~/.profile']);
    expect(steps('dash', '-i')).toEqual(['$ENV']);
    expect(steps('zsh', '-c', 'x')).toEqual(['/etc/zsh/zshenv', '/etc/zshenv', '~/.zshenv']);
    expect(steps('zsh', '-f', '-c', 'x')).toEqual(['/etc/zsh/zshenv', '/etc/zshenv']);
    expect(steps('tcsh', '-c', 'x')).toEqual(['/etc/csh.cshrc', '~/.tcshrc|~/.cshrc']);
  });
});

describe('a login shell predicts what /etc/profile runs, however it is started', () => {
  const members = loginMembers();
  it(`${members.length} members predict id (from /etc/profile) or are opaque`, () => {
    expect(members.length).toBeGreaterThan(100);
    const missing = members.filter((m) => {
      const e = clean.validate(m).effects;
      return !e.exec.includes('id') && e.opaque.length === 0;
    });
    expect(missing).toEqual([]);
  });
  it('ordinary `bash -lc CMD` on a clean home stays allowed', () => {
    for (const inner of INNER) {
      for (const start of ['bash -lc', 'bash -l -c', 'bash --login -c', 'sh -lc', '/bin/bash -lc', 'env -i bash -lc', 'timeout 60 bash -lc']) {
        const cmd = `${start} '${inner}'`;
        expect(clean.validate(cmd).verdict, cmd).toBe('allow');
      }
    }
  });
  it(`the starts are ${LOGIN_STARTS.length} spellings`, () => expect(LOGIN_STARTS.length).toBeGreaterThan(20));
});

describe('a start-up file the model does not know makes the start opaque', () => {
  const without = (path: string): StartupModel => ({ ...SANDBOX_STARTUP, files: Object.fromEntries(Object.entries(SANDBOX_STARTUP.files).filter(([p]) => p !== path)) });
  it('a home ~/.profile the model does not hold: every login start asks', async () => {
    const v = await createValidator({ startup: without('~/.profile') });
    const members = loginMembers();
    const allowed = members.filter((m) => v.validate(m).verdict === 'allow');
    expect(allowed).toEqual([]);
    expect(v.validate("bash -lc 'ls'").rule).toBe('opaque.startup_file');
    // A non-login shell does not read it.
    expect(v.validate("bash -c 'ls'").verdict).toBe('allow');
  });
  it('a known ~/.bash_profile is followed: its programs are predicted, and ~/.profile is then not read', async () => {
    const v = await createValidator({ startup: { ...SANDBOX_STARTUP, files: { ...SANDBOX_STARTUP.files, '~/.bash_profile': 'uname -a', '~/.profile': null } } });
    const r = v.validate("bash -lc 'ls'");
    expect(r.effects.exec).toEqual(expect.arrayContaining(['id', 'uname', 'ls']));
    expect(r.verdict).toBe('allow');
  });
  it('an unknown /etc/profile.d makes it opaque; another user (su -, sudo -i, login) always is', async () => {
    const v = await createValidator({ startup: without('/etc/profile.d/') });
    expect(v.validate("bash -lc 'ls'").rule).toBe('opaque.startup_file');
    for (const c of ['su - -c ls', 'su -l root -c ls', 'su --login nobody -c id', 'runuser -l nobody -c id', 'sudo -i ls', 'sudo -u root --login ls', 'login -f root', 'su nobody']) {
      expect(clean.validate(c).effects.opaque.map((o) => o.rule), c).toContain('opaque.startup_file');
    }
  });
  it('BASH_ENV and ENV name the file a shell sources', () => {
    for (const c of ['BASH_ENV=/tmp/x bash -c ls', 'export BASH_ENV=/tmp/x; bash -c ls', 'ENV=/tmp/x sh -i -c ls', 'BASH_ENV="$f" bash -c ls']) {
      const r = clean.validate(c);
      expect(r.verdict, c).not.toBe('allow');
      expect(r.effects.opaque.map((o) => o.rule), c).toContain('opaque.startup_file');
    }
  });
});
