import type { Span, Validator } from './validator.ts';
import type { VerdictKind } from './policy.ts';

/** One output line of {@link validateJsonl} for a well-formed input line. */
export interface JsonlResult {
  readonly cmd: string;
  readonly verdict: VerdictKind;
  readonly rule: string;
  readonly reason: string;
  readonly span?: Span;
}

/** One output line of {@link validateJsonl} for a malformed input line (1-based line number). */
export interface JsonlError {
  readonly line: number;
  readonly error: string;
}

/**
 * Validates a JSONL stream (`{"cmd": "…"}` per line) and yields one result
 * per non-blank input line, in order. A malformed line yields
 * `{ line, error }` instead of throwing, so one bad line never stops a batch.
 */
export async function* validateJsonl(
  lines: AsyncIterable<string> | Iterable<string>,
  validator: Validator,
): AsyncGenerator<JsonlResult | JsonlError> {
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      yield { line: n, error: `not JSON: ${(err as Error).message}` };
      continue;
    }
    if (typeof obj !== 'object' || obj === null || typeof (obj as { cmd?: unknown }).cmd !== 'string') {
      yield { line: n, error: 'expected an object with a string "cmd" field' };
      continue;
    }
    const cmd = (obj as { cmd: string }).cmd;
    const v = validator.validate(cmd);
    yield v.span ? { cmd, verdict: v.verdict, rule: v.rule, reason: v.reason, span: v.span } : { cmd, verdict: v.verdict, rule: v.rule, reason: v.reason };
  }
}
