"""Airlock egress forwarder: the sandbox's road to the run's egress proxy.

The sandbox has no network interface but its loopback. The runner bind-mounts a directory holding
this file and the proxy's unix socket (read-only) and starts every step of an egress run as

    python3 -I -S forwarder.py PORT SOCKET -- argv...

If nothing listens on 127.0.0.1:PORT yet, a detached daemon (own session, no stdio) is left
listening there that carries each TCP connection to SOCKET and back, byte for byte; then argv is
exec'd. The forwarder decides nothing: the proxy on the host does. A step that kills it or binds
the port first only loses its own way out.
"""

import fcntl
import os
import socket
import sys
import threading

PIECE = 1024 * 1024
# A pipe of 1 MiB instead of 64 KiB: a sixteenth of the splice calls for a bulk download.
PIPE_BYTES = 1024 * 1024


def copy_spliced(src, dst):
    """Moves bytes socket -> pipe -> socket in the kernel (no copy through Python)."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, AttributeError):
        pass  # a smaller pipe still works (pipe-max-size, old kernels)
    try:
        while True:
            n = os.splice(src.fileno(), w, PIECE)
            if n == 0:
                return
            while n > 0:
                n -= os.splice(r, dst.fileno(), n)
    finally:
        os.close(r)
        os.close(w)


def copy_plain(src, dst):
    buf = bytearray(PIECE)
    view = memoryview(buf)
    while True:
        n = src.recv_into(buf)
        if n == 0:
            return
        dst.sendall(view[:n])


def pump(src, dst):
    try:
        if hasattr(os, "splice"):
            copy_spliced(src, dst)
        else:
            copy_plain(src, dst)
    except OSError:
        pass
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def carry(conn, path):
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        up.connect(path)
    except OSError:
        conn.close()
        up.close()
        return
    t = threading.Thread(target=pump, args=(up, conn), daemon=True)
    t.start()
    pump(conn, up)
    t.join()
    conn.close()
    up.close()


def serve(listener, path):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        threading.Thread(target=carry, args=(conn, path), daemon=True).start()


def daemonize(listener, path):
    if os.fork() != 0:
        return
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, listener.fileno())
        os.closerange(listener.fileno() + 1, 65536)
        serve(listener, path)
    finally:
        os._exit(0)


def main():
    sep = sys.argv.index("--")
    port, path = int(sys.argv[1]), sys.argv[2]
    argv = sys.argv[sep + 1 :]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
    except OSError:
        listener.close()  # one is there already
    else:
        daemonize(listener, path)
        os.wait()
        listener.close()
    os.execvp(argv[0], argv)


main()
