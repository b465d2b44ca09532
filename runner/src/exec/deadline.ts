// A step's deadline, and who decides whether it fired. The party that enforces a deadline is the
// only one that knows whether it fired: the in-sandbox executor (protocol 2) reports it in its exit
// frame. Where the command runs under coreutils `timeout` instead (`docker exec`, or an executor of
// protocol 1), the fact comes from `timeout`'s own exit status, checked against a clock that started
// before `timeout` could have started its own — never from a clock that starts after it.

/** A step's deadline: TERM to its process group at `timeoutMs`, KILL `killAfterMs` later. */
export interface Deadline {
  timeoutMs: number;
  killAfterMs: number;
}

/** The argv that runs `argv` under coreutils `timeout` (TERM to the process group, then KILL). */
export function underTimeout(argv: readonly string[], d: Deadline): string[] {
  return ['timeout', '-s', 'TERM', '-k', `${(d.killAfterMs / 1000).toFixed(3)}`, `${(d.timeoutMs / 1000).toFixed(3)}`, ...argv];
}

/** Exit statuses of coreutils `timeout` when its deadline fired: TERM ended the command, or KILL was needed. */
const TIMEOUT_FIRED = new Set([124, 137]);

/**
 * Whether `timeout` ended the command, from its status and the time since a mark taken before the
 * exec was opened (so that clock is never shorter than `timeout`'s). 124 or 137 alone does not say it:
 * a command may exit 124 itself (`exit 124`), and it is then not reported as timed out unless the
 * deadline had passed too.
 */
export function timeoutFired(code: number | null, elapsedSinceBeforeOpenMs: number, d: Deadline): boolean {
  return code !== null && TIMEOUT_FIRED.has(code) && elapsedSinceBeforeOpenMs >= d.timeoutMs;
}
