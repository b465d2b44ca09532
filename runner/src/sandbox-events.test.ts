import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { ContainerClient, DockerEvent } from './docker/client.ts';
import { SandboxEvents } from './sandbox-events.ts';

const ev = (action: string, containerId: string, timeNano: string): DockerEvent => ({ action, containerId, labels: {}, timeNano });

describe('SandboxEvents', () => {
  it('resubscribes from the last event time when the stream ends or fails, and drops the repeats', async () => {
    const events = new SandboxEvents();
    const sinces: Array<string | undefined> = [];
    const ac = new AbortController();
    const docker = {
      events: async (_signal: AbortSignal, onEvent: (e: DockerEvent) => void, opts?: { since?: string }) => {
        sinces.push(opts?.since);
        if (sinces.length === 1) {
          onEvent(ev('oom', 'c1', '1700000000123456789'));
          return; // the stream ended
        }
        if (sinces.length === 2) throw new Error('engine unavailable');
        // The resubscription repeats the last event (same time), then a new one.
        onEvent(ev('oom', 'c1', '1700000000123456789'));
        onEvent(ev('die', 'c1', '1700000001000000000'));
        ac.abort();
      },
    } as unknown as ContainerClient;
    await events.watch(docker, ac.signal, pino({ level: 'silent' }));
    expect(sinces.length).toBe(3);
    expect(sinces[1]).toBe('1700000000.123456789');
    expect(sinces[2]).toBe('1700000000.123456789');
    expect(events.ooms('c1')).toBe(1);
    expect(events.died('c1')).toBe(true);
  });
});
