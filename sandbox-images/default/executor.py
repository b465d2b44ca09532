"""Airlock in-sandbox executor: serves the runner's step requests inside the sandbox.

Started as the sandbox's command with `--socket PATH` (a directory the runner bind-mounts), it
listens there for exactly one connection: the runner connects before any step has run, and the
executor then removes the socket and stops listening, so no process of a later step can connect or
stand in for it. Each request is one JSON line: {"argv": [...], "env": {...}, "cwd": "...",
"isolate": bool, "timeoutMs": n, "killAfterMs": n}. The reply is a sequence of frames, each a 1-byte type, a 4-byte big-endian length
and the payload:

  1 stdout bytes   2 stderr bytes   3 exit {"code": n, "timedOut": bool}   4 error {"message": "..."}
  5 ready {"pid": n, "protocol": 2}

The step's deadline is enforced here, by the party that starts the command and holds its pid: at
"timeoutMs" after the spawn its whole process group gets SIGTERM, "killAfterMs" later SIGKILL, and
the exit frame says whether that happened ("timedOut"), so no other clock has to guess it. The code
follows coreutils `timeout`: 124 when the deadline ended the command, 137 when KILL was needed.
Protocol 1 executors had no deadline (the runner wrapped the command in `timeout`).

One request at a time: steps of a run are serial. Output is read in 64 KiB pieces and written as it
comes; when the runner reads slowly, the pipe fills and the command waits (back-pressure).

Hardening: the executor makes itself non-dumpable, so a process of the same user (a step's leftover
background job) can neither ptrace it nor read its memory or file descriptors through /proc.
Secrets in a request reach only the environment of that step's command, and a request with
"isolate" (the runner sets it for a step that receives a secret) first ends every process earlier
steps left running: a process of the same user could otherwise read the secret from the step's
/proc/<pid>/environ.
"""

import ctypes
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

STDOUT, STDERR, EXIT, ERROR, READY = 1, 2, 3, 4, 5
PR_SET_DUMPABLE = 4
PIECE = 65536
DRAIN_S = 0.1
AFTER_EXIT_BYTES = 1 << 20


OUT = None  # the runner's connection


def write_frame(kind, payload):
    OUT.sendall(struct.pack(">BI", kind, len(payload)) + payload)


def write_json(kind, value):
    write_frame(kind, json.dumps(value).encode())


def raise_oom_score(pid):
    # Prefer the step's processes over this one when the sandbox runs out of memory. Set after the
    # spawn (no preexec hook, so Python can use vfork): what the command forks later inherits it.
    try:
        with open("/proc/%d/oom_score_adj" % pid, "w") as f:
            f.write("500")
    except OSError:
        pass


def end_leftovers():
    """Kills every process in the sandbox but init and this one; repeats until none is left."""
    me = os.getpid()
    for _ in range(50):
        others = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me)]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass  # the group is gone already


def deadline_of(request, key):
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError("%s must be a positive number of milliseconds" % key)
    return value / 1000.0


def run(request):
    try:
        timeout_s = deadline_of(request, "timeoutMs")
        kill_after_s = deadline_of(request, "killAfterMs") or 2.0
    except ValueError as err:
        write_json(ERROR, {"message": "bad request: %s" % err})
        return
    if request.get("isolate"):
        end_leftovers()
    env = dict(os.environ)
    env.update(request.get("env") or {})
    child = None
    for attempt in (1, 2):
        try:
            child = subprocess.Popen(
                request["argv"],
                env=env,
                cwd=request.get("cwd") or None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
                # Its own process group, as `timeout` does: the deadline ends background children too.
                process_group=0,
            )
            break
        except BlockingIOError:
            if attempt == 2:
                write_json(ERROR, {"message": "could not start the command: the sandbox's process limit is exhausted"})
                return
            # Processes earlier steps left (a fork bomb) hold every pid the sandbox may have: end them,
            # say so on the step's stderr, and start the command.
            end_leftovers()
            write_frame(STDERR, b"airlock: the sandbox's process limit was exhausted by processes earlier steps left running; they were ended\n")
        except (OSError, ValueError, KeyError, TypeError) as err:
            write_json(ERROR, {"message": "could not start the command: %s" % err})
            return
    # The deadline's clock starts at the spawn: nothing the command does runs before it.
    spawned = time.monotonic()
    term_at = spawned + timeout_s if timeout_s is not None else None
    kill_at = None
    timed_out = False
    raise_oom_score(child.pid)
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ, STDOUT)
    selector.register(child.stderr, selectors.EVENT_READ, STDERR)
    # The step ends when its command exits, as with `docker exec`: background processes it left may
    # hold the pipes open forever (a fork bomb, a server started with `&`). After the exit, what is
    # in the pipes is still read until they are quiet for DRAIN_S (the wait counts only time with
    # nothing to read, so a slow runner loses nothing) or AFTER_EXIT_BYTES more have come.
    try:
        exited = os.pidfd_open(child.pid)
        selector.register(exited, selectors.EVENT_READ, EXIT)
    except (AttributeError, OSError):
        exited = None
    pipes = 2
    done = False  # the command has exited
    after_exit = 0
    while pipes:
        if done:
            wait = DRAIN_S
        else:
            wait = None if exited is not None else 0.05
            now = time.monotonic()
            if term_at is not None and now >= term_at:
                timed_out = True
                term_at = None
                kill_at = now + kill_after_s
                signal_group(child.pid, signal.SIGTERM)
            elif kill_at is not None and now >= kill_at:
                kill_at = None
                signal_group(child.pid, signal.SIGKILL)
            next_at = term_at if term_at is not None else kill_at
            if next_at is not None:
                left = max(0.0, next_at - now)
                wait = left if wait is None else min(wait, left)
        events = selector.select(wait)
        if done and not events:
            break
        for key, _ in events:
            if key.data == EXIT:
                selector.unregister(key.fileobj)
                done = True
                continue
            piece = os.read(key.fd, PIECE)
            if piece:
                write_frame(key.data, piece)
                if done:
                    after_exit += len(piece)
            else:
                selector.unregister(key.fileobj)
                key.fileobj.close()
                pipes -= 1
        if not done and exited is None and child.poll() is not None:
            done = True
        if after_exit > AFTER_EXIT_BYTES:
            break
    for key in list(selector.get_map().values()):
        selector.unregister(key.fileobj)
        if key.data != EXIT:
            key.fileobj.close()
    if exited is not None:
        os.close(exited)
    # Both pipes may close before the exit (the command closed them): the deadline still applies.
    while True:
        try:
            code = child.wait(timeout=None if kill_at is None and term_at is None else max(0.0, (kill_at or term_at) - time.monotonic()))
            break
        except subprocess.TimeoutExpired:
            if kill_at is None:
                timed_out = True
                term_at = None
                kill_at = time.monotonic() + kill_after_s
                signal_group(child.pid, signal.SIGTERM)
            else:
                kill_at = None
                signal_group(child.pid, signal.SIGKILL)
    if timed_out:
        # As coreutils `timeout` reports it: 124 when TERM ended it, 128 + 9 when KILL was needed.
        code = 137 if code == -signal.SIGKILL else 124
    else:
        # Shell convention, as docker exec reports it: 128 + signal for a command killed by a signal.
        code = 128 - code if code < 0 else code
    write_json(EXIT, {"code": code, "timedOut": timed_out})


def main():
    global OUT
    if len(sys.argv) != 3 or sys.argv[1] != "--socket":
        sys.stderr.write("usage: executor.py --socket PATH\n")
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        sys.stderr.write("airlock executor: could not make itself non-dumpable; refusing to serve\n")
        return 2
    path = sys.argv[2]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.chmod(path + ".tmp", 0o600)
    listener.listen(1)
    os.rename(path + ".tmp", path)  # appears listening, or not at all
    OUT, _ = listener.accept()
    # One connection, ever: nothing started later can connect.
    os.unlink(path)
    listener.close()
    write_json(READY, {"pid": os.getpid(), "protocol": 2})
    requests = OUT.makefile("rb")
    while True:
        line = requests.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("argv"), list):
                raise ValueError("a request is an object with an argv list")
        except ValueError as err:
            write_json(ERROR, {"message": "bad request: %s" % err})
            continue
        run(request)


if __name__ == "__main__":
    sys.exit(main())
