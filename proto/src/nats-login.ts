/**
 * An operator-mode (JWT) NATS login written where a URL carries a user and password:
 * `nats://<user JWT>:<nkey seed>@host:4222`.
 *
 * Why in the URL: every Airlock party (harness, CLI, SDK, MCP server, compose services) already
 * takes its NATS login as one URL in one variable; an operator-mode deployment has no passwords, so
 * its files write the user JWT and its seed in their place, and the connection code logs in with
 * them. The seed is as secret as a password was; the files holding such URLs are 0600.
 */
export interface NatsJwtLogin {
  jwt: string;
  seed: string;
}

/** Whether a URL's user and password are a user JWT and a user nkey seed (never a real password pair). */
export function jwtLoginOf(user: string | undefined, pass: string | undefined): NatsJwtLogin | undefined {
  if (user === undefined || pass === undefined) return undefined;
  if (!/^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(user) || !/^SU[A-Z2-7]{50,}$/.test(pass)) return undefined;
  return { jwt: user, seed: pass };
}
