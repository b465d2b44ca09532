"""The soundness harness's in-container driver (see test/soundness/README.md).

Runs as root in a throwaway container with no network. For each command of the batch it resets the
home and the workspace from pristine copies, runs `bash -c CMD` as the non-root `agent` user under
`strace -f`, bounded by a timeout and a file-size limit, then kills whatever the command left behind.
One JSON line per command goes to results.jsonl next to the batch; the trace goes to <id>.trace.
The host side parses the traces: this script judges nothing.
"""
import json
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
    # Root-only parent: a command that deletes everything the agent owns (`cd / && rm -rf ./*`) cannot
    # reach the pristine copies.
    os.chmod(os.path.dirname(PRISTINE), 0o700)
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


def reset():
    """Home, workspace and /tmp as they were before the first command."""
    for target, source in ((HOME, 'home'), (WORKSPACE, 'workspace')):
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(['cp', '-a', os.path.join(PRISTINE, source), target], check=True)
    clear_dir('/tmp')
    os.chmod('/tmp', 0o1777)


def kill_leftovers():
    """Everything the agent user still runs (background jobs, daemons, a fork bomb)."""
    for _ in range(50):
        subprocess.run(['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', 'kill', '-9', '-1'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        left = subprocess.run(['pgrep', '-u', str(AGENT_UID)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if not left.stdout.strip():
            return True
        time.sleep(0.02)
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
        for item in batch['commands']:
            reset()
            trace = os.path.join(io_dir, item['id'] + '.trace')
            argv = ['timeout', '-s', 'KILL', timeout, 'strace', '-f', '-qq', '-y', '-s', '512', '-o', trace,
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
            clean = kill_leftovers()
            results.write(json.dumps({'id': item['id'], 'rc': rc, 'ms': ms, 'timedOut': rc in (-9, 137), 'clean': clean}) + '\n')
            results.flush()


main()
