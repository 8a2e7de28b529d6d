// The host half of a UDP forward: datagrams that clients send to the user-visible port (on
// 127.0.0.1 and ::1) go on to the guest server — through a UDP stream of the guest channel, or
// QEMU's user-mode forward of the guest port on the SSH transport — and the guest's replies come
// back to the client that sent the request.
//
// UDP has no connections, so the relay keeps a *flow* per client address: its own upstream socket,
// so that whatever arrives on that socket belongs to that client and to no other. A flow nobody
// used for UDP_IDLE_MS is closed (a UDP "connection" only ends by going quiet). Each datagram is
// sent on as one datagram: boundaries are kept.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isLoopbackPeer } from './listeners.js';

/** A flow with no datagram in either direction for this long is closed. */
export const UDP_IDLE_MS = 60_000;
/** At most this many client flows per forward; the least recently used one goes first. */
export const UDP_MAX_FLOWS = 512;

/** A flow's own way to the guest server. */
export interface Upstream {
  send(msg: Buffer): void;
  close(): void;
  /** the host port of a flow's socket towards QEMU's forward (what QEMU sees as the client) */
  readonly port?: number;
}

/** Opens a flow's upstream; the guest's replies for that flow come to onReply. */
export type OpenUpstream = (onReply: (reply: Buffer) => void, onGone: (why: string) => void, log: (line: string) => void) => Promise<Upstream>;

/**
 * Towards QEMU's forward on the host loopback: a socket per flow, bound to loopback before the
 * first send (an unbound socket would be bound by send() to every address). Not connect()ed: QEMU
 * answers from whichever of its forwards for the guest port it finds first, so the reply's source
 * port is not always the target's.
 */
export function hostfwdUpstream(target: { host: string; port: number }): OpenUpstream {
  return (onReply, onGone, log) =>
    new Promise<Upstream>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.on('error', (e) => onGone(e.message));
      s.on('message', (reply, from) => {
        if (from.address === '127.0.0.1') onReply(reply);
      });
      s.bind({ address: '127.0.0.1', port: 0 }, () =>
        resolve({
          send: (m) => s.send(m, target.port, target.host, (e) => e && log(`udp relay: datagram: ${e.message}`)),
          close: () => {
            try {
              s.close();
            } catch {
              // already closed
            }
          },
          port: (s.address() as AddressInfo).port,
        }),
      );
    });
}

export interface UdpRelayOptions {
  /** where the datagrams go on (QEMU's forward: hostfwdUpstream; the guest channel: a UDP stream per flow) */
  upstream: OpenUpstream;
  idleMs?: number;
  maxFlows?: number;
  /** drop datagrams from peers that are not loopback (a wildcard bind, see hostBind) */
  loopbackFilter?: boolean;
  /** the clock flows age by (tests inject one) */
  now?: () => number;
  log?: (line: string) => void;
}

interface Flow {
  key: string;
  listener: dgram.Socket;
  address: string;
  port: number;
  upstream: Upstream | null;
  /** datagrams that arrived while the upstream was still opening */
  pending: Buffer[] | null;
  last: number;
}

/** Bind a UDP socket exclusively (no SO_REUSEADDR: a port someone else holds fails with EADDRINUSE). */
export function bindUdp(address: string, port: number, ipv6Only = false): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type, reuseAddr: false, ...(type === 'udp6' ? { ipv6Only } : {}) });
    sock.once('error', (e) => {
      sock.close();
      reject(e);
    });
    sock.bind({ address, port, exclusive: true }, () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

export class UdpRelay {
  private readonly flows = new Map<string, Flow>();
  private readonly idleMs: number;
  private readonly maxFlows: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly listeners: dgram.Socket[],
    private readonly opts: UdpRelayOptions,
  ) {
    this.idleMs = opts.idleMs ?? UDP_IDLE_MS;
    this.maxFlows = opts.maxFlows ?? UDP_MAX_FLOWS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => undefined);
    for (const l of listeners) {
      l.on('message', (msg, rinfo) => this.fromClient(l, msg, rinfo));
      l.on('error', (e) => this.log(`udp relay: ${e.message}`));
    }
    this.sweeper = setInterval(() => this.expire(), Math.max(10, Math.min(5000, Math.floor(this.idleMs / 4))));
    this.sweeper.unref();
  }

  /** The client flows open now. */
  get flowCount(): number {
    return this.flows.size;
  }

  /** The host ports of the flows' upstream sockets (what QEMU sees as the clients). */
  upstreamPorts(): number[] {
    return [...this.flows.values()].flatMap((f) => (f.upstream?.port !== undefined ? [f.upstream.port] : []));
  }

  private fromClient(listener: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (this.opts.loopbackFilter && !isLoopbackPeer(rinfo.address)) return;
    const key = `${rinfo.family}|${rinfo.address}|${rinfo.port}`;
    let flow = this.flows.get(key);
    if (!flow) flow = this.open(key, listener, rinfo);
    flow.last = this.now();
    // Map order is the least-recently-used order.
    this.flows.delete(key);
    this.flows.set(key, flow);
    if (flow.pending) flow.pending.push(msg);
    else this.forward(flow, msg);
  }

  private open(key: string, listener: dgram.Socket, rinfo: dgram.RemoteInfo): Flow {
    while (this.flows.size >= this.maxFlows) {
      const oldest = this.flows.values().next().value;
      if (!oldest) break;
      this.drop(oldest);
    }
    const flow: Flow = { key, listener, address: rinfo.address, port: rinfo.port, upstream: null, pending: [], last: this.now() };
    this.flows.set(key, flow);
    const live = () => this.flows.get(key) === flow && !this.closed;
    const onReply = (reply: Buffer) => {
      if (!live()) return;
      flow.last = this.now();
      listener.send(reply, flow.port, flow.address, (e) => {
        if (e) this.log(`udp relay: reply to ${flow.address}:${flow.port}: ${e.message}`);
      });
    };
    const onGone = (why: string) => {
      if (!live()) return;
      this.log(`udp relay: flow for ${rinfo.address}:${rinfo.port}: ${why}`);
      this.drop(flow);
    };
    this.opts.upstream(onReply, onGone, this.log).then(
      (u) => {
        if (!live()) return u.close();
        flow.upstream = u;
        const queued = flow.pending ?? [];
        flow.pending = null;
        for (const m of queued) u.send(m);
      },
      (e: Error) => onGone(e.message),
    );
    return flow;
  }

  private forward(flow: Flow, msg: Buffer): void {
    flow.upstream?.send(msg);
  }

  private drop(flow: Flow): void {
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    flow.upstream?.close();
    flow.upstream = null;
  }

  /** Close every flow idle for longer than idleMs. */
  expire(): void {
    const cutoff = this.now() - this.idleMs;
    for (const f of [...this.flows.values()]) if (f.last < cutoff) this.drop(f);
  }

  /** Close the flows and the listening sockets. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const f of [...this.flows.values()]) this.drop(f);
    for (const l of this.listeners) {
      try {
        l.close();
      } catch {
        // already closed
      }
    }
  }
}
