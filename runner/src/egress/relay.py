"""Airlock egress relay: the host side of a CONNECT tunnel once it carries bulk data.

The run's egress proxy (Node) decides each tunnel and relays its first bytes itself; when a tunnel
has moved enough bytes to be a download, the proxy stops reading it, lets its writes drain, and
hands both connections to this program, started as

    python3 -I -S relay.py   (fd 0: the sandbox's connection, fd 1: the upstream, fd 2: report,
                              fd 3: a pipe the proxy holds open and never writes)

which moves the bytes in the kernel (splice through a pipe: no copy through any process), one
thread per direction, and ends with one line on fd 2: "bytes UP DOWN". It decides nothing and dies
with the proxy: fd 3 reads end-of-file once the proxy is gone (also if it died before this started),
so a killed proxy still cuts every tunnel it carried.
"""

import fcntl
import os
import socket
import threading

PIECE = 1024 * 1024
PIPE_BYTES = 1024 * 1024
LIFELINE = 3
SEND_BUFFER_BYTES = 4 * 1024 * 1024


def copy(src, dst, moved, i):
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass  # a smaller pipe still works
    try:
        while True:
            n = os.splice(src.fileno(), w, PIECE)
            if n == 0:
                break
            while n > 0:
                k = os.splice(r, dst.fileno(), n)
                n -= k
                moved[i] += k
    except OSError:
        pass
    finally:
        os.close(r)
        os.close(w)
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def watch_proxy():
    try:
        os.read(LIFELINE, 1)
    finally:
        os._exit(1)


def main():
    threading.Thread(target=watch_proxy, daemon=True).start()
    client = socket.socket(fileno=os.dup(0))
    upstream = socket.socket(fileno=os.dup(1))
    os.close(0)
    os.close(1)
    for s in (client, upstream):
        s.setblocking(True)
    try:
        # The sandbox's side is a unix socket, whose in-flight bytes the writer's send buffer bounds
        # (208 KiB by default): a larger one lets the relay run ahead of the forwarder (kernel-capped).
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    except OSError:
        pass
    moved = [0, 0]
    up = threading.Thread(target=copy, args=(client, upstream, moved, 0), daemon=True)
    up.start()
    copy(upstream, client, moved, 1)
    up.join()
    client.close()
    upstream.close()
    os.write(2, ("bytes %d %d\n" % (moved[0], moved[1])).encode())


main()
