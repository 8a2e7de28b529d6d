// berth-guestd's listener-watch stream (OPEN kind l, backed by listeners.c): a line at once, a new one when a
// listener appears, and a fresh one whenever the host sends DATA. This machine has other listeners too: the
// assertions are about the socket the test opens.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/agent.js';
import { Host, T } from './helpers/host.js';

beforeAll(() => void buildAgent(), 120_000);

let host: Host;
afterEach(async () => {
  expect(await host.close()).toBe(0);
});

/** 127.0.0.1:port as /proc/net/tcp prints a local address */
const procAddr = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;

describe('berth-guestd listener watch stream', () => {
  it('sends a line at once, another when a listener appears, and one on request', { timeout: 20_000 }, async () => {
    host = await Host.start();
    await host.hello();
    expect((await host.open(1, 'l')).type).toBe(T.OPEN_OK);
    const first = (await host.nextOn(1, T.DATA)).payload.toString();
    expect(first).toMatch(/^L[^\n]*\n$/);
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const addr = procAddr((srv.address() as AddressInfo).port);
    expect(first).not.toContain(addr);
    const seen = await host.next((f) => f.stream === 1 && f.type === T.DATA && f.payload.toString().includes(addr), 'a line with the new listener', 5000);
    expect(seen.payload.toString()).toMatch(/^L .*\n$/);
    host.send(T.DATA, 1, '\n');
    const fresh = await host.nextOn(1, T.DATA);
    expect(fresh.payload.toString()).toContain(addr);
    await host.nextOn(1, T.CREDIT);
    srv.close();
  });
});
