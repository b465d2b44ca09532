/** Label names on every container Airlock creates, in one place. */
export const labels = {
  /** Present (value "1") on every Airlock sandbox. */
  managed: 'airlock.managed',
  runId: 'airlock.run-id',
  runnerId: 'airlock.runner-id',
  /** Which Airlock deployment (NATS store) the sandbox belongs to: sweeps never touch another's. */
  deployment: 'airlock.deployment',
  /** Host path of the bind-mounted workspace. */
  workspace: 'airlock.workspace',
  /** "uid:gid" to give the workspace back to when the run ends ("" when nothing was changed). */
  ownerBack: 'airlock.owner-back',
  /** "1" when the runner created the workspace and removes it at close. */
  ownedWorkspace: 'airlock.owned-workspace',
  /** "1" on a warm-pool sandbox (pool.ts): its workspace label is the slot directory, its run is in the slot's claim file. */
  pool: 'airlock.pool',
} as const;
