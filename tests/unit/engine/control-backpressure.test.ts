// The control socket's event fan-out to a subscriber that stops reading: the supervisor does not
// queue events for it without limit; past the cap that client is disconnected (with a logged
// reason) while a client that reads keeps receiving every event.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, Events, Envelope, Method, Result } from '../../../electron/shared/contract.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { ControlClient } from '../../../electron/engine/control/client.js';
import { MAX_QUEUED_BYTES, serveControl } from '../../../electron/engine/control/server.js';

class EmittingBackend implements Backend {
  private listeners = new Map<string, ((p: unknown) => void)[]>();
  async invoke<M extends Method>(): Promise<Envelope<Result<M>>> {
    return { ok: true, value: null as Result<M> };
  }
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener as (p: unknown) => void]);
    return () => this.listeners.set(event, (this.listeners.get(event) ?? []).filter((x) => x !== listener));
  }
  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const l of this.listeners.get(event) ?? []) l(payload);
  }
  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.length ?? 0;
  }
  async close(): Promise<void> {}
}

let dir: string;
let sock: string;
let server: net.Server;
const backend = new EmittingBackend();
const logs: string[] = [];
const LIMIT = 1024 * 1024;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-bp-'));
  sock = path.join(dir, 'control.sock');
  server = await serveControl(sock, backend, { maxQueuedBytes: LIMIT, log: (l) => logs.push(l) });
});
afterAll(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const connections = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
const turn = () => new Promise((r) => setImmediate(r));

describe('control socket: a subscriber that stops reading', () => {
  it('defaults to a 4 MiB cap', () => expect(MAX_QUEUED_BYTES).toBe(4 * 1024 * 1024));

  it('is disconnected past the cap, with a logged reason; a reading subscriber gets every event', async () => {
    // The stalled client: subscribes, reads the acknowledgement, then never reads again.
    const stalled = net.createConnection(sock);
    await new Promise<void>((r) => stalled.once('connect', () => r()));
    stalled.write('{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}\n');
    await new Promise<void>((r) => stalled.once('data', () => r()));
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    stalled.on('error', () => undefined);

    const reader = await ControlClient.connect(sock);
    let received = 0;
    reader.on('log', () => received++);
    await reader.subscribe();
    expect(await connections()).toBe(2);

    // 8 MiB of log events, 64 KiB per event-loop turn (a busy serial console, say)
    const line = 'x'.repeat(1024);
    const total = 8 * 1024;
    for (let i = 0; i < total; i++) {
      backend.emit('log', { source: 'serial', line });
      if (i % 64 === 63) await turn();
    }
    // the reader drains what is in flight
    for (let i = 0; i < 500 && received < total; i++) await new Promise((r) => setTimeout(r, 10));

    expect(received).toBe(total);
    expect(await connections()).toBe(1); // the stalled client's socket is gone on the server side
    expect(backend.listenerCount('log')).toBe(1); // and so is its subscription
    expect(logs).toHaveLength(1);
    const [, queued] = /disconnecting a client that stopped reading \((\d+) bytes waiting for it, limit (\d+)\)/.exec(logs[0] ?? '') ?? [];
    // what the server held for it never grew much past the cap (one event beyond it at most)
    expect(Number(queued)).toBeGreaterThan(LIMIT);
    expect(Number(queued)).toBeLessThan(LIMIT + 2048);

    // The stalled client, once it reads again, finds its stream cut short and closed.
    let bytes = 0;
    stalled.on('data', (d: Buffer) => (bytes += d.length));
    stalled.resume();
    for (let i = 0; i < 500 && !stalledClosed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stalledClosed).toBe(true);
    expect(bytes).toBeLessThan(total * line.length);

    // and the reader is still served
    expect((await reader.invoke('vm.status', {})).ok).toBe(true);
    await reader.close();
  }, 30_000);
});
