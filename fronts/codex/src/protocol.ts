// The request shapes of Codex's exec-server protocol that this server answers, as the pinned Codex
// (0.171.0) sends them: read from its JSON-RPC on stdio (see the README, "Codex CLI"). Unknown members
// are ignored, so a newer Codex that adds fields still parses; a missing required one is `invalidParams`.
import { z } from 'zod';

/** Methods Codex calls. Anything else is answered with `methodNotFound`. */
export const methods = {
  initialize: 'initialize',
  initialized: 'initialized',
  environmentInfo: 'environment/info',
  processStart: 'process/start',
  processRead: 'process/read',
  processWrite: 'process/write',
  processSignal: 'process/signal',
  processTerminate: 'process/terminate',
  fsReadFile: 'fs/readFile',
  fsWriteFile: 'fs/writeFile',
  fsCreateDirectory: 'fs/createDirectory',
  fsGetMetadata: 'fs/getMetadata',
  fsReadDirectory: 'fs/readDirectory',
  fsRemove: 'fs/remove',
  fsCopy: 'fs/copy',
  fsCanonicalize: 'fs/canonicalize',
  httpRequest: 'http/request',
} as const;

/** Notifications this server sends. */
export const notifications = {
  output: 'process/output',
  exited: 'process/exited',
  closed: 'process/closed',
} as const;

/** Paths cross the protocol as `file://` URIs of absolute paths. */
const PathUriSchema = z.string().startsWith('file:///', 'a path must be a file:/// URI');

export const InitializeParamsSchema = z.object({
  clientName: z.string(),
  resumeSessionId: z.string().nullish(),
});

export const ProcessStartParamsSchema = z.object({
  /** Chosen by Codex, unique per connection. */
  processId: z.string().min(1).max(512),
  argv: z.array(z.string()).min(1, 'argv must not be empty'),
  cwd: PathUriSchema,
  /** Variables Codex sets for the command; the sandbox's own base environment is what is inherited. */
  env: z.record(z.string(), z.string()).default({}),
  tty: z.boolean().default(false),
  pipeStdin: z.boolean().default(false),
  arg0: z.string().nullish(),
});
export type ProcessStartParams = z.infer<typeof ProcessStartParamsSchema>;

export const ProcessReadParamsSchema = z.object({
  processId: z.string(),
  afterSeq: z.number().int().min(0).nullish(),
  maxBytes: z.number().int().positive().nullish(),
  waitMs: z.number().int().min(0).nullish(),
});
export type ProcessReadParams = z.infer<typeof ProcessReadParamsSchema>;

export const ProcessIdParamsSchema = z.object({ processId: z.string() });

/** `process/signal`: a signal by name (`SIGINT`, `INT`) or number (2). */
export const ProcessSignalParamsSchema = z.object({ processId: z.string(), signal: z.union([z.string().min(1).max(16), z.number().int().min(1).max(64)]) });

export const ProcessWriteParamsSchema = z.object({ processId: z.string(), chunk: z.string() });

export const FsPathParamsSchema = z.object({ path: PathUriSchema });

export const FsWriteFileParamsSchema = z.object({ path: PathUriSchema, dataBase64: z.string() });

export const FsCreateDirectoryParamsSchema = z.object({ path: PathUriSchema, recursive: z.boolean().nullish() });

export const FsRemoveParamsSchema = z.object({ path: PathUriSchema, recursive: z.boolean().nullish(), force: z.boolean().nullish() });

export const FsCopyParamsSchema = z.object({ sourcePath: PathUriSchema, destinationPath: PathUriSchema, recursive: z.boolean().default(false) });

/** `process/read`'s answer. */
export interface ReadResponse {
  chunks: Array<{ seq: number; stream: OutputStream; chunk: string }>;
  nextSeq: number;
  exited: boolean;
  exitCode: number | null;
  closed: boolean;
  /** Set when the process could not run (denied, held, Airlock failed): Codex shows the model this text. */
  failure: string | null;
}

export const OutputStreams = ['stdout', 'stderr'] as const;
export type OutputStream = (typeof OutputStreams)[number];
