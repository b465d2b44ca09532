export { HarnessService } from './service.ts';
export type { HarnessState } from './service.ts';
export { HarnessConfigSchema, loadHarnessConfig } from './config.ts';
export type { HarnessConfig } from './config.ts';
export { replayRun } from './replay.ts';
export type { ReplayOptions, ReplayReport, ReplayStep } from './replay.ts';
export { ensureDeployment, natsAuthConfig, runnerPermissions, withCredentials } from './cli/credentials.ts';
export type { Deployment } from './cli/credentials.ts';
