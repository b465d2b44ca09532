"""The soundness harness's in-container driver (see test/soundness/README.md).

Runs as root in a throwaway container with no network. For each command of the batch it resets the
home and the workspace from pristine copies, runs `bash -c CMD` as the non-root `agent` user under
`strace -f`, bounded by a timeout and a file-size limit, then kills whatever the command left behind.
One JSON line per command goes to results.jsonl next to the batch; the trace goes to <id>.trace.
The host side parses the traces: this script judges nothing.
"""
import json
import re
import os
import resource
import shutil
import subprocess
import sys
import time

HOME = '/home/agent'
WORKSPACE = '/workspace'
PRISTINE = '/opt/soundness/pristine'
AGENT_UID = 1000


def write_tree(root, files):
    """Writes {relative path: {content, mode}} under root, owned by the agent."""
    for rel, spec in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(spec['content'])
        os.chmod(path, int(spec.get('mode', '644'), 8))


def chown_tree(root):
    for dirpath, dirnames, filenames in os.walk(root):
        os.lchown(dirpath, AGENT_UID, AGENT_UID)
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), AGENT_UID, AGENT_UID)


def git(argv, cwd):
    subprocess.run(['git', *argv], cwd=cwd, check=True, env={'HOME': '/nonexistent', 'PATH': '/usr/bin:/bin'},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def prepare(batch):
    """Builds the pristine home (decoy secrets) and workspace (a small git repository) once."""
    shutil.rmtree(PRISTINE, ignore_errors=True)
    home, ws = os.path.join(PRISTINE, 'home'), os.path.join(PRISTINE, 'workspace')
    os.makedirs(home)
    os.makedirs(ws)
    write_tree(home, batch['home'])
    write_tree(ws, batch['workspace'])
    git(['init', '-q'], ws)
    git(['add', '-A'], ws)
    git(['commit', '-q', '-m', 'initial'], ws)
    chown_tree(PRISTINE)
    os.chown(PRISTINE, 0, 0)
    os.chmod(home, 0o755)
    # The agent's forked child copies the pristine tree back, so the agent owns it; its parent is root's
    # with mode 0711: traversable, not listable, so `rm -rf /` or `cd / && rm -rf ./*` never find it.
    # A command naming the path itself could; reset() then stops the batch rather than judge a broken home.
    os.chmod(os.path.dirname(PRISTINE), 0o711)


def as_agent(fn):
    """Runs fn() in a forked child with the agent's uid (no exec: a fork costs ~1 ms, a spawn ~10)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups([])
            os.setgid(AGENT_UID)
            os.setuid(AGENT_UID)
            fn()
        except BaseException:
            code = 1
        os._exit(code)
    return os.waitpid(pid, 0)[1] == 0


def clear_dir(path):
    for name in os.listdir(path):
        p = os.path.join(path, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


def restore():
    """In the agent's child: home and workspace copied back from the pristine tree, /tmp emptied."""
    for target, source in ((HOME, 'home'), (WORKSPACE, 'workspace')):
        if os.path.lexists(target):
            clear_dir(target)
        shutil.copytree(os.path.join(PRISTINE, source), target, symlinks=True, dirs_exist_ok=True)
    clear_dir('/tmp')


def reset():
    """Home, workspace and /tmp as they were before the first command (root fixes what the agent cannot)."""
    if not os.path.isfile(os.path.join(PRISTINE, 'workspace', '.git', 'HEAD')):
        raise SystemExit('the pristine home/workspace were damaged by a command; stopping the batch')
    for target in (HOME, WORKSPACE):
        if os.path.islink(target) or not os.path.isdir(target):
            try:
                os.unlink(target)
            except OSError:
                shutil.rmtree(target, ignore_errors=True)
            os.mkdir(target)
        st = os.stat(target)
        if st.st_uid != AGENT_UID:
            os.chown(target, AGENT_UID, AGENT_UID)
        os.chmod(target, 0o755)
    if not os.path.isdir('/tmp') or os.path.islink('/tmp'):
        shutil.rmtree('/tmp', ignore_errors=True)
        os.mkdir('/tmp')
    os.chmod('/tmp', 0o1777)
    if not as_agent(restore):
        # Something the agent cannot fix (a directory without write permission): root removes it.
        for target, source in ((HOME, 'home'), (WORKSPACE, 'workspace')):
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(['cp', '-a', os.path.join(PRISTINE, source), target], check=True)
        clear_dir('/tmp')


def agent_pids():
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/status' % name) as f:
                for line in f:
                    if line.startswith('Uid:'):
                        if int(line.split()[1]) == AGENT_UID:
                            out.append(int(name))
                        break
        except OSError:
            pass
    return out


def kill_leftovers():
    """Everything the agent user still runs (background jobs, daemons, a fork bomb)."""
    for _ in range(100):
        if not agent_pids():
            return True
        as_agent(lambda: os.kill(-1, 9))
        time.sleep(0.01)
    return False


# A traced command changed the home, the workspace or /tmp only if its trace shows one of these (attempts
# count too: conservative). Opens for writing under /dev and /proc do not change the prepared trees.
OPEN_FOR_WRITE = re.compile(r'\b(?:open|openat|openat2)\((?:[^,]*, )?"([^"]*)", [^)]*\b(?:O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)')
CHANGES = re.compile(r'^\d+\s+(?:creat|unlink|unlinkat|rename|renameat|renameat2|link|linkat|symlink|symlinkat|truncate|'
                     r'mkdir|mkdirat|rmdir|chmod|fchmod|fchmodat|chown|fchown|lchown|fchownat|utimensat)\(')


def changed_anything(trace):
    """Whether the traced command may have changed the prepared trees (then they are restored)."""
    try:
        with open(trace, errors='replace') as f:
            for line in f:
                if CHANGES.match(line):
                    return True
                m = OPEN_FOR_WRITE.search(line)
                if m and not m.group(1).startswith(('/dev/', '/proc/')):
                    return True
    except OSError:
        return True
    return False


def limit_output():
    # Bounds the trace file and anything the command writes (SIGXFSZ past it).
    cap = 64 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


def main():
    batch_path = sys.argv[1]
    io_dir = os.path.dirname(batch_path)
    with open(batch_path) as f:
        batch = json.load(f)
    prepare(batch)
    env = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': HOME, 'USER': 'agent', 'LOGNAME': 'agent',
           'LANG': 'C', 'SHELL': '/bin/bash', 'TERM': 'dumb'}
    timeout = str(batch['timeoutSec'])
    with open(os.path.join(io_dir, 'results.jsonl'), 'a') as results:
        dirty = True
        for n, item in enumerate(batch['commands']):
            t0 = time.monotonic()
            # Restored when the last command may have changed them, and every 50 commands regardless.
            if dirty or n % 50 == 0:
                reset()
            reset_ms = round((time.monotonic() - t0) * 1000)
            trace = os.path.join(io_dir, item['id'] + '.trace')
            argv = ['timeout', '-s', 'KILL', timeout, 'strace', '-f', '--seccomp-bpf', '-qq', '-y', '-s', '512', '-o', trace,
                    '-e', 'trace=' + batch['syscalls'], '-u', 'agent', 'bash', '-c', item['cmd']]
            started = time.monotonic()
            if '\0' in item['cmd']:
                # No exec can carry a NUL byte: bash never sees this command (nor would a sandbox).
                results.write(json.dumps({'id': item['id'], 'error': 'embedded NUL'}) + '\n')
                results.flush()
                continue
            rc = subprocess.run(argv, cwd=WORKSPACE, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=limit_output).returncode
            ms = round((time.monotonic() - started) * 1000)
            t1 = time.monotonic()
            clean = kill_leftovers()
            kill_ms = round((time.monotonic() - t1) * 1000)
            dirty = rc < 0 or rc == 137 or not clean or changed_anything(trace)
            results.write(json.dumps({'id': item['id'], 'rc': rc, 'ms': ms, 'timedOut': rc in (-9, 137), 'clean': clean,
                                      'resetMs': reset_ms, 'killMs': kill_ms}) + '\n')
            results.flush()


main()
