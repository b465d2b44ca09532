// Operators' controls beyond pause/resume/cancel/kill/raise (issue 14): interrupting the running
// step, scoped and expiring approvals, retrying a step on a branch, rollback as a two-person job.
import { z } from 'zod';
import { RunIdSchema, StepNumberSchema, VersionSchema } from './common.ts';
import { ActorSchema } from './governance.ts';

/** How long an interrupted step has between SIGINT and SIGTERM, unless the request says. */
export const DEFAULT_INTERRUPT_GRACE_MS = 10_000;

/** How long a held request waits for a decision unless the policy says (24 h); then it is a denial. */
export const DEFAULT_APPROVAL_EXPIRY_MS = 24 * 3600 * 1000;
