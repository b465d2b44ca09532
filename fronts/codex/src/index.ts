export { runCodexEnv } from './stdio.ts';
export type { CodexEnvOptions } from './stdio.ts';
export { CodexEnvServer, commandFor, refusalText, EXIT_NOT_ALLOWED, EXIT_AIRLOCK_ERROR } from './server.ts';
export type { ServerOptions } from './server.ts';
export { connectBackend, outcomeOfError } from './backend.ts';
export type { BackendOptions, StepBackend, StepOutcome, StepRequest } from './backend.ts';
export { PathMap } from './paths.ts';
export { LineSplitter, parseLine, encodeLine, RpcError, rpcErrorCodes } from './jsonrpc.ts';
export type { Incoming, Outgoing } from './jsonrpc.ts';
