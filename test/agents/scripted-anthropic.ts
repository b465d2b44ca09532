// A scripted Anthropic Messages API on loopback: stands in for the model so an unmodified agent
// (Claude Code) can be driven through a known sequence of tool calls. Streaming SSE as the real API
// sends it (message_start, content_block_start/delta/stop with text_delta or input_json_delta,
// message_delta with the stop reason, message_stop), or one JSON message when `stream` is false.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** One block of a request's conversation, as far as the script needs it. */
export interface Block {
  type: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | Array<{ type: string; text?: string }>;
  is_error?: boolean;
  text?: string;
}

export interface Message {
  role: 'user' | 'assistant';
  content: string | Block[];
}

/** What the model answers next: a tool call, or a final text. */
export type Turn = { tool: string; input: Record<string, unknown> } | { text: string };

/** Decides the next turn from the conversation so far (the request's messages). */
export type Planner = (messages: Message[]) => Turn;

export interface RecordedRequest {
  path: string;
  model?: string;
  stream: boolean;
  /** Tool names the agent offered the model. */
  tools: string[];
  messages: Message[];
  /** The planner answered it (the agent's main loop); other requests got a short text. */
  scripted: boolean;
}

export interface ScriptedAnthropic extends AsyncDisposable {
  readonly url: string;
  readonly requests: RecordedRequest[];
}

/**
 * Starts the server. Requests that offer a tool whose name starts with `toolPrefix` are the agent's
 * main loop and are answered by `plan`; anything else the agent asks (titles, quota probes) gets "ok".
 */
export async function startScriptedAnthropic(opts: { toolPrefix: string; plan: Planner }): Promise<ScriptedAnthropic> {
  const requests: RecordedRequest[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(err) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const raw = await readBody(req);
    if (req.method !== 'POST' || !path.endsWith('/messages')) {
      if (path.endsWith('/count_tokens')) return json(res, { input_tokens: 1000 });
      return json(res, {});
    }
    const body = JSON.parse(raw) as { model?: string; stream?: boolean; tools?: Array<{ name: string }>; messages?: Message[] };
    const tools = (body.tools ?? []).map((t) => t.name);
    const messages = body.messages ?? [];
    const scripted = tools.some((t) => t.startsWith(opts.toolPrefix));
    requests.push({ path, ...(body.model ? { model: body.model } : {}), stream: body.stream === true, tools, messages, scripted });
    const turn: Turn = scripted ? opts.plan(messages) : { text: 'ok' };
    const id = `msg_scripted_${++n}`;
    const model = body.model ?? 'scripted';
    if (body.stream) return streamTurn(res, id, model, turn, n);
    const content = 'tool' in turn ? [{ type: 'tool_use', id: `toolu_scripted_${n}`, name: turn.tool, input: turn.input }] : [{ type: 'text', text: turn.text }];
    return json(res, { id, type: 'message', role: 'assistant', model, content, stop_reason: 'tool' in turn ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { input_tokens: 100, output_tokens: 20 } });
  }

  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}

/** The SSE events of one assistant message, the tool input split into several input_json_delta pieces. */
function streamTurn(res: ServerResponse, id: string, model: string, turn: Turn, n: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': `req_scripted_${n}` });
  const send = (event: string, data: Record<string, unknown>) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 100, output_tokens: 1 } } });
  if ('tool' in turn) {
    send('content_block_start', { index: 0, content_block: { type: 'tool_use', id: `toolu_scripted_${n}`, name: turn.tool, input: {} } });
    const json = JSON.stringify(turn.input);
    const piece = Math.max(1, Math.ceil(json.length / 3));
    for (let i = 0; i < json.length; i += piece) send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: json.slice(i, i + piece) } });
  } else {
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: turn.text } });
  }
  send('content_block_stop', { index: 0 });
  send('message_delta', { delta: { stop_reason: 'tool' in turn ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } });
  send('message_stop', {});
  res.end();
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

/** Every block of the conversation, in order. */
export function blocksOf(messages: Message[]): Array<Block & { role: Message['role'] }> {
  return messages.flatMap((m) => (typeof m.content === 'string' ? [{ type: 'text', text: m.content, role: m.role }] : m.content.map((b) => ({ ...b, role: m.role }))));
}

/** The text of a tool_result block (its text parts joined). */
export function resultText(b: Block): string {
  if (typeof b.content === 'string') return b.content;
  return (b.content ?? []).map((c) => c.text ?? '').join('\n');
}
