// UDP forwards end to end on the host side: the watcher's lines go in (a fake guest link), the
// forwards come out on real sockets. QEMU's forwarding rule is stood in for by a real dgram echo on
// 127.0.0.1 (the rule's internal port is the echo's), so a datagram sent to the forward really
// makes the round trip. Also: `localhost` both ways, for TCP and for UDP.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { PortForward } from '../../../electron/shared/status.js';
import { PortForwarder } from '../../../electron/engine/agent/ports.js';
import type { ForwarderOptions } from '../../../electron/engine/agent/ports.js';
import type { GuestLink } from '../../../electron/engine/agent/link.js';
import type { Hostfwd, UdpChannel } from '../../../electron/engine/agent/udp.js';
import { bindUdp } from '../../../electron/engine/agent/udp-relay.js';

class FakeLink {
  readonly watcher = Object.assign(new PassThrough(), { close: () => undefined });
  async watchListeners(onLine: (line: string) => void) {
    readline.createInterface({ input: this.watcher }).on('line', onLine);
    return { refresh: () => undefined, close: () => undefined };
  }
  async openUnix(): Promise<never> {
    throw new Error('no docker in this test');
  }
  async openTcp() {
    return new PassThrough(); // an echo once spliced
  }
}

const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** QEMU's side stood in for: each rule is a real echo on 127.0.0.1; `fail` makes the next add fail as QEMU words it. */
async function qemuRules() {
  const echoes = new Map<number, dgram.Socket>();
  const calls: string[] = [];
  let fail: string | null = null;
  const hostfwd: Hostfwd = {
    add: async (guestPort) => {
      calls.push(`add ${guestPort}`);
      if (fail) throw new Error(fail);
      const e = await bindUdp('127.0.0.1', 0);
      e.on('message', (m, r) => e.send(m, r.port, r.address));
      const port = (e.address() as AddressInfo).port;
      echoes.set(port, e);
      return port;
    },
    remove: async (port) => {
      calls.push(`remove ${port}`);
      echoes.get(port)?.close();
      echoes.delete(port);
    },
  };
  cleanup.push(() => {
    for (const e of echoes.values()) e.close();
  });
  return { hostfwd, calls, echoes, failNext: (msg: string | null) => (fail = msg) };
}

async function forwarder(opts: ForwarderOptions = {}, rules = { ignore: [] as number[], map: {} as Record<string, number> }) {
  const link = new FakeLink();
  const published: PortForward[][] = [];
  const q = await qemuRules();
  const f = new PortForwarder(link as unknown as GuestLink, rules, (p) => published.push(p), () => undefined, { platform: 'linux', isRoot: false, hostfwd: q.hostfwd, ...opts });
  cleanup.push(() => f.stop());
  await f.start();
  /** the watcher reports this table; resolves with the next list published after it */
  const guestHas = (tokens: string[]) =>
    new Promise<PortForward[]>((resolve) => {
      const seen = published.length;
      const timer = setInterval(() => {
        if (published.length > seen) {
          clearInterval(timer);
          resolve(published[published.length - 1]!);
        }
      }, 5);
      link.watcher.write(`L ${tokens.join(' ')}\n`);
    });
  return { f, q, published, guestHas };
}

const udpOn = (port: number, addr = '00000000') => `u/${addr}:${hex(port)}`;
const tcpOn = (port: number) => `00000000:${hex(port)}`;

async function freeUdpPort(): Promise<number> {
  for (;;) {
    const s = await bindUdp('127.0.0.1', 0);
    const port = (s.address() as AddressInfo).port;
    s.close();
    // the same port must be free on ::1 and for TCP too (some tests forward both)
    try {
      (await bindUdp('::1', port)).close();
      await new Promise<void>((res, rej) => {
        const t = net.createServer().once('error', rej);
        t.listen(port, '127.0.0.1', () => t.close(() => res()));
      });
      return port;
    } catch {
      // taken there: try another
    }
  }
}

/** Send one datagram to host:port from a fresh socket; the reply, or null after timeoutMs. */
function ask(host: '127.0.0.1' | '::1', port: number, msg: string, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(String(m));
    });
    s.on('error', () => undefined);
    s.bind(0, host, () => s.send(msg, port, host));
  });
}

function tcpTalk(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => s.write('ping\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(String(d));
    });
    s.on('error', () => resolve(null));
  });
}

describe('UDP forwards', () => {
  it('a guest UDP server answers on host 127.0.0.1 and ::1 through QEMU’s rule, and is listed as udp', async () => {
    const port = await freeUdpPort();
    const { q, guestHas } = await forwarder();
    const list = await guestHas([udpOn(port)]);
    expect(list).toEqual([{ protocol: 'udp', guestPort: port, hostPort: port, guestAddress: '0.0.0.0', source: 'guest', state: 'forwarding' }]);
    expect(q.calls).toEqual([`add ${port}`]);
    expect(await ask('127.0.0.1', port, 'over IPv4')).toBe('over IPv4');
    expect(await ask('::1', port, 'over IPv6')).toBe('over IPv6');
  });

  it('TCP and UDP on the same port are two forwards, each answering', async () => {
    const port = await freeUdpPort();
    const { guestHas } = await forwarder();
    const list = await guestHas([tcpOn(port), udpOn(port)]);
    expect(list.map((p) => `${p.hostPort}/${p.protocol}:${p.state}`)).toEqual([`${port}/tcp:forwarding`, `${port}/udp:forwarding`]);
    expect(await tcpTalk('127.0.0.1', port)).toBe('ping\n');
    expect(await ask('127.0.0.1', port, 'dgram')).toBe('dgram');
  });

  it('when the guest server goes, QEMU’s rule is removed and the host port is free again', async () => {
    const port = await freeUdpPort();
    const { q, guestHas } = await forwarder();
    await guestHas([udpOn(port)]);
    const [rule] = [...q.echoes.keys()];
    expect(await guestHas([])).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(q.calls).toEqual([`add ${port}`, `remove ${rule}`]);
    (await bindUdp('127.0.0.1', port)).close();
    (await bindUdp('::1', port)).close();
  });

  it('ports.map and ports.ignore apply as for TCP', async () => {
    const [a, b, to] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const { q, guestHas } = await forwarder({}, { ignore: [b], map: { [String(a)]: to } });
    const list = await guestHas([udpOn(a), udpOn(b)]);
    expect(list).toEqual([expect.objectContaining({ protocol: 'udp', guestPort: a, hostPort: to, state: 'forwarding' })]);
    expect(q.calls).toEqual([`add ${a}`]);
    expect(await ask('127.0.0.1', to, 'mapped')).toBe('mapped');
  });

  for (const taken of ['127.0.0.1', '::1'] as const) {
    it(`a host port another program holds on ${taken}: failed with the reason, QEMU not asked, the program keeps it`, async () => {
      const port = await freeUdpPort();
      const other = await bindUdp(taken, port);
      other.on('message', (m, r) => other.send(`other: ${m}`, r.port, r.address));
      cleanup.push(() => other.close());
      const { q, guestHas } = await forwarder();
      const [fwd] = await guestHas([udpOn(port)]);
      const at = taken === '::1' ? `[::1]:${port}` : `127.0.0.1:${port}`;
      expect(fwd).toMatchObject({ protocol: 'udp', hostPort: port, state: 'failed', reason: `port ${port} is already used by another program on this host (binding ${at}/udp failed: address in use)` });
      expect(q.calls).toEqual([]);
      expect(await ask(taken, port, 'hi')).toBe('other: hi');
    });
  }

  it('QEMU refusing the rule: failed with QEMU’s words, nothing left bound', async () => {
    const port = await freeUdpPort();
    const { q, guestHas } = await forwarder();
    q.failNext(`Could not set up host forwarding rule 'udp:127.0.0.1:40555-:${port}'`);
    const [fwd] = await guestHas([udpOn(port)]);
    expect(fwd).toMatchObject({ state: 'failed', reason: `QEMU could not forward guest UDP port ${port}: Could not set up host forwarding rule 'udp:127.0.0.1:40555-:${port}'` });
    (await bindUdp('127.0.0.1', port)).close();
  });

  it('a guest server bound to its loopback only is listed as failed with why; nothing is bound or asked', async () => {
    const port = await freeUdpPort();
    const { q, guestHas } = await forwarder();
    const [fwd] = await guestHas([udpOn(port, '0100007F')]);
    expect(fwd).toMatchObject({ protocol: 'udp', guestAddress: '127.0.0.1', state: 'failed', reason: 'the guest listener is bound to 127.0.0.1 only; UDP reaches listeners on all addresses (0.0.0.0 or ::)' });
    expect(q.calls).toEqual([]);
    (await bindUdp('127.0.0.1', port)).close();
  });

  it('stop() closes every UDP forward and gives back QEMU’s rules', async () => {
    const port = await freeUdpPort();
    const { f, q, guestHas } = await forwarder();
    await guestHas([udpOn(port)]);
    f.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(q.echoes.size).toBe(0);
    (await bindUdp('127.0.0.1', port)).close();
  });
});

describe('localhost both ways: a forward answers whether the client resolves localhost to 127.0.0.1 or ::1', () => {
  it('TCP', async () => {
    const port = await freeUdpPort();
    const { guestHas } = await forwarder();
    await guestHas([tcpOn(port)]);
    expect(await tcpTalk('127.0.0.1', port)).toBe('ping\n');
    expect(await tcpTalk('::1', port)).toBe('ping\n');
  });

  it('UDP', async () => {
    const port = await freeUdpPort();
    const { guestHas } = await forwarder();
    await guestHas([udpOn(port)]);
    expect(await ask('127.0.0.1', port, 'v4')).toBe('v4');
    expect(await ask('::1', port, 'v6')).toBe('v6');
  });
});

/**
 * The guest channel's UDP streams stood in for by real sockets: each stream is a UDP socket
 * connect()ed to the address it names, as berth-guestd makes one in the guest; here the "guest"
 * is this machine's loopback, where the test's echo servers run.
 */
function channelStandIn() {
  const opened: string[] = [];
  let live = 0;
  const channel: UdpChannel = async (host, port) => {
    opened.push(`${host} ${port}`);
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((res) => s.connect(port, host, () => res()));
    live++;
    const ev = new EventEmitter();
    s.on('message', (m) => ev.emit('message', m));
    const port_ = {
      send: (b: Buffer) => s.send(b),
      on: (e: 'message' | 'close', f: (b: Buffer) => void) => (ev.on(e, f), port_),
      close: () => {
        live--;
        s.close();
      },
    };
    return port_;
  };
  return { channel, opened, live: () => live };
}

describe('UDP over the guest channel', () => {
  it('each client flow is its own stream to the server’s address; no QEMU rule is asked for', async () => {
    const echo = await bindUdp('127.0.0.1', 0);
    echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
    cleanup.push(() => echo.close());
    const port = (echo.address() as AddressInfo).port;
    const host = await freeUdpPort();
    const c = channelStandIn();
    const { q, guestHas } = await forwarder({ hostfwd: undefined, udpChannel: c.channel }, { ignore: [], map: { [String(port)]: host } });
    // Bound to the guest's loopback only: QEMU's forwarding could not reach it, the channel can.
    const list = await guestHas([udpOn(port, '0100007F')]);
    expect(list).toEqual([expect.objectContaining({ protocol: 'udp', guestPort: port, hostPort: host, guestAddress: '127.0.0.1', state: 'forwarding' })]);
    expect(await ask('127.0.0.1', host, 'a')).toBe('echo:a');
    expect(await ask('::1', host, 'b')).toBe('echo:b');
    expect(c.opened).toEqual([`127.0.0.1 ${port}`, `127.0.0.1 ${port}`]);
    expect(q.calls).toEqual([]);
  });

  it('the same loopback-bound server through QEMU’s forwarding is listed as unreachable, with the reason', async () => {
    const port = await freeUdpPort();
    const { q, guestHas } = await forwarder();
    const list = await guestHas([udpOn(port, '0100007F')]);
    expect(list).toEqual([expect.objectContaining({ protocol: 'udp', guestPort: port, state: 'failed', reason: expect.stringContaining('bound to 127.0.0.1 only') })]);
    expect(q.calls).toEqual([]);
  });

  it('a forward that goes closes its flows’ streams', async () => {
    const echo = await bindUdp('127.0.0.1', 0);
    echo.on('message', (m, r) => echo.send(m, r.port, r.address));
    cleanup.push(() => echo.close());
    const port = (echo.address() as AddressInfo).port;
    const host = await freeUdpPort();
    const c = channelStandIn();
    const { guestHas } = await forwarder({ hostfwd: undefined, udpChannel: c.channel }, { ignore: [], map: { [String(port)]: host } });
    await guestHas([udpOn(port)]);
    expect(await ask('127.0.0.1', host, 'x')).toBe('x');
    expect(c.live()).toBe(1);
    await guestHas([]);
    expect(c.live()).toBe(0);
  });
});
