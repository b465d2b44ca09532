/** Wire protocol version carried as `v` on every message and event. Bump on any breaking change. */
export const PROTOCOL_VERSION = 1 as const;
