// UDP port forwarding: a guest UDP server (a container's `-p N:N/udp`, or any process bound to
// 0.0.0.0 or ::) appears on host 127.0.0.1 and ::1 at the same port, or the one ports.map gives.
//
// A relay here binds the user-visible port and passes each client's datagrams on (udp-relay.ts).
// On the guest channel every client flow is a UDP stream of the channel to the server's own
// address in the guest, so servers bound to the guest's loopback are reached too. SSH carries no
// datagrams, so on the SSH transport they ride QEMU's user-mode forwarding instead: the supervisor
// adds a `hostfwd` rule from an internal port on the host's 127.0.0.1 to the guest port. The
// user-visible port is bound first: a port another program holds fails the forward before the
// guest or QEMU is asked anything.
import type dgram from 'node:dgram';
import type { PortForward } from '../../shared/status.js';
import { hostBind, listedForward, udpConnectAddress, wantedUdpForwards } from './listeners.js';
import type { GuestListener, PortRules, WantedUdpForward } from './listeners.js';
import { formatAddress, portTakenReason } from './port-probe.js';
import { UdpRelay, bindUdp, hostfwdUpstream } from './udp-relay.js';
import type { OpenUpstream } from './udp-relay.js';

/** QEMU's forwarding rules, as the supervisor sets them up for the agent. */
export interface Hostfwd {
  /** a rule to the guest's UDP port: resolves with the internal host port QEMU listens on (127.0.0.1) */
  add(guestPort: number): Promise<number>;
  /** the rule on that internal host port */
  remove(hostPort: number): Promise<void>;
}

/** The guest channel's UDP streams (ChannelLink.openUdp). */
export type UdpChannel = (host: string, port: number) => Promise<{ send(b: Buffer): void; on(e: 'message', f: (b: Buffer) => void): unknown; on(e: 'close', f: () => void): unknown; close(): void }>;

/** A flow's upstream as a UDP stream of the guest channel to `host`:`port` in the guest. */
export function channelUpstream(open: UdpChannel, host: string, port: number): OpenUpstream {
  return async (onReply, onGone) => {
    const d = await open(host, port);
    let ours = false;
    d.on('message', onReply);
    d.on('close', () => ours || onGone('the guest channel closed the flow'));
    return {
      send: (m) => d.send(m),
      close: () => {
        ours = true;
        d.close();
      },
    };
  };
}

export interface UdpForwarderOptions {
  platform: NodeJS.Platform;
  isRoot: boolean;
  /** the guest channel: datagrams go as its UDP streams, and no QEMU rule is needed */
  channel?: UdpChannel;
  /** idle flows expire after this long (default UDP_IDLE_MS) */
  idleMs?: number;
}

interface UdpForward extends WantedUdpForward {
  state: 'forwarding' | 'failed';
  reason?: string;
  sockets: dgram.Socket[];
  relay?: UdpRelay;
  /** QEMU's internal port for this forward, once its rule exists */
  rulePort?: number;
  opening: boolean;
  closed: boolean;
}

export class UdpForwarder {
  private forwards = new Map<number, UdpForward>();

  constructor(
    private readonly hostfwd: Hostfwd | null,
    private readonly log: (line: string) => void,
    private readonly opts: UdpForwarderOptions,
  ) {}

  /** Bring the forwards in line with the guest's UDP servers; resolves when every new one is open or failed. */
  async reconcile(listeners: GuestListener[], rules: PortRules): Promise<void> {
    const wanted = new Map(wantedUdpForwards(listeners, rules, this.opts.channel ? 'channel' : 'hostfwd').map((w) => [w.guestPort, w]));
    for (const [port, f] of this.forwards) {
      const w = wanted.get(port);
      if (!w || w.hostPort !== f.hostPort || !!w.unreachable !== !!f.unreachable) {
        this.retire(f);
        this.forwards.delete(port);
      }
    }
    const opening: Promise<void>[] = [];
    for (const [port, w] of wanted) {
      const have = this.forwards.get(port);
      if (have) {
        have.guestAddress = w.guestAddress;
        continue;
      }
      const f: UdpForward = { ...w, state: 'forwarding', sockets: [], opening: true, closed: false };
      this.forwards.set(port, f);
      opening.push(this.open(f).finally(() => (f.opening = false)));
    }
    await Promise.all(opening);
  }

  private async open(f: UdpForward): Promise<void> {
    const fail = (reason: string) => {
      this.release(f);
      f.state = 'failed';
      f.reason = reason;
      this.log(`ports: guest ${f.guestPort}/udp: ${reason}`);
    };
    if (f.unreachable) return fail(f.unreachable);
    const twin = [...this.forwards.values()].find((o) => o !== f && o.hostPort === f.hostPort && o.state === 'forwarding' && !o.closed);
    if (twin) return fail(`host port ${f.hostPort}/udp already carries guest port ${twin.guestPort}`);

    const bind = hostBind(f.hostPort, this.opts.platform, this.opts.isRoot);
    try {
      f.sockets.push(await bindUdp(bind.address, f.hostPort));
    } catch (e) {
      return fail(this.bindFailure(e, bind.address, f.hostPort));
    }
    // localhost may be ::1 first (Node 18+, macOS): there too, never beyond loopback.
    try {
      f.sockets.push(await bindUdp(bind.loopbackFilter ? '::' : '::1', f.hostPort, bind.loopbackFilter));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // no IPv6 loopback on this host: 127.0.0.1 alone still serves localhost
      if (code !== 'EADDRNOTAVAIL' && code !== 'EAFNOSUPPORT') return fail(this.bindFailure(e, '::1', f.hostPort));
    }
    if (f.closed) return this.release(f);

    let upstream: OpenUpstream;
    if (this.opts.channel) {
      upstream = channelUpstream(this.opts.channel, udpConnectAddress(f.guestAddress), f.guestPort);
    } else {
      if (!this.hostfwd) return fail('no way to carry datagrams to the guest (no channel, no QEMU forwarding)');
      let rulePort: number;
      try {
        rulePort = await this.hostfwd.add(f.guestPort);
      } catch (e) {
        return fail(`QEMU could not forward guest UDP port ${f.guestPort}: ${(e as Error).message}`);
      }
      f.rulePort = rulePort;
      if (f.closed) return this.release(f);
      upstream = hostfwdUpstream({ host: '127.0.0.1', port: rulePort });
    }
    f.relay = new UdpRelay(f.sockets, {
      upstream,
      loopbackFilter: bind.loopbackFilter,
      log: this.log,
      ...(this.opts.idleMs !== undefined ? { idleMs: this.opts.idleMs } : {}),
    });
  }

  private bindFailure(e: unknown, address: string, port: number): string {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return portTakenReason(port, this.opts.platform, `binding ${formatAddress(address, port)}/udp failed: address in use`);
    if (code === 'EACCES') return `not allowed to listen on host port ${port}/udp`;
    return `cannot listen on host port ${port}/udp: ${(e as Error).message}`;
  }

  /** Close what the forward holds on the host, and QEMU's rule. */
  private release(f: UdpForward): void {
    if (f.relay) f.relay.close();
    else
      for (const s of f.sockets) {
        try {
          s.close();
        } catch {
          // already closed
        }
      }
    f.relay = undefined;
    f.sockets = [];
    if (f.rulePort !== undefined) {
      const port = f.rulePort;
      f.rulePort = undefined;
      this.hostfwd?.remove(port).catch((e: Error) => this.log(`ports: removing QEMU's forward on ${port}/udp: ${e.message}`));
    }
  }

  private retire(f: UdpForward): void {
    f.closed = true;
    if (!f.opening) this.release(f);
    // still opening: open() sees `closed` at its next step and releases what it got
  }

  /** The relay of a forward, for tests and the bench: how many client flows it holds. */
  relayOf(hostPort: number): UdpRelay | undefined {
    return [...this.forwards.values()].find((f) => f.hostPort === hostPort && f.relay)?.relay;
  }

  list(): PortForward[] {
    return [...this.forwards.values()]
      .filter((f) => !f.opening)
      .sort((a, b) => a.guestPort - b.guestPort)
      .map((f) => listedForward('udp', f));
  }

  /** Close every forward (the guest is gone, or the agent stops). */
  stop(): void {
    for (const f of this.forwards.values()) this.retire(f);
    this.forwards.clear();
  }
}
