import { outputBytes, type LogEvent, type StepResult } from '@airlock/proto';

/** How a step ended, with its output. A non-zero exit is a result like any other, never an error. */
export interface ExecResult extends StepResult {
  /**
   * What the step wrote to stdout, as UTF-8 text (invalid bytes replaced): the last
   * `maxOutputBytes` of it when it wrote more (see `clippedBytes`). The run log holds every byte.
   */
  stdout: string;
  /** Same for stderr. */
  stderr: string;
  /** Bytes left out of `stdout` and `stderr` here (from their start) to respect `maxOutputBytes`; 0 when complete. */
  clippedBytes: number;
}

/** Default of `maxOutputBytes`: per stream, kept in an {@link ExecResult}. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** The last `max` bytes of a stream, and how many were dropped before them. */
export class TailBuffer {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  dropped = 0;

  constructor(max: number) {
    this.#max = max;
  }

  push(data: Buffer): void {
    this.#chunks.push(data);
    this.#bytes += data.length;
    while (this.#bytes > this.#max && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const over = this.#bytes - this.#max;
      if (first.length <= over) {
        this.#chunks.shift();
        this.#bytes -= first.length;
        this.dropped += first.length;
      } else {
        this.#chunks[0] = first.subarray(over);
        this.#bytes -= over;
        this.dropped += over;
      }
    }
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** Collects one step's output from its log events into the text fields of an {@link ExecResult}. */
export class StepOutput {
  readonly stdout: TailBuffer;
  readonly stderr: TailBuffer;

  constructor(maxBytes = DEFAULT_MAX_OUTPUT_BYTES) {
    this.stdout = new TailBuffer(maxBytes);
    this.stderr = new TailBuffer(maxBytes);
  }

  add(e: Extract<LogEvent, { type: 'step.output' }>): Buffer {
    const data = outputBytes(e);
    (e.stream === 'stdout' ? this.stdout : this.stderr).push(data);
    return data;
  }

  result(r: StepResult): ExecResult {
    return { ...r, stdout: this.stdout.text(), stderr: this.stderr.text(), clippedBytes: this.stdout.dropped + this.stderr.dropped };
  }
}
