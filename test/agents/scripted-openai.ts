// A scripted stand-in for the OpenAI Responses API on loopback, for driving the real Codex CLI with no
// LLM: each `POST …/responses` is answered (streaming SSE, as Codex reads it) with the next command of
// a script as an `exec_command` tool call, then, when every command has finished, a final message.
// Where the script stands is read from the request itself (the tool outputs Codex sends back), so a
// retried request gets the same answer. A command still running when Codex yields is polled with
// `write_stdin` (empty input) until it ends, as a model would.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** One turn of the script: a bash command line (`exec_command`), or a patch for Codex's `apply_patch` tool. */
export type ScriptStep = string | { patch: string };

export interface ScriptedModelOptions {
  /** Bash command lines (or patches), in order. */
  commands: readonly ScriptStep[];
  /** The assistant's last message. */
  finalMessage?: string;
  /** `yield_time_ms` of each call (Codex caps it at 30 s; longer commands are polled). */
  yieldTimeMs?: number;
  /** `max_output_tokens` of each call. */
  maxOutputTokens?: number;
}

/** One request Codex sent, as parsed. */
export interface SeenRequest {
  path: string;
  body: ResponsesRequest;
}

interface InputItem {
  type?: string;
  name?: string;
  call_id?: string;
  arguments?: string;
  input?: string;
  output?: unknown;
}

interface ResponsesRequest {
  model?: string;
  stream?: boolean;
  input?: InputItem[];
  tools?: Array<{ type?: string; name?: string }>;
}

/** What the model does next. */
export type NextAction = { kind: 'exec'; index: number; cmd: string } | { kind: 'patch'; index: number; patch: string } | { kind: 'poll'; sessionId: number } | { kind: 'final' };

const OUTPUT_TYPES = new Set(['function_call_output', 'custom_tool_call_output']);

/** Text of a tool output item (a string, or content parts with text). */
export function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('');
  return '';
}

const RUNNING = /Process running with session ID (\d+)/;

/**
 * Decides the next action from the conversation so far: every tool output that is not "still running"
 * finished one command of the script; a "still running" last output is polled.
 */
export function nextAction(input: readonly InputItem[], commands: readonly ScriptStep[]): NextAction {
  const outputs = input.filter((i) => OUTPUT_TYPES.has(i.type ?? '')).map((i) => outputText(i.output));
  const finished = outputs.filter((o) => !RUNNING.test(o)).length;
  const last = outputs.at(-1);
  const running = last === undefined ? null : RUNNING.exec(last);
  if (running) return { kind: 'poll', sessionId: Number(running[1]) };
  const next = commands[finished];
  if (typeof next === 'string') return { kind: 'exec', index: finished, cmd: next };
  if (next) return { kind: 'patch', index: finished, patch: next.patch };
  return { kind: 'final' };
}

export class ScriptedResponsesServer implements AsyncDisposable {
  readonly requests: SeenRequest[] = [];
  /** Requests the server could not answer (wrong path, not JSON, compressed): a test should expect none. */
  readonly problems: string[] = [];
  readonly #server: Server;
  readonly #opts: Required<ScriptedModelOptions>;
  #calls = 0;

  private constructor(server: Server, opts: ScriptedModelOptions) {
    this.#server = server;
    this.#opts = { finalMessage: 'All commands of the session ran.', yieldTimeMs: 30_000, maxOutputTokens: 100_000, ...opts };
  }

  static async start(opts: ScriptedModelOptions): Promise<ScriptedResponsesServer> {
    let self: ScriptedResponsesServer | undefined;
    const server = createServer((req, res) => self!.#handle(req, res));
    self = new ScriptedResponsesServer(server, opts);
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => done());
    });
    return self;
  }

  /** The `base_url` for Codex's `model_providers` entry. */
  get baseUrl(): string {
    const { port } = this.#server.address() as { port: number };
    return `http://127.0.0.1:${port}/v1`;
  }

  /** Every tool output Codex sent back, by call id, from the latest request (the whole conversation). */
  toolOutputs(): Map<string, string> {
    const last = this.requests.at(-1)?.body.input ?? [];
    return new Map(last.filter((i) => OUTPUT_TYPES.has(i.type ?? '')).map((i) => [i.call_id ?? '', outputText(i.output)]));
  }

  /** The tool calls Codex sent back as history, in order (from the latest request). */
  toolCalls(): Array<{ callId: string; name: string; arguments: Record<string, unknown> }> {
    const last = this.requests.at(-1)?.body.input ?? [];
    return last
      .filter((i) => i.type === 'function_call' || i.type === 'custom_tool_call')
      .map((i) => ({
        callId: i.call_id ?? '',
        name: i.name ?? '',
        arguments: i.type === 'custom_tool_call' ? { input: i.input } : (JSON.parse(i.arguments ?? '{}') as Record<string, unknown>),
      }));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () => {
      const path = req.url ?? '';
      if (req.method !== 'POST' || !/\/responses$/.test(path)) {
        this.problems.push(`${req.method} ${path}`);
        res.writeHead(404).end();
        return;
      }
      if (req.headers['content-encoding']) {
        this.problems.push(`compressed request body (${req.headers['content-encoding']})`);
        res.writeHead(415).end();
        return;
      }
      let parsed: ResponsesRequest;
      try {
        parsed = JSON.parse(Buffer.concat(body).toString('utf8')) as ResponsesRequest;
      } catch {
        this.problems.push(`request body is not JSON on ${path}`);
        res.writeHead(400).end();
        return;
      }
      this.requests.push({ path, body: parsed });
      this.#answer(parsed, res);
    });
  }

  #answer(body: ResponsesRequest, res: ServerResponse): void {
    const n = this.#calls++;
    const responseId = `resp_scripted_${n}`;
    const action = nextAction(body.input ?? [], this.#opts.commands);
    const item =
      action.kind === 'final'
        ? { type: 'message', role: 'assistant', id: `msg_scripted_${n}`, content: [{ type: 'output_text', text: this.#opts.finalMessage }] }
        : action.kind === 'patch'
          ? { type: 'custom_tool_call', id: `ctc_scripted_${n}`, call_id: `call_scripted_${n}`, name: 'apply_patch', input: action.patch }
          : {
            type: 'function_call',
            id: `fc_scripted_${n}`,
            call_id: `call_scripted_${n}`,
            name: action.kind === 'exec' ? 'exec_command' : 'write_stdin',
            arguments: JSON.stringify(
              action.kind === 'exec'
                ? { cmd: action.cmd, yield_time_ms: this.#opts.yieldTimeMs, max_output_tokens: this.#opts.maxOutputTokens }
                : { session_id: action.sessionId, chars: '', yield_time_ms: this.#opts.yieldTimeMs, max_output_tokens: this.#opts.maxOutputTokens },
            ),
          };
    const usage = { input_tokens: 0, input_tokens_details: null, output_tokens: 0, output_tokens_details: null, total_tokens: 0 };
    const events = [
      { type: 'response.created', response: { id: responseId } },
      { type: 'response.output_item.done', item },
      { type: 'response.completed', response: { id: responseId, usage } },
    ];
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const e of events) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    res.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((done) => this.#server.close(() => done()));
  }
}
