// Automatic port forwarding: a guest TCP listener appears on host 127.0.0.1 at the same port
// (or the one berth.yaml maps it to) and disappears when it closes. Detection: a watcher in the
// guest that reports the listener table on change (polled every 250 ms, re-scanned at once on a
// Docker container event). Forwarding: SSH direct-tcpip to the guest's loopback, which reaches
// listeners bound to 0.0.0.0, :: and 127.0.0.1 alike and carries many concurrent connections.
import net from 'node:net';
import readline from 'node:readline';
import type { ClientChannel } from 'ssh2';
import type { PortForward } from '../../shared/status.js';
import { splice } from './docker-socket.js';
import { connectAddress, hostBind, isLoopbackPeer, parseWatchLine, wantedForwards, WATCH_SCRIPT } from './listeners.js';
import type { GuestListener, PortRules, WantedForward } from './listeners.js';
import type { SshLink } from './ssh-link.js';

interface Forward extends WantedForward {
  servers: net.Server[];
  state: 'forwarding' | 'failed';
  reason?: string;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export class PortForwarder {
  private forwards = new Map<number, Forward>();
  private watcher: ClientChannel | null = null;
  private events: NodeJS.ReadableStream | null = null;
  private stopped = false;
  private last: GuestListener[] = [];

  constructor(
    private readonly link: SshLink,
    private rules: PortRules,
    private readonly publish: (ports: PortForward[]) => void,
    private readonly log: (line: string) => void,
  ) {}

  setRules(rules: PortRules): void {
    this.rules = rules;
    void this.reconcile(this.last);
  }

  /** (Re)start the guest watcher and the Docker event trigger; call after every SSH (re)connect. */
  async start(): Promise<void> {
    this.stopped = false;
    this.watcher?.close();
    const client = await this.link.connect();
    await new Promise<void>((resolve, reject) => {
      client.exec(`bash -c ${shellQuote(WATCH_SCRIPT)}`, (err, ch) => {
        if (err) return reject(err);
        this.watcher = ch;
        readline.createInterface({ input: ch }).on('line', (line) => {
          const l = parseWatchLine(line);
          if (l) void this.reconcile(l);
        });
        ch.on('close', () => {
          if (this.watcher === ch) this.watcher = null;
        });
        resolve();
      });
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
      s.on('data', () => this.watcher?.write('\n'));
      s.on('error', () => undefined);
    } catch (e) {
      this.log(`ports: docker events unavailable (${(e as Error).message}); relying on the listener poll`);
    }
  }

  private async reconcile(listeners: GuestListener[]): Promise<void> {
    this.last = listeners;
    if (this.stopped) return;
    const wanted = new Map(wantedForwards(listeners, this.rules).map((w) => [w.guestPort, w]));
    for (const [port, f] of this.forwards) {
      const w = wanted.get(port);
      if (!w || w.hostPort !== f.hostPort) {
        this.close(f);
        this.forwards.delete(port);
      }
    }
    const opening: Promise<void>[] = [];
    for (const [port, w] of wanted) {
      if (this.forwards.has(port)) {
        this.forwards.get(port)!.guestAddress = w.guestAddress;
        continue;
      }
      const f: Forward = { ...w, servers: [], state: 'forwarding' };
      this.forwards.set(port, f);
      opening.push(this.open(f));
    }
    await Promise.all(opening);
    this.publish(this.list());
  }

  private async open(f: Forward): Promise<void> {
    const bind = hostBind(f.hostPort, process.platform, process.getuid?.() === 0);
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
    const listen = (address: string) =>
      new Promise<net.Server>((resolve, reject) => {
        const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, handler);
        srv.once('error', reject);
        srv.listen({ host: address, port: f.hostPort, backlog: 511, exclusive: true }, () => {
          srv.removeListener('error', reject);
          srv.on('error', (e) => this.log(`ports: ${f.hostPort}: ${e.message}`));
          resolve(srv);
        });
      });
    try {
      f.servers.push(await listen(bind.address));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      f.state = 'failed';
      f.reason =
        code === 'EADDRINUSE'
          ? `host port ${f.hostPort} is already in use by another program`
          : code === 'EACCES'
            ? `not allowed to listen on host port ${f.hostPort}`
            : `cannot listen on host port ${f.hostPort}: ${(e as Error).message}`;
      this.log(`ports: ${f.reason}`);
      return;
    }
    // localhost may resolve to ::1 first (macOS): listen there too when we can, never beyond loopback.
    if (!bind.loopbackFilter) {
      try {
        f.servers.push(await listen('::1'));
      } catch {
        // no IPv6 loopback, or taken: IPv4 alone still serves localhost
      }
    }
  }

  private close(f: Forward): void {
    for (const s of f.servers) s.close();
    f.servers = [];
  }

  list(): PortForward[] {
    return [...this.forwards.values()]
      .sort((a, b) => a.guestPort - b.guestPort)
      .map((f) => ({
        protocol: 'tcp',
        guestPort: f.guestPort,
        hostPort: f.hostPort,
        guestAddress: f.guestAddress,
        source: 'guest',
        state: f.state,
        ...(f.reason ? { reason: f.reason } : {}),
      }));
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    (this.events as { destroy?: () => void } | null)?.destroy?.();
    for (const f of this.forwards.values()) this.close(f);
    this.forwards.clear();
    this.publish([]);
  }
}
