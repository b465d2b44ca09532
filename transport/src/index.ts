/**
 * @airlock/transport — how every Airlock process talks over NATS: connect (with JetStream
 * handles), answer typed requests, and tell NATS failures apart by class and code. Separate from
 * the ledger (the run log) so a client can connect without depending on it.
 */
export { connectNats, splitCredentials } from './nats.ts';
export type { NatsHandles, ConnectOptions } from './nats.ts';
export { serveRequest } from './serve.ts';
export type { OpsLog, RejectionAudit } from './serve.ts';
export { isJetStreamError, isNoResponders, isTimeout, jetStreamCodes } from './errors.ts';
export type { JetStreamCode } from './errors.ts';
