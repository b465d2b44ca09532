// The proxy process's asks for unlisted hosts, over its IPC channel to the runner (run-egress.ts
// answers them through ask.ts). Each ask has an id; one the runner does not answer in time is a
// denial, so a lost answer never holds a connection forever.
import type { EgressAskResult, EgressTarget } from '@airlock/proto';
import type { AskUnlisted } from './unlisted.ts';

/** Proxy -> runner: a connection waits for this answer. */
export interface AskMessage {
  type: 'ask';
  id: number;
  target: EgressTarget;
}

/** Runner -> proxy: the answer to ask `id`. */
export interface AnswerMessage {
  type: 'answer';
  id: number;
  answer: EgressAskResult;
}

/** The proxy side: `ask` sends and waits; `onMessage` takes the runner's answers. */
export function childAsker(send: (m: AskMessage) => void, timeoutMs: number): { ask: AskUnlisted; onMessage(m: unknown): void } {
  let next = 1;
  const waiting = new Map<number, (a: EgressAskResult) => void>();
  return {
    ask(target) {
      const id = next++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => settle({ allowed: false, reason: `no answer from the runner within ${timeoutMs} ms: denied` }), timeoutMs);
        function settle(a: EgressAskResult) {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(a);
        }
        waiting.set(id, settle);
        send({ type: 'ask', id, target });
      });
    },
    onMessage(m) {
      const a = m as Partial<AnswerMessage>;
      if (a.type === 'answer' && typeof a.id === 'number' && a.answer) waiting.get(a.id)?.(a.answer);
    },
  };
}
