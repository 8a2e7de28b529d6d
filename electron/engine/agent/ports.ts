// Automatic port forwarding: a guest TCP listener or UDP server appears on host 127.0.0.1 (and
// ::1) at the same port (or the one berth.yaml maps it to) and disappears when it closes.
// Detection: a watcher in the guest that reports the listener tables on change (the guest's
// berth-portwatch, woken by the kernel's socket tracepoints; asked again at once on a Docker
// container event). TCP: a stream to the guest's loopback over the guest link (the channel or
// SSH direct-tcpip), which reaches listeners bound to 0.0.0.0, :: and 127.0.0.1 alike and carries
// many concurrent connections. UDP: see udp.ts.
import net from 'node:net';
import type { PortForward } from '../../shared/status.js';
import { splice } from './docker-socket.js';
import { connectAddress, hostBind, isLoopbackPeer, listedForward, parseWatchLine, wantedForwards } from './listeners.js';
import type { GuestListener, PortRules, WantedForward } from './listeners.js';
import { formatAddress, loopbackListeners, portTakenReason } from './port-probe.js';
import type { GuestLink, ListenerWatch } from './link.js';
import { UdpForwarder } from './udp.js';
import type { Hostfwd, UdpChannel } from './udp.js';

interface Forward extends WantedForward {
  servers: net.Server[];
  state: 'forwarding' | 'failed';
  reason?: string;
  /** removed while it was still opening: whatever it binds afterwards is closed at once */
  closed?: boolean;
  /** probing and binding: not listed yet, so no one sees "forwarding" before it is true */
  opening?: boolean;
}

export interface ForwarderOptions {
  /** decides how to bind (see hostBind) and how reasons name the machine; default process.platform */
  platform?: NodeJS.Platform;
  /** default: the process runs as root */
  isRoot?: boolean;
  /** how long a connect to a host loopback port may take before the port counts as taken */
  probeTimeoutMs?: number;
  /** QEMU's forwarding rules (through the supervisor), for UDP on the SSH transport */
  hostfwd?: Hostfwd;
  /** the guest channel's UDP streams: UDP goes over them instead of QEMU's rules */
  udpChannel?: UdpChannel;
  /** how long an idle UDP flow lives (default UDP_IDLE_MS) */
  udpIdleMs?: number;
}

type ForwarderLink = Pick<GuestLink, 'openUnix' | 'openTcp' | 'watchListeners'>;

export class PortForwarder {
  private forwards = new Map<number, Forward>();
  private watcher: ListenerWatch | null = null;
  private events: NodeJS.ReadableStream | null = null;
  private stopped = false;
  private last: GuestListener[] = [];
  private lastUdp: GuestListener[] = [];
  private readonly udp: UdpForwarder | null;

  private readonly platform: NodeJS.Platform;
  private readonly isRoot: boolean;
  private readonly probeTimeoutMs: number;

  constructor(
    private readonly link: ForwarderLink,
    private rules: PortRules,
    private readonly publish: (ports: PortForward[]) => void,
    private readonly log: (line: string) => void,
    opts: ForwarderOptions = {},
  ) {
    this.platform = opts.platform ?? process.platform;
    this.isRoot = opts.isRoot ?? process.getuid?.() === 0;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 300;
    this.udp =
      opts.hostfwd || opts.udpChannel
        ? new UdpForwarder(opts.hostfwd ?? null, log, {
            platform: this.platform,
            isRoot: this.isRoot,
            ...(opts.udpIdleMs !== undefined ? { idleMs: opts.udpIdleMs } : {}),
            ...(opts.udpChannel ? { channel: opts.udpChannel } : {}),
          })
        : null;
  }

  setRules(rules: PortRules): void {
    this.rules = rules;
    void this.reconcile(this.last, this.lastUdp);
  }

  /** (Re)start the guest watcher and the Docker event trigger; call after every link (re)connect. */
  async start(): Promise<void> {
    this.stopped = false;
    this.watcher?.close();
    this.watcher = null;
    (this.events as { destroy?: () => void } | null)?.destroy?.();
    this.watcher = await this.link.watchListeners((line) => {
      const l = parseWatchLine(line);
      if (l) void this.reconcile(l.tcp, l.udp);
    });
    void this.watchDockerEvents();
  }

  /** Container start/stop → re-scan now instead of at the next tick. */
  private async watchDockerEvents(): Promise<void> {
    try {
      const s = await this.link.openUnix('/var/run/docker.sock');
      this.events = s;
      const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['start', 'die', 'stop', 'kill'] }));
      s.write(`GET /events?filters=${filters} HTTP/1.1\r\nHost: docker\r\n\r\n`);
      s.on('data', () => this.watcher?.refresh());
      s.on('error', () => undefined);
    } catch (e) {
      this.log(`ports: docker events unavailable (${(e as Error).message}); relying on the listener poll`);
    }
  }

  private async reconcile(listeners: GuestListener[], udp: GuestListener[]): Promise<void> {
    this.last = listeners;
    this.lastUdp = udp;
    if (this.stopped) return;
    const wanted = new Map(wantedForwards(listeners, this.rules).map((w) => [w.guestPort, w]));
    for (const [port, f] of this.forwards) {
      const w = wanted.get(port);
      if (!w || w.hostPort !== f.hostPort) {
        this.retire(f);
        this.forwards.delete(port);
      }
    }
    const opening: Promise<void>[] = [];
    for (const [port, w] of wanted) {
      if (this.forwards.has(port)) {
        this.forwards.get(port)!.guestAddress = w.guestAddress;
        continue;
      }
      const f: Forward = { ...w, servers: [], state: 'forwarding', opening: true };
      this.forwards.set(port, f);
      opening.push(this.open(f).finally(() => (f.opening = false)));
    }
    if (this.udp) opening.push(this.udp.reconcile(udp, this.rules));
    await Promise.all(opening);
    if (!this.stopped) this.publish(this.list());
  }

  private async open(f: Forward): Promise<void> {
    const bind = hostBind(f.hostPort, this.platform, this.isRoot);
    const fail = (reason: string) => {
      this.close(f);
      f.state = 'failed';
      f.reason = reason;
      this.log(`ports: guest ${f.guestPort}: ${reason}`);
    };
    const twin = [...this.forwards.values()].find((o) => o !== f && o.hostPort === f.hostPort && o.state === 'forwarding');
    if (twin) return fail(`host port ${f.hostPort} already carries guest port ${twin.guestPort}`);
    // Before binding: a program on this machine that already answers on localhost:P keeps it.
    // (Binding would not always say so, see port-probe.ts.)
    const holders = await loopbackListeners(f.hostPort, this.probeTimeoutMs);
    if (f.closed) return;
    if (holders.length) return fail(portTakenReason(f.hostPort, this.platform, `it answers on ${holders.map((h) => formatAddress(h, f.hostPort)).join(' and ')}`));

    const handler = (sock: net.Socket) => {
      if (bind.loopbackFilter && !isLoopbackPeer(sock.remoteAddress)) {
        sock.destroy();
        return;
      }
      sock.pause();
      this.link.openTcp(connectAddress(f.guestAddress), f.guestPort).then(
        (ch) => {
          splice(sock, ch);
          sock.resume();
        },
        (e: Error) => {
          this.log(`ports: ${f.hostPort} → guest ${f.guestPort}: ${e.message}`);
          sock.destroy();
        },
      );
    };
    const listen = (address: string, ipv6Only = false) =>
      new Promise<net.Server>((resolve, reject) => {
        const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, handler);
        srv.once('error', reject);
        srv.listen({ host: address, port: f.hostPort, backlog: 511, exclusive: true, ipv6Only }, () => {
          srv.removeListener('error', reject);
          srv.on('error', (e) => this.log(`ports: ${f.hostPort}: ${e.message}`));
          if (f.closed) srv.close();
          else f.servers.push(srv);
          resolve(srv);
        });
      });
    try {
      await listen(bind.address);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      fail(
        code === 'EADDRINUSE'
          ? portTakenReason(f.hostPort, this.platform, `binding ${formatAddress(bind.address, f.hostPort)} failed: address in use`)
          : code === 'EACCES'
            ? `not allowed to listen on host port ${f.hostPort}`
            : `cannot listen on host port ${f.hostPort}: ${(e as Error).message}`,
      );
      return;
    }
    // localhost may resolve to ::1 first (macOS): listen there too when we can, never beyond
    // loopback (the wildcard bind of a low port on macOS keeps its peer filter).
    try {
      await listen(bind.loopbackFilter ? '::' : '::1', bind.loopbackFilter);
    } catch (e) {
      // Taken on ::1 alone (the probe saw nothing a moment ago): localhost would reach that
      // program half of the time, so the forward does not pretend to work.
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        fail(portTakenReason(f.hostPort, this.platform, `binding ${formatAddress('::1', f.hostPort)} failed: address in use`));
      }
      // otherwise: no IPv6 loopback here; IPv4 alone still serves localhost
    }
  }

  private close(f: Forward): void {
    for (const s of f.servers) s.close();
    f.servers = [];
  }

  private retire(f: Forward): void {
    f.closed = true;
    this.close(f);
  }

  /** The UDP side, for tests and the bench. */
  get udpForwarder(): UdpForwarder | null {
    return this.udp;
  }

  list(): PortForward[] {
    const tcp: PortForward[] = [...this.forwards.values()]
      .filter((f) => !f.opening)
      .map((f) => listedForward('tcp', f));
    return [...tcp, ...(this.udp?.list() ?? [])].sort((a, b) => a.guestPort - b.guestPort || a.protocol.localeCompare(b.protocol));
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    (this.events as { destroy?: () => void } | null)?.destroy?.();
    for (const f of this.forwards.values()) this.retire(f);
    this.forwards.clear();
    this.udp?.stop();
    this.publish([]);
  }
}
