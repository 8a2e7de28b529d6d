// The host side of port forwarding with real sockets and a fake guest link: a port that a program on
// this machine already serves on localhost is left to it (the forward shows failed, with the
// reason), and the wildcard bind of a low port on macOS refuses every peer that is not loopback.
import net from 'node:net';
import readline from 'node:readline';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { PortForward } from '../../../electron/shared/status.js';
import { PortForwarder } from '../../../electron/engine/agent/ports.js';
import type { ForwarderOptions } from '../../../electron/engine/agent/ports.js';
import type { GuestLink } from '../../../electron/engine/agent/link.js';

/** Stands in for the guest link: a watcher channel the test writes listener lines into; openTcp echoes. */
class FakeLink {
  readonly watcher = Object.assign(new PassThrough(), { close: () => undefined });
  readonly opened: { host: string; port: number }[] = [];
  async watchListeners(onLine: (line: string) => void) {
    readline.createInterface({ input: this.watcher }).on('line', onLine);
    return { refresh: () => undefined, close: () => undefined };
  }
  async openUnix(): Promise<never> {
    throw new Error('no docker in this test');
  }
  async openTcp(host: string, port: number) {
    this.opened.push({ host, port });
    return new PassThrough(); // splice() pipes it both ways: an echo
  }
}

/** The watcher's line for guest listeners on 0.0.0.0 at these ports. */
const line = (...ports: number[]) => `L ${ports.map((p) => `00000000:${p.toString(16).toUpperCase().padStart(4, '0')}`).join(' ')}\n`;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function forwarder(opts: ForwarderOptions = {}) {
  const link = new FakeLink();
  const published: PortForward[][] = [];
  const logs: string[] = [];
  const f = new PortForwarder(link as unknown as GuestLink, { ignore: [], map: {} }, (p) => published.push(p), (l) => logs.push(l), opts);
  cleanup.push(() => f.stop());
  await f.start();
  /** tell it the guest listens on `port`; resolves with the first published entry for it */
  const guestListens = (port: number) =>
    new Promise<PortForward>((resolve) => {
      const seen = published.length;
      const timer = setInterval(() => {
        const hit = published.slice(seen).flat().find((p) => p.hostPort === port);
        if (hit) {
          clearInterval(timer);
          resolve(hit);
        }
      }, 5);
      link.watcher.write(line(port));
    });
  return { f, link, logs, guestListens };
}

function listen(host: string, port = 0, opts: { ipv6Only?: boolean } = {}): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.on('error', () => undefined); // the probe hangs up at once
      s.resume(); // read to the client's EOF, so the socket closes
      s.end('host service\n');
    });
    srv.once('error', reject);
    srv.listen({ host, port, ...opts }, () => resolve(srv));
  });
}
const close = (srv: net.Server) => new Promise<void>((r) => srv.close(() => r()));

async function freePort(): Promise<number> {
  const s = await listen('127.0.0.1');
  const port = (s.address() as net.AddressInfo).port;
  await close(s);
  return port;
}

type Outcome = { outcome: 'refused' } | { outcome: 'echoed'; data: string } | { outcome: 'closed-unanswered' };

/** Connect (from `localAddress` if given), send a line, and report what came back. */
function talk(host: string, port: number, localAddress?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let data = '';
    let connected = false;
    s.on('connect', () => {
      connected = true;
      s.write('ping\n');
    });
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\n')) {
        s.destroy();
        resolve({ outcome: 'echoed', data });
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(connected ? (data ? { outcome: 'echoed', data } : { outcome: 'closed-unanswered' }) : { outcome: 'refused' }));
  });
}

describe('a host port that another program already serves', () => {
  for (const [what, host] of [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['every address (*)', '0.0.0.0'],
  ] as const) {
    it(`on ${what}: the forward is failed with the reason, and Berth binds nothing`, async () => {
      const port = await freePort();
      const service = await listen(host, port);
      cleanup.push(() => close(service));
      const { link, guestListens } = await forwarder({ platform: 'darwin', isRoot: false });

      const fwd = await guestListens(port);
      expect(fwd).toMatchObject({ hostPort: port, guestPort: port, state: 'failed' });
      expect(fwd.reason).toMatch(new RegExp(`^port ${port} is already used by another program on this Mac \\(it answers on .*${port}.*\\)$`));

      // the service keeps its clients, and once it is gone nothing of Berth's is left listening
      const loop = host === '::1' ? '::1' : '127.0.0.1';
      expect(await talk(loop, port)).toEqual({ outcome: 'echoed', data: 'host service\n' });
      await close(service);
      expect(await talk('127.0.0.1', port)).toEqual({ outcome: 'refused' });
      expect(await talk('::1', port)).toEqual({ outcome: 'refused' });
      expect(link.opened).toEqual([]);
    });
  }

  it('names the machine "this host" off macOS', async () => {
    const port = await freePort();
    const service = await listen('127.0.0.1', port);
    cleanup.push(() => close(service));
    const { guestListens } = await forwarder({ platform: 'linux', isRoot: false });
    expect((await guestListens(port)).reason).toMatch(new RegExp(`^port ${port} is already used by another program on this host \\(`));
  });

  it('a free port is forwarded on both 127.0.0.1 and ::1', async () => {
    const port = await freePort();
    const { link, guestListens } = await forwarder({ platform: 'linux', isRoot: false });
    expect(await guestListens(port)).toMatchObject({ hostPort: port, state: 'forwarding' });
    expect(await talk('127.0.0.1', port)).toEqual({ outcome: 'echoed', data: 'ping\n' });
    expect(await talk('::1', port)).toEqual({ outcome: 'echoed', data: 'ping\n' });
    expect(link.opened).toEqual([
      { host: '127.0.0.1', port },
      { host: '127.0.0.1', port },
    ]);
  });
});

/**
 * Hand each of the forward's listening sockets a connection whose far end is `address`, as the
 * kernel would for a peer on the LAN. Tests may send traffic to loopback only, so the outside peer
 * is a socket object with that remote address rather than a real connection from another host.
 * Says how many listening sockets got the connection and how many of those closed it unanswered.
 */
function listeningSockets(f: PortForwarder, port: number): net.Server[] {
  const forwards = (f as unknown as { forwards: Map<unknown, { hostPort: number; servers: net.Server[] }> }).forwards;
  const fw = [...forwards.values()].find((x) => x.hostPort === port);
  if (!fw?.servers.length) throw new Error(`no listening socket for host port ${port}`);
  return fw.servers;
}

function connectFrom(f: PortForwarder, port: number, address: string): { handed: number; destroyed: number } {
  const servers = listeningSockets(f, port);
  let destroyed = 0;
  for (const srv of servers) {
    const sock = new net.Socket();
    Object.defineProperty(sock, 'remoteAddress', { value: address });
    sock.destroy = () => {
      destroyed++;
      return sock;
    };
    srv.emit('connection', sock);
  }
  return { handed: servers.length, destroyed };
}

/** A port below 1024 that nothing here uses (the test runs as root on Linux, so it can bind it). */
async function freeLowPort(): Promise<number> {
  for (let p = 1000; p > 600; p--) {
    try {
      await close(await listen('0.0.0.0', p));
      await close(await listen('::', p, { ipv6Only: true }));
      return p;
    } catch {
      // taken, try the next
    }
  }
  throw new Error('no free port below 1024');
}

describe('macOS, a port below 1024, not root: wildcard bind with a loopback-only peer filter', () => {
  it('a loopback peer is forwarded, a peer from another address is closed unanswered', async () => {
    const port = await freeLowPort();
    const { f, link, guestListens } = await forwarder({ platform: 'darwin', isRoot: false });
    expect(await guestListens(port)).toMatchObject({ hostPort: port, state: 'forwarding' });
    // the bind is the wildcard, so the LAN could reach it: the filter must refuse it
    expect(listeningSockets(f, port).map((srv) => (srv.address() as net.AddressInfo).address)).toContain('0.0.0.0');

    expect(await talk('127.0.0.1', port)).toEqual({ outcome: 'echoed', data: 'ping\n' });
    expect(link.opened).toHaveLength(1);
    const lan = connectFrom(f, port, '192.168.1.20');
    expect(lan.destroyed).toBe(lan.handed);
    expect(link.opened).toHaveLength(1);
    // the same for IPv6: localhost as ::1 works, any other peer does not
    expect(await talk('::1', port)).toEqual({ outcome: 'echoed', data: 'ping\n' });
    const lan6 = connectFrom(f, port, 'fd00::20');
    expect(lan6.destroyed).toBe(lan6.handed);
    expect(link.opened).toHaveLength(2);
  });

  it('as root, or on Linux, the same port binds 127.0.0.1 only (no outside address answers)', async () => {
    const port = await freeLowPort();
    const { f, guestListens } = await forwarder({ platform: 'darwin', isRoot: true });
    expect(await guestListens(port)).toMatchObject({ state: 'forwarding' });
    expect(await talk('127.0.0.1', port)).toEqual({ outcome: 'echoed', data: 'ping\n' });
    for (const srv of listeningSockets(f, port)) expect(['127.0.0.1', '::1']).toContain((srv.address() as net.AddressInfo).address);
  });
});
