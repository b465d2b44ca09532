// Shell-session facts a step reports about itself: the pid of its shell (the process group callers
// signal) and its final working directory. The step's shell prints them on stderr between record
// separators with a per-step random nonce; the runner takes them out of the output before anything
// is logged, so the output is byte for byte what the command wrote.
import { randomBytes } from 'node:crypto';
import type { Frame } from '../docker/demux.ts';

const RS = 0x1e;
/** A marker not closed within this many bytes is not one: its bytes go to the output as they are. */
const MAX_MARK_BYTES = 256 * 1024;

/** What a step asked its shell to report. */
export interface SessionReport {
  pid: boolean;
  cwd: boolean;
  /** The shell's environment at exit (`env -0`, base64), to keep what it exported. */
  env?: boolean;
}

/** What the shell reported (the first pid, the last cwd). */
export interface SessionFacts {
  pid?: number;
  cwd?: string;
  /** The shell's environment at exit, and as it started (before the command's first word). */
  env?: Record<string, string>;
  envStart?: Record<string, string>;
}

/** A fresh nonce for one step's markers (a command cannot guess it before it runs). */
export function newNonce(): string {
  return randomBytes(12).toString('hex');
}

/**
 * The bash script of a step: the command as given, after a prefix on the same line (line numbers
 * in bash's messages stay the same) that prints the shell's pid at once and, on exit, its working
 * directory. A command that replaces the EXIT trap or closes stderr reports no cwd: the run keeps
 * the one it had. A forged report only moves where the next step starts, and that step is validated
 * with the `cd` in front of it, so it cannot reach anything the validator did not judge.
 */
export function wrapCommand(cmd: string, report: SessionReport, nonce: string): string {
  let prefix = '';
  if (report.pid) prefix += `printf '\\036%s:pid:%s\\036' ${nonce} "$$" >&2; `;
  // The start too: what the sandbox itself sets (HOSTNAME, the image's ENV) is not the command's doing.
  if (report.env) prefix += `printf '\\036%s:env0:%s\\036' ${nonce} "$(env -0 | base64 -w0)" >&2; `;
  const atExit: string[] = [];
  if (report.cwd) atExit.push(`printf "\\036%s:cwd:%s\\036" ${nonce} "$PWD" >&2`);
  if (report.env) atExit.push(`printf "\\036%s:env:%s\\036" ${nonce} "$(env -0 | base64 -w0)" >&2`);
  if (atExit.length > 0) prefix += `trap '${atExit.join('; ')}' EXIT; `;
  return prefix + cmd;
}

/**
 * Takes the markers of `nonce` out of the stderr frames, recording what they say in `facts`; every
 * other byte passes in order. A marker split across frames is held back until it is whole.
 */
export async function* stripSessionMarks(frames: AsyncIterable<Frame>, nonce: string, facts: SessionFacts): AsyncGenerator<Frame> {
  const open = Buffer.from(`\x1e${nonce}:`);
  let pending: Buffer = Buffer.alloc(0);
  for await (const f of frames) {
    if (f.stream !== 'stderr') {
      yield f;
      continue;
    }
    const { out, rest } = scan(Buffer.concat([pending, f.data]), open, facts);
    pending = rest;
    if (out.length > 0) yield { stream: 'stderr', data: out };
  }
  if (pending.length > 0) yield { stream: 'stderr', data: pending };
}

/** Splits `buf` into output and a held-back tail that may still become a marker. */
function scan(buf: Buffer, open: Buffer, facts: SessionFacts): { out: Buffer; rest: Buffer } {
  const out: Buffer[] = [];
  for (;;) {
    const start = buf.indexOf(open);
    if (start === -1) {
      const keep = partialPrefix(buf, open);
      out.push(buf.subarray(0, buf.length - keep));
      return { out: Buffer.concat(out), rest: Buffer.from(buf.subarray(buf.length - keep)) };
    }
    const end = buf.indexOf(RS, start + open.length);
    if (end === -1) {
      if (buf.length - start > MAX_MARK_BYTES) {
        // Not a marker after all: pass it on and look after its opening.
        out.push(buf.subarray(0, start + open.length));
        buf = buf.subarray(start + open.length);
        continue;
      }
      out.push(buf.subarray(0, start));
      return { out: Buffer.concat(out), rest: Buffer.from(buf.subarray(start)) };
    }
    record(buf.subarray(start + open.length, end).toString('utf8'), facts);
    out.push(buf.subarray(0, start));
    buf = buf.subarray(end + 1);
  }
}

/** How many bytes at the end of `buf` are the beginning of `open`. */
function partialPrefix(buf: Buffer, open: Buffer): number {
  for (let n = Math.min(open.length - 1, buf.length); n > 0; n--) {
    if (buf.subarray(buf.length - n).equals(open.subarray(0, n))) return n;
  }
  return 0;
}

function record(body: string, facts: SessionFacts): void {
  const colon = body.indexOf(':');
  const kind = body.slice(0, colon);
  const value = body.slice(colon + 1);
  if (kind === 'pid' && facts.pid === undefined && /^[1-9][0-9]{0,9}$/.test(value)) facts.pid = Number(value);
  else if (kind === 'cwd' && value.startsWith('/') && value.length <= 4096 && !/[\0\n]/.test(value)) facts.cwd = value;
  else if (kind === 'env' && /^[A-Za-z0-9+/=]*$/.test(value)) facts.env = parseEnv(Buffer.from(value, 'base64'));
  else if (kind === 'env0' && facts.envStart === undefined && /^[A-Za-z0-9+/=]*$/.test(value)) facts.envStart = parseEnv(Buffer.from(value, 'base64'));
}

/** NAME=value pairs of `env -0` output (names a shell accepts; others are skipped). */
export function parseEnv(bytes: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of bytes.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (eq > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) env[name] = entry.slice(eq + 1);
  }
  return env;
}

/** Variables a shell does not export on purpose: never kept between steps. */
const SHELL_OWN = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

/**
 * What a step exported that differs from the environment it started with, without the shell's own
 * variables and without any value that holds a secret (`holdsSecret`): only those can be kept.
 */
export function exportedChanges(start: Record<string, string>, end: Record<string, string>, holdsSecret: (v: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(end)) {
    if (SHELL_OWN.has(k) || start[k] === v || holdsSecret(v)) continue;
    out[k] = v;
  }
  return out;
}

/** One step's session plumbing: its script, what it reported, and the output filter. */
export interface StepSession {
  script: string;
  facts: SessionFacts;
  strip(frames: AsyncIterable<Frame>): AsyncIterable<Frame>;
}

/**
 * The session of a step. Every step reports its shell's pid, not only processes: an operator may
 * interrupt any running step (`pause --interrupt`), and the signal goes to the pid's process group.
 */
export function stepSession(req: { cmd: string; reportCwd?: boolean | undefined; reportEnv?: boolean | undefined; process?: boolean | undefined }): StepSession {
  const facts: SessionFacts = {};
  const report = { pid: true, cwd: req.reportCwd === true, env: req.reportEnv === true };
  const nonce = newNonce();
  return { script: wrapCommand(req.cmd, report, nonce), facts, strip: (frames) => stripSessionMarks(frames, nonce, facts) };
}
