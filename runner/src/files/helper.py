"""Airlock file tools, run inside the sandbox as the sandbox's user (never on the runner host).

The runner starts it as `python3 -I -S -c <this file> <request JSON> [content piece ...]` through
the same exec path as a step: it can do nothing a bash step could not, files it writes belong to the
sandbox's user (the workspace's owner), and a symlink race by a process of the run can at worst
reach what the sandbox itself can. The policy (which paths, which verdict) is decided by the harness
and the runner before this runs; this script only keeps each operation inside the workspace:

- reads follow symlinks, and the file actually opened (`/proc/self/fd/N`) must be inside the root;
- writes never follow a symlink: every directory is opened with O_NOFOLLOW from the root down, the
  content goes to a new temporary file beside the target and is renamed over it (a rename replaces
  a link, it does not write through it), so the path the policy judged is the path written.

The answer is one JSON object on stdout: {"ok": true, ...} or {"ok": false, "code", "message", ...}.
"""

import base64
import hashlib
import json
import os
import stat
import sys

READ_CHUNK = 1 << 16
HASH_LIMIT = 256 << 20  # files larger than this are not hashed on read (would take too long)


class Fail(Exception):
    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.extra = extra


def rel(root, path):
    if path == root:
        return "."
    return path[len(root) + 1:] if path.startswith(root + "/") else path


def inside(root, path):
    return path == root or path.startswith(root + "/")


def real_inside(root, path, shown):
    real = os.path.realpath(path)
    if not inside(root, real):
        raise Fail("path_outside_workspace", "%s resolves to %s, outside the workspace %s (through a symlink)" % (shown, real, root), real=real)
    return real


def entry_of(root, path, st, target=None):
    mode = st.st_mode
    kind = "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "symlink" if stat.S_ISLNK(mode) else "other"
    out = {"path": rel(root, path), "type": kind, "size": st.st_size, "mode": stat.S_IMODE(mode), "mtimeMs": int(st.st_mtime * 1000)}
    if target is not None:
        out["target"] = target
    return out


def hash_fd(fd):
    h = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        piece = os.read(fd, READ_CHUNK)
        if not piece:
            return h.hexdigest()
        h.update(piece)


def is_text(data):
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError as err:
        # A character cut by the size cap at the very end is still text.
        return err.start >= len(data) - 3 and err.reason == "unexpected end of data"


def op_read(req, root):
    shown = req["path"]
    path = req["abs"]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Fail("file_not_found", "%s does not exist" % shown)
    try:
        real = os.readlink("/proc/self/fd/%d" % fd)
        if not inside(root, real):
            raise Fail("path_outside_workspace", "%s resolves to %s, outside the workspace %s (through a symlink)" % (shown, real, root), real=real)
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise Fail("file_not_found", "%s is a directory; list it instead" % shown)
        if not stat.S_ISREG(st.st_mode):
            raise Fail("file_not_found", "%s is not a regular file" % shown)
        max_bytes = int(req["maxBytes"])
        first = int(req.get("fromLine") or 1)
        last = req.get("toLine")
        last = int(last) if last is not None else None
        whole = bool(req.get("whole"))
        if whole and st.st_size > max_bytes:
            raise Fail("file_too_large", "%s is %d bytes; edits work on files up to %d bytes" % (shown, st.st_size, max_bytes), size=st.st_size)
        digest = hashlib.sha256()
        # Small files are read to the end (for their hash and line count); huge ones only as far as needed.
        complete = st.st_size <= HASH_LIMIT
        with os.fdopen(fd, "rb", closefd=False) as f:
            head = f.read(8192)
            f.seek(0)
            if b"\0" in head:
                return read_binary(f, digest, complete, st, max_bytes, root, real)
            out = bytearray()
            truncated = False
            line_no = 0
            got_first = 0
            got_last = 0
            for line in f:
                if complete:
                    digest.update(line)
                line_no += 1
                if line_no < first or (last is not None and line_no > last) or truncated:
                    if not complete and (truncated or (last is not None and line_no > last)):
                        break
                    continue
                room = max_bytes - len(out)
                if len(line) > room:
                    line = line[:room]
                    truncated = True
                out += line
                got_first = got_first or line_no
                got_last = line_no
        data = bytes(out)
        text = is_text(data)
        if text and truncated:
            # Never cut a character in two: drop an incomplete one at the end.
            data = data.decode("utf-8", "ignore").encode("utf-8")
        result = {
            "path": rel(root, real),
            "content": base64.b64encode(data).decode("ascii"),
            "binary": not text,
            "truncated": truncated or got_first > 1 or (complete and got_last < line_no) or not complete,
            "fromLine": got_first,
            "toLine": got_last,
            "size": st.st_size,
        }
        if complete:
            result["sha256"] = digest.hexdigest()
            result["totalLines"] = line_no
        return result
    finally:
        os.close(fd)


def read_binary(f, digest, complete, st, max_bytes, root, real):
    """A file with NUL bytes: its first `max_bytes` bytes as they are, no lines."""
    data = f.read(max_bytes)
    if complete:
        digest.update(data)
        while True:
            piece = f.read(READ_CHUNK)
            if not piece:
                break
            digest.update(piece)
    result = {
        "path": rel(root, real),
        "content": base64.b64encode(data).decode("ascii"),
        "binary": True,
        "truncated": len(data) < st.st_size,
        "size": st.st_size,
    }
    if complete:
        result["sha256"] = digest.hexdigest()
    return result


def open_dirs(root, parts, create, shown):
    """Opens each directory from the root down without following a symlink; returns the last fd."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    walked = root
    for name in parts:
        walked = walked + "/" + name
        try:
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                os.close(fd)
                raise Fail("file_not_found", "directory %s does not exist (pass createDirs to make it)" % rel(root, walked))
            try:
                os.mkdir(name, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except (OSError, NotADirectoryError) as err:
            os.close(fd)
            try:
                st = os.lstat(walked)
            except OSError:
                raise Fail("file_not_found", "%s: %s" % (rel(root, walked), err.strerror or err))
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(walked)
                where = rel(root, real) if inside(root, real) else real
                code = "file.symlink" if inside(root, real) else "path_outside_workspace"
                raise Fail(code, "%s is a symlink to %s; file tools write only real paths: write under %s instead" % (rel(root, walked), where, where), real=real)
            raise Fail("file_not_found", "%s is not a directory" % rel(root, walked))
        os.close(fd)
        fd = nxt
    return fd


def op_write(req, root, content):
    shown = req["path"]
    relpath = req["rel"]
    if relpath == ".":
        raise Fail("file_not_found", "the workspace root is a directory, not a file")
    parts = relpath.split("/")
    name = parts.pop()
    dfd = open_dirs(root, parts, bool(req.get("createDirs", True)), shown)
    try:
        before = None
        mode = req.get("mode")
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(req["abs"])
                where = rel(root, real) if inside(root, real) else real
                code = "file.symlink" if inside(root, real) else "path_outside_workspace"
                raise Fail(code, "%s is a symlink to %s; file tools write only real paths: write %s instead" % (relpath, where, where), real=real)
            if not stat.S_ISREG(st.st_mode):
                raise Fail("file_not_found", "%s exists and is not a regular file" % relpath)
            old = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
            try:
                before = hash_fd(old)
            finally:
                os.close(old)
            if mode is None:
                mode = stat.S_IMODE(st.st_mode)
        except FileNotFoundError:
            pass
        expect = req.get("expectSha256")
        if expect is not None and before != expect:
            raise Fail("file_changed", "%s changed since it was read for this edit; nothing was written" % relpath)
        if mode is None:
            mode = 0o644
        tmp = ".%s.airlock-%s" % (name[:100], os.urandom(6).hex())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dfd)
        try:
            view = memoryview(content)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fchmod(fd, mode)
            os.close(fd)
            fd = -1
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise
        out = {"path": relpath, "size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "created": before is None}
        if before is not None:
            out["before"] = before
        return out
    finally:
        os.close(dfd)


def op_list(req, root):
    shown = req["path"]
    path = req["abs"]
    if not os.path.lexists(path):
        raise Fail("file_not_found", "%s does not exist" % shown)
    real = real_inside(root, path, shown)
    if not os.path.isdir(real):
        raise Fail("file_not_found", "%s is not a directory; stat or read it instead" % shown)
    depth = int(req.get("depth") or 1)
    limit = int(req["maxEntries"])
    entries = []
    truncated = False
    stack = [(real, 1)]
    while stack and not truncated:
        here, level = stack.pop()
        try:
            items = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue
        for e in items:
            if len(entries) >= limit:
                truncated = True
                break
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            target = os.readlink(e.path) if e.is_symlink() else None
            entries.append(entry_of(root, e.path, st, target))
            if level < depth and e.is_dir(follow_symlinks=False):
                stack.append((e.path, level + 1))
    entries.sort(key=lambda x: x["path"])
    return {"path": rel(root, real), "entries": entries, "truncated": truncated}


def op_stat(req, root):
    shown = req["path"]
    path = req["abs"]
    parent = os.path.dirname(path) if path != root else root
    if os.path.lexists(parent):
        real_inside(root, parent, shown)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"path": req["rel"], "exists": False}
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return {"path": req["rel"], "exists": True, "entry": entry_of(root, path, st, target)}


def main():
    req = json.loads(sys.argv[1])
    root = os.path.realpath(req["root"])
    try:
        op = req["op"]
        if op == "read":
            out = op_read(req, root)
        elif op == "write":
            content = base64.b64decode("".join(sys.argv[2:]), validate=True)
            out = op_write(req, root, content)
        elif op == "list":
            out = op_list(req, root)
        elif op == "stat":
            out = op_stat(req, root)
        else:
            raise Fail("bad_request", "unknown file operation %r" % op)
        out["ok"] = True
    except Fail as f:
        out = {"ok": False, "code": f.code, "message": str(f), **f.extra}
    except PermissionError as err:
        out = {"ok": False, "code": "permission_denied", "message": "%s: permission denied (%s)" % (req.get("path"), err.strerror)}
    except OSError as err:
        out = {"ok": False, "code": "os_error", "message": "%s: %s" % (req.get("path"), err.strerror or err)}
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
