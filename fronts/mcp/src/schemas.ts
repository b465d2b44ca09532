// Schemas and limits the tool modules share.
import { z } from 'zod';

/** Default and largest output a result carries per stream; the full output stays in the run log. */
export const OUTPUT_DEFAULT = 30_000;
export const OUTPUT_MAX = 1_000_000;
export const runIdField = (fixed: boolean) =>
  fixed
    ? z.string().optional().describe('The run to act on. Optional: this server is bound to one run.')
    : z.string().describe('The run to act on: the run_id open_run returned.');

export const verdictShape = z.object({ decision: z.enum(['allow', 'ask', 'deny']), rule: z.string(), reason: z.string() });

