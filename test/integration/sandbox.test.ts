// The sandbox must hold even when the validator is wrong: real escape attempts run straight in a
// sandbox made by the runner's Docker adapter with the default policy's limits (no validator in the way).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '@airlock/validate';
import { TestDocker, testRuntime, waitUntil } from '../fixtures.ts';

const docker = new TestDocker();
let id = '';
let ws = '';

async function sh(cmd: string, timeoutS = 30, opts: { env?: Record<string, string>; isolate?: boolean } = {}): Promise<{ code: number | null; out: string }> {
  const h = await docker.exec(id, { cmd: ['timeout', '-s', 'KILL', String(timeoutS), 'bash', '-c', cmd], env: opts.env ?? {}, user: '1000:1000', workdir: '/workspace', ...(opts.isolate ? { isolate: true } : {}) });
  let out = '';
  for await (const f of h.output) out += f.data.toString();
  return { code: (await h.exit()).code, out };
}

let sandboxes = 0;
async function startSandbox(): Promise<string> {
  const policy = await defaultPolicy();
  return docker.startSandbox({
    name: `airlock-escape-${process.pid}-${++sandboxes}`,
    image: 'airlock/sandbox:default',
    user: '1000:1000',
    workspace: ws,
    mountPath: '/workspace',
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/tmp' },
    // The default policy's limits, with a small tmpfs so "fill the disk" is quick.
    limits: { ...policy.limits, tmpfsBytes: 64 * 1024 * 1024 },
    runtime: testRuntime(),
    labels: { 'airlock.runner-id': `escape-${process.pid}` },
  });
}

beforeAll(async () => {
  ws = mkdtempSync(join(tmpdir(), 'airlock-escape-'));
  chownSync(ws, 1000, 1000);
  id = await startSandbox();
});
afterAll(async () => {
  await docker.remove(id);
  rmSync(ws, { recursive: true, force: true });
});

describe('sandbox defaults', () => {
  // Asked in ways both kernels answer: gVisor has no /sys/class/net, no NoNewPrivs line in
  // /proc/self/status, and checks permissions before the read-only mount.
  it('no network, no capabilities, no new privileges, read-only root, non-root, pid limit', async () => {
    const { out } = await sh(
      [
        'id -u',
        'grep -E "^(CapEff|CapBnd)" /proc/self/status',
        'python3 -c "import ctypes; print(\'nnp=%d\' % ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"',
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/if=/'",
        "awk '$2 == \"/\" { split($4, o, \",\"); print \"root=\" o[1] }' /proc/mounts",
        'touch /etc/x 2>/dev/null || echo etc-not-writable',
        'touch /tmp/ok && echo tmp-writable',
        'echo "nproc=$(ulimit -u)"',
        'echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"',
      ].join('; '),
    );
    expect(out).toMatch(/^1000$/m);
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
    expect(out).toMatch(/CapBnd:\s+0000000000000000/);
    expect(out).toMatch(/^nnp=1$/m);
    expect(out.match(/^if=.*$/gm)).toEqual(['if=lo']);
    expect(out).toMatch(/^root=ro$/m);
    expect(out).toContain('etc-not-writable');
    expect(out).toContain('tmp-writable');
    // runc: the pids cgroup the sandbox sees; gVisor: RLIMIT_NPROC, which its own kernel enforces.
    if (testRuntime() === 'runsc') expect(out).toMatch(/^nproc=512$/m);
    else expect(out).toMatch(/^pids\.max=512$/m);
  });

  it(`runs under ${testRuntime()}`, async () => {
    const { out } = await sh('dmesg 2>&1 | head -n 3; cat /proc/version');
    if (testRuntime() === 'runsc') expect(out).toMatch(/gVisor/);
    else expect(out).not.toMatch(/gVisor/);
  });
});

describe('escape attempts fail or are contained', () => {
  it('cannot write outside /workspace and /tmp', async () => {
    const { out } = await sh('for d in / /etc /usr/bin /root /var /opt /home; do touch "$d/pwned" 2>/dev/null && echo "WROTE $d"; done; echo done');
    expect(out).not.toContain('WROTE');
    expect(out).toContain('done');
  });

  it('cannot mount, unshare, chroot or load modules', async () => {
    const { out } = await sh('mount -t tmpfs none /mnt 2>&1; unshare -r true 2>&1; unshare -m true 2>&1; chroot / true 2>&1; echo end');
    expect(out).toMatch(/permission denied|Operation not permitted|must be superuser/i);
    const mounts = await sh('grep -c " /mnt " /proc/mounts || true');
    expect(mounts.out.trim()).toBe('0');
  });

  it('cannot reach the network (loopback only, no routes)', async () => {
    const { out } = await sh(
      'python3 - <<"PY"\nimport socket\nfor host in ["1.1.1.1", "10.0.0.1", "172.17.0.1", "192.168.0.1"]:\n    s = socket.socket(); s.settimeout(1)\n    try:\n        s.connect((host, 80)); print("CONNECTED", host)\n    except OSError as e:\n        print("blocked", host, e.errno)\nPY\nip route 2>/dev/null || cat /proc/net/route',
    );
    expect(out).not.toContain('CONNECTED');
    expect(out.match(/blocked/g)?.length).toBe(4);
  });

  it('finds no docker socket and no host secrets in /proc', async () => {
    const { out } = await sh(
      'ls -la /var/run/docker.sock /run/docker.sock 2>&1; find / -xdev -name "docker.sock" 2>/dev/null; ls /proc | grep -E "^[0-9]+$" | wc -l; cat /proc/1/environ 2>&1 | tr "\\0" "\\n" | head -5; echo end',
    );
    expect(out).toMatch(/No such file/);
    expect(out).not.toMatch(/docker\.sock\n/);
    // Only the sandbox's own handful of processes is visible, and PID 1's environment is not the host's.
    const procs = Number(out.split('\n').find((l) => /^\d+$/.test(l.trim())));
    expect(procs).toBeLessThan(20);
    expect(out).not.toMatch(/AIRLOCK_|NATS_|VITEST|NODE_OPTIONS/);
  });

  it('cannot raise privileges (no sudo, no setuid, no-new-privileges)', async () => {
    const { out } = await sh('sudo -n true 2>&1; su -c true 2>&1 </dev/null; cp /bin/bash /tmp/b && chmod u+s /tmp/b && /tmp/b -p -c "id -u"; python3 -c "import os; os.setuid(0)" 2>&1 | tail -1; echo end');
    expect(out).not.toMatch(/^0$/m);
    expect(out).toMatch(/PermissionError|Operation not permitted/);
  });

  it('cannot fill the disk beyond its tmpfs', async () => {
    const { out } = await sh('dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1; du -sm /tmp/fill; rm -f /tmp/fill; echo end');
    expect(out).toMatch(/No space left on device/);
    const mb = Number(/^(\d+)\s+\/tmp\/fill/m.exec(out)?.[1]);
    expect(mb).toBeLessThanOrEqual(64);
  });

  // Last: it leaves the sandbox without free pids, which is the point.
  it('contains a fork bomb at the pids limit; the host and the engine are unaffected', async () => {
    const t0 = Date.now();
    await sh('bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 5; echo survived', 15).catch(() => undefined);
    if (testRuntime() === 'runsc') {
      // gVisor: the sandbox's processes stop at RLIMIT_NPROC, but each failed fork still costs the
      // Sentry host threads until the host's pids backstop stops it: the whole sandbox ends, the host
      // and the engine do not notice, and (as the runner does) a fresh sandbox takes the next step.
      await waitUntil('the bombed gVisor sandbox to end', async () => (await docker.inspect(id))?.running === false, 30_000);
      expect(execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' }).trim().length).toBeGreaterThan(0);
      expect(Date.now() - t0).toBeLessThan(60_000);
      await docker.remove(id);
      id = await startSandbox();
      expect((await sh('echo usable')).out).toBe('usable\n');
      return;
    }
    const pidsCurrent = () => {
      const cg = [`/sys/fs/cgroup/pids/docker/${id}/pids.current`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/pids.current`];
      for (const p of cg) {
        try {
          return Number(execFileSync('cat', [p], { encoding: 'utf8' }).trim());
        } catch {
          // try the next cgroup layout
        }
      }
      throw new Error('pids cgroup of the sandbox not found');
    };
    expect(pidsCurrent()).toBeLessThanOrEqual(512);
    expect(execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' }).trim().length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    // The bomb outlives its step (its processes are in the background). A step that isolates ends
    // them first, and the sandbox is usable again.
    expect((await sh('echo usable', 10, { isolate: true })).out).toBe('usable\n');
    expect((await sh('ps -e --no-headers | wc -l')).out.trim()).toMatch(/^[1-6]$/);
  });

  it('a step can neither reach the executor\'s channel nor read it through /proc (non-dumpable)', async () => {
    const { out } = await sh(
      [
        "p=$(pgrep -f '^python3 -I -S /opt/airlock/executor.py' | head -n1); echo \"pid=$p\"",
        'cat /proc/$p/environ >/dev/null 2>&1 && echo ENV-READABLE',
        'ls /proc/$p/fd >/dev/null 2>&1 && echo FDS-READABLE',
        'grep -c . /proc/$p/maps >/dev/null 2>&1 && echo MAPS-READABLE',
        // Its memory, a ptrace attach, and its descriptors (the runner's socket) re-opened through /proc.
        'head -c 1 /proc/$p/mem >/dev/null 2>&1 && echo MEM-READABLE',
        'python3 -c "import ctypes, sys; sys.exit(0 if ctypes.CDLL(None).ptrace(16, $p, 0, 0) == 0 else 1)" && echo PTRACED',
        'for f in /proc/$p/fd/*; do python3 -c "import os, sys; os.open(sys.argv[1], os.O_RDWR)" "$f" 2>/dev/null && echo "FD-OPENED $f -> $(readlink $f)"; done',
        // The socket is gone once the runner connected: nothing can connect again.
        'echo "socket-dir-entries=$(ls -A /opt/airlock/run | wc -l)"',
        'python3 -c "import socket; socket.socket(socket.AF_UNIX).connect(\'/opt/airlock/run/s\')" 2>/dev/null && echo CONNECTED',
        // What the executor's environment holds, against the step's own.
        "tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | sort | sed 's/^/exec-env: /'",
        "env | sort | sed 's/^/step-env: /'",
        'true',
      ].join('; '),
    );
    expect(out).toMatch(/^pid=\d+$/m);
    expect(out).toContain('socket-dir-entries=0');
    expect(out).not.toMatch(/MEM-READABLE|PTRACED|CONNECTED/);
    // The runner's channel is a socket: never re-opened through /proc, under either kernel.
    expect(out).toMatch(/socket-dir-entries/);
    expect(out).not.toMatch(/^FD-OPENED .*socket:/m);
    if (testRuntime() === 'runsc') {
      // gVisor's /proc ignores non-dumpable for environ, fd and maps (measured), so a step can re-open
      // the executor's pipes (its own output's, the engine's stdio): a process left by an earlier step
      // could read a later step's output, which is why every step given a secret isolates first (the
      // next test). What the executor's environ shows must be nothing the step does not already have
      // (secrets reach only the environment of the step given them, never the executor's own).
      const lines = (tag: string) => out.split('\n').filter((l) => l.startsWith(tag)).map((l) => l.slice(tag.length));
      const mine = new Set(lines('step-env: '));
      expect(lines('exec-env: ').length).toBeGreaterThan(0);
      for (const l of lines('exec-env: ')) expect(mine, l).toContain(l);
    } else {
      expect(out).not.toMatch(/READABLE|FD-OPENED/);
      expect(out).not.toMatch(/^exec-env: /m);
    }
  });

  it('a leftover process of an earlier step reads a later step\'s secret unless the step isolates', async () => {
    const snoop = "(sleep 1.5; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep '^TOP_SECRET=' > /tmp/stolen) >/dev/null 2>&1 &";
    // Without isolation (what `docker exec` gives): the snoop finds the secret.
    await sh(`rm -f /tmp/stolen; ${snoop}`);
    await sh('sleep 3', 10, { env: { TOP_SECRET: 'hunter2-a' } });
    expect((await sh('cat /tmp/stolen 2>/dev/null; true')).out).toContain('TOP_SECRET=hunter2-a');
    if (process.env.AIRLOCK_EXECUTOR === 'exec') {
      // `docker exec` cannot isolate: a step given a secret is refused there, before anything runs.
      await expect(sh('true', 10, { env: { TOP_SECRET: 'hunter2-b' }, isolate: true })).rejects.toMatchObject({ code: 'secret_denied' });
      return;
    }
    // With isolation (the runner sets it for every step given a secret): the snoop is gone first.
    await sh(`rm -f /tmp/stolen; ${snoop}`);
    await sh('sleep 3', 10, { env: { TOP_SECRET: 'hunter2-b' }, isolate: true });
    expect((await sh('cat /tmp/stolen 2>/dev/null; echo end')).out).toBe('end\n');
  });

  it('a slow reader loses no output at the end of a step; a background writer cannot hold a step open', async () => {
    // The command exits while most of its output still waits in the pipe; the reader is slow.
    const slow = await docker.exec(id, { cmd: ['bash', '-c', "head -c 3000000 /dev/zero | tr '\\0' a"], env: {}, user: '1000:1000', workdir: '/workspace' });
    let bytes = 0;
    for await (const f of slow.output) {
      bytes += f.data.length;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(bytes).toBe(3_000_000);
    expect((await slow.exit()).code).toBe(0);
    // A background process keeps writing after the command exits: the step still ends.
    const t0 = Date.now();
    const bg = await docker.exec(id, { cmd: ['bash', '-c', '(sleep 0.05; yes) & exit 0'], env: {}, user: '1000:1000', workdir: '/workspace' });
    let more = 0;
    for await (const f of bg.output) more += f.data.length;
    expect((await bg.exit()).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(more).toBeLessThan(8 << 20);
    await sh('pkill -x yes; true', 10, { isolate: true });
  });

  it('left nothing outside its workspace on the host', () => {
    expect(readdirSync(ws)).toEqual([]);
  });
});

