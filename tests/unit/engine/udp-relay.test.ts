// The UDP relay with real sockets on loopback: a real dgram echo stands in for QEMU's forward
// (the far end of the relay). Boundaries, two clients at once, IPv4 and IPv6 clients, idle expiry,
// and replies that come from another port than the one the datagram went to (what QEMU does when
// it holds more than one rule for a guest port).
import type dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpRelay, bindUdp, hostfwdUpstream } from '../../../electron/engine/agent/udp-relay.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const portOf = (s: dgram.Socket) => (s.address() as AddressInfo).port;

/** An echo on 127.0.0.1: each datagram back to its sender, from `replyFrom` if given. */
async function echo(replyFrom?: dgram.Socket): Promise<{ sock: dgram.Socket; seen: { size: number; from: string }[] }> {
  const sock = await bindUdp('127.0.0.1', 0);
  const seen: { size: number; from: string }[] = [];
  sock.on('message', (m, r) => {
    seen.push({ size: m.length, from: `${r.address}:${r.port}` });
    (replyFrom ?? sock).send(m, r.port, r.address);
  });
  cleanup.push(() => sock.close());
  return { sock, seen };
}

/** A client socket: send datagrams, collect what comes back. */
async function client(address: '127.0.0.1' | '::1') {
  const sock = await bindUdp(address, 0);
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  cleanup.push(() => sock.close());
  return {
    sock,
    got,
    send: (port: number, ...msgs: Buffer[]) => {
      for (const m of msgs) sock.send(m, port, address);
    },
    waitFor: async (n: number, ms = 3000) => {
      const deadline = Date.now() + ms;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return got;
    },
  };
}

/** A relay on 127.0.0.1 and ::1 at a free port, towards `target`. */
async function relay(target: number, opts: { idleMs?: number; maxFlows?: number } = {}) {
  const v4 = await bindUdp('127.0.0.1', 0);
  const port = portOf(v4);
  const v6 = await bindUdp('::1', port);
  const r = new UdpRelay([v4, v6], { upstream: hostfwdUpstream({ host: '127.0.0.1', port: target }), ...opts });
  cleanup.push(() => r.close());
  return { r, port, listeners: [v4, v6] };
}

describe('UDP relay', () => {
  it('keeps datagram boundaries: each datagram arrives and comes back whole, in its own size', async () => {
    const e = await echo();
    const { port } = await relay(portOf(e.sock));
    const c = await client('127.0.0.1');
    const sizes = [1, 512, 1472, 8000, 60_000];
    c.send(port, ...sizes.map((n, i) => Buffer.alloc(n, 65 + i)));
    const got = await c.waitFor(sizes.length);
    expect(got.map((b) => b.length).sort((a, b) => a - b)).toEqual(sizes);
    for (const b of got) expect(new Set(b).size).toBe(1);
    expect(e.seen.map((s) => s.size).sort((a, b) => a - b)).toEqual(sizes);
  });

  it('answers clients on 127.0.0.1 and on ::1, each getting only its own replies', async () => {
    const e = await echo();
    const { r, port } = await relay(portOf(e.sock));
    const a = await client('127.0.0.1');
    const b = await client('::1');
    const c = await client('127.0.0.1');
    for (let i = 0; i < 5; i++) {
      a.send(port, Buffer.from(`a-${i}`));
      b.send(port, Buffer.from(`b-${i}`));
      c.send(port, Buffer.from(`c-${i}`));
    }
    for (const [x, tag] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      const got = (await x.waitFor(5)).map(String).sort();
      expect(got).toEqual([0, 1, 2, 3, 4].map((i) => `${tag}-${i}`));
    }
    // one flow (one upstream socket, seen by the far end as one client) per client address
    expect(r.flowCount).toBe(3);
    expect(new Set(e.seen.map((s) => s.from)).size).toBe(3);
    for (const s of e.seen) expect(s.from.startsWith('127.0.0.1:')).toBe(true);
  });

  it('passes on a reply that comes from another port than the one the datagram went to', async () => {
    const other = await bindUdp('127.0.0.1', 0);
    cleanup.push(() => other.close());
    const e = await echo(other);
    const { port } = await relay(portOf(e.sock));
    const c = await client('::1');
    c.send(port, Buffer.from('hello'));
    expect((await c.waitFor(1)).map(String)).toEqual(['hello']);
  });

  it('closes a flow that stayed idle, and a later datagram from the same client opens a new one', async () => {
    const e = await echo();
    const { r, port } = await relay(portOf(e.sock), { idleMs: 150 });
    const c = await client('127.0.0.1');
    c.send(port, Buffer.from('one'));
    await c.waitFor(1);
    expect(r.flowCount).toBe(1);
    const [upstream] = r.upstreamPorts();
    await new Promise((res) => setTimeout(res, 500));
    expect(r.flowCount).toBe(0);
    // its upstream socket is gone: the port can be bound again
    const again = await bindUdp('127.0.0.1', upstream!);
    again.close();
    c.send(port, Buffer.from('two'));
    expect((await c.waitFor(2)).map(String)).toEqual(['one', 'two']);
    expect(r.flowCount).toBe(1);
  });

  it('an active flow does not expire', async () => {
    const e = await echo();
    const { r, port } = await relay(portOf(e.sock), { idleMs: 200 });
    const c = await client('127.0.0.1');
    for (let i = 0; i < 6; i++) {
      c.send(port, Buffer.from(`${i}`));
      await new Promise((res) => setTimeout(res, 80));
    }
    expect(await c.waitFor(6)).toHaveLength(6);
    expect(r.flowCount).toBe(1);
    expect(new Set(e.seen.map((s) => s.from)).size).toBe(1);
  });

  it('ages flows by the injected clock', async () => {
    const e = await echo();
    let now = 1_000;
    const v4 = await bindUdp('127.0.0.1', 0);
    const r = new UdpRelay([v4], { upstream: hostfwdUpstream({ host: '127.0.0.1', port: portOf(e.sock) }), idleMs: 60_000, now: () => now });
    cleanup.push(() => r.close());
    const c = await client('127.0.0.1');
    c.send(portOf(v4), Buffer.from('x'));
    await c.waitFor(1);
    now += 59_000;
    r.expire();
    expect(r.flowCount).toBe(1);
    now += 2_000;
    r.expire();
    expect(r.flowCount).toBe(0);
  });

  it('holds at most maxFlows flows, dropping the least recently used', async () => {
    const e = await echo();
    const { r, port } = await relay(portOf(e.sock), { maxFlows: 2 });
    const cs = [await client('127.0.0.1'), await client('127.0.0.1'), await client('127.0.0.1')];
    for (const c of cs) {
      c.send(port, Buffer.from('hi'));
      await c.waitFor(1);
    }
    expect(r.flowCount).toBe(2);
    // the newest client still gets answers
    cs[2]!.send(port, Buffer.from('again'));
    expect((await cs[2]!.waitFor(2)).map(String)).toEqual(['hi', 'again']);
  });

  it('with the peer filter, drops a datagram from an address that is not loopback', async () => {
    const e = await echo();
    const v4 = await bindUdp('127.0.0.1', 0);
    const r = new UdpRelay([v4], { upstream: hostfwdUpstream({ host: '127.0.0.1', port: portOf(e.sock) }), loopbackFilter: true });
    cleanup.push(() => r.close());
    // Tests send to loopback only: the LAN peer is a message event with that sender.
    v4.emit('message', Buffer.from('from the LAN'), { address: '192.168.1.20', family: 'IPv4', port: 5000, size: 12 });
    await new Promise((res) => setTimeout(res, 100));
    expect(r.flowCount).toBe(0);
    expect(e.seen).toEqual([]);
    const c = await client('127.0.0.1');
    c.send(portOf(v4), Buffer.from('local'));
    expect((await c.waitFor(1)).map(String)).toEqual(['local']);
  });

  it('close() frees the listening port and every upstream socket', async () => {
    const e = await echo();
    const { r, port } = await relay(portOf(e.sock));
    const c = await client('127.0.0.1');
    c.send(port, Buffer.from('x'));
    await c.waitFor(1);
    const ups = r.upstreamPorts();
    r.close();
    await new Promise((res) => setTimeout(res, 20));
    for (const p of [port, ...ups]) (await bindUdp('127.0.0.1', p)).close();
    (await bindUdp('::1', port)).close();
  });
});
