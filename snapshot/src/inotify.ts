// Linux inotify through koffi (a maintained FFI library with prebuilt binaries), because Node's own
// fs.watch cannot say two things a snapshot depends on: that the kernel's queue overflowed (libuv
// drops IN_Q_OVERFLOW silently), and that every event of a write that already returned has been
// read (fs.watch delivers later, from the event loop). Here the fd is non-blocking and read
// synchronously until EAGAIN: fsnotify queues an event inside the write syscall itself, so after a
// drain every change made before it is known.
import { createRequire } from 'node:module';

/** The part of koffi this file uses (loaded on first use: importing the snapshot library never loads a native module). */
type Koffi = { load(name: string): { func(signature: string): unknown }; errno(): number };

/** Event bits (linux/inotify.h). */
export const IN = {
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  OPEN: 0x20,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  UNMOUNT: 0x2000,
  Q_OVERFLOW: 0x4000,
  IGNORED: 0x8000,
  ISDIR: 0x40000000,
  ONLYDIR: 0x1000000,
  DONT_FOLLOW: 0x2000000,
  EXCL_UNLINK: 0x4000000,
} as const;

/**
 * What a directory watch asks for: every change of a child's name, content, mode or times, and of
 * the directory itself; and opens and closes, so a file still open (or mapped: a mapping holds its
 * file open) when a snapshot is taken is re-stat'ed like a walk would.
 */
export const DIR_MASK =
  IN.MODIFY | IN.ATTRIB | IN.CLOSE_WRITE | IN.CLOSE_NOWRITE | IN.OPEN | IN.MOVED_FROM | IN.MOVED_TO | IN.CREATE | IN.DELETE | IN.DELETE_SELF | IN.MOVE_SELF | IN.ONLYDIR | IN.DONT_FOLLOW | IN.EXCL_UNLINK;

const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;
const EAGAIN = 11;
const EINTR = 4;

/** Receives one decoded event; `name` is '' for events about the watched directory itself. */
export type InotifySink = (wd: number, mask: number, name: string, cookie: number) => void;

type Libc = {
  errno: () => number;
  init1: (flags: number) => number;
  addWatch: (fd: number, path: string, mask: number) => number;
  rmWatch: (fd: number, wd: number) => number;
  read: (fd: number, buf: Buffer, n: number) => number;
  close: (fd: number) => number;
};

let libc: Libc | null | undefined;

/** The libc functions, or null where there is no glibc/musl to load (then callers walk). */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return null;
  let koffi: Koffi;
  try {
    // Not a static import: a bundler leaves this to run time, where koffi finds its prebuilt binary.
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    return null;
  }
  for (const name of ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
    try {
      const lib = koffi.load(name);
      libc = {
        errno: () => koffi.errno(),
        init1: lib.func('int inotify_init1(int flags)') as Libc['init1'],
        addWatch: lib.func('int inotify_add_watch(int fd, const char *path, uint32_t mask)') as Libc['addWatch'],
        rmWatch: lib.func('int inotify_rm_watch(int fd, int wd)') as Libc['rmWatch'],
        read: lib.func('long read(int fd, _Out_ uint8_t *buf, unsigned long n)') as Libc['read'],
        close: lib.func('int close(int fd)') as Libc['close'],
      };
      return libc;
    } catch {
      // next candidate
    }
  }
  return libc;
}

/** A failed inotify call, with the errno name (`ENOSPC`: the host's max_user_watches is reached). */
export class InotifyError extends Error {
  readonly errno: number;
  constructor(op: string, errno: number) {
    super(`inotify ${op} failed with errno ${errno}`);
    this.errno = errno;
  }
}

/**
 * One inotify instance shared by every tracked workspace of a process (the kernel allows 128
 * instances per user by default; watches are the plentiful resource). Events are routed to the
 * sink that registered their watch descriptor. A queue overflow reaches every sink (`wd` -1).
 */
export class InotifyHub {
  readonly #c: Libc;
  readonly #fd: number;
  readonly #buf = Buffer.alloc(256 * 1024);
  readonly #sinks = new Map<number, InotifySink>();
  readonly #all = new Set<InotifySink>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
  }

  /** A new hub, or null where inotify is not available (not Linux, no libc, no instance left). */
  static open(): InotifyHub | null {
    const c = loadLibc();
    if (c === null) return null;
    const fd = c.init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return null;
    return new InotifyHub(c, fd);
  }

  /** Watches the directory `abs` for `sink`; returns its descriptor (the same one for a directory already watched). */
  addWatch(abs: string, sink: InotifySink): number {
    if (this.#closed) throw new InotifyError('add_watch on a closed hub', 9);
    const wd = this.#c.addWatch(this.#fd, abs, DIR_MASK);
    if (wd < 0) throw new InotifyError('add_watch', this.#c.errno());
    this.#sinks.set(wd, sink);
    this.#all.add(sink);
    return wd;
  }

  /** Stops watching `wd` (its IN_IGNORED still arrives and is dropped). */
  rmWatch(wd: number): void {
    if (this.#sinks.delete(wd) && !this.#closed) this.#c.rmWatch(this.#fd, wd);
  }

  /** Forgets a sink entirely (its watches are removed). */
  detach(sink: InotifySink): void {
    for (const [wd, s] of this.#sinks) if (s === sink) this.rmWatch(wd);
    this.#all.delete(sink);
  }

  /**
   * Reads every queued event and hands it to its sink. Returns once the kernel queue is empty, so
   * every change completed before the call has been delivered.
   */
  drain(): void {
    if (this.#closed) return;
    for (;;) {
      const n = this.#c.read(this.#fd, this.#buf, this.#buf.length);
      if (n < 0) {
        const e = this.#c.errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) return;
        throw new InotifyError('read', e);
      }
      if (n === 0) return;
      this.#dispatch(n);
    }
  }

  #dispatch(n: number): void {
    const b = this.#buf;
    let off = 0;
    while (off + 16 <= n) {
      const wd = b.readInt32LE(off);
      const mask = b.readUInt32LE(off + 4);
      const cookie = b.readUInt32LE(off + 8);
      const len = b.readUInt32LE(off + 12);
      let end = off + 16;
      const stop = off + 16 + len;
      while (end < stop && b[end] !== 0) end++;
      const name = len > 0 ? b.toString('utf8', off + 16, end) : '';
      off = stop;
      if (mask & IN.Q_OVERFLOW) {
        for (const s of this.#all) s(-1, mask, '', 0);
        continue;
      }
      const sink = this.#sinks.get(wd);
      if (sink === undefined) continue;
      if (mask & IN.IGNORED) this.#sinks.delete(wd);
      sink(wd, mask, name, cookie);
    }
  }

  /** Drains every `everyMs` while any sink is attached, so the kernel queue (16,384 events by default) stays short between snapshots. */
  keepDraining(everyMs: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.#all.size === 0) return;
      try {
        this.drain();
      } catch {
        // A read error is reported as an overflow: every tracker falls back to a walk.
        for (const s of this.#all) s(-1, IN.Q_OVERFLOW, '', 0);
      }
    }, everyMs);
    this.#timer.unref();
  }

  /** Number of sinks attached (tests, diagnostics). */
  get sinks(): number {
    return this.#all.size;
  }

  /** Closes the instance; every watch goes with it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#sinks.clear();
    this.#all.clear();
    this.#c.close(this.#fd);
  }
}
