// The host end of the guest channel (docs/guest-channel.md): one connection to <instance>/guest.sock (QEMU's chardev),
// sessions over it, and the streams the host agent uses instead of SSH.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { ChannelDatagram } from './datagram.js';
import type { DatagramPort } from './datagram.js';
import { execOver } from './exec.js';
import type { ExecResult } from './exec.js';
import { ChannelListenerWatch } from './listener-watch.js';
import type { ListenerWatch } from './listener-watch.js';
import { Mux } from './mux.js';
import type { HelloInfo } from './mux.js';
import { ChannelStream } from './stream.js';

export type { DatagramPort, ExecResult, HelloInfo, ListenerWatch };

export interface ChannelLinkOptions {
  /** How to reach the guest instead of connecting to the socket path (tests: a socket the agent connected to). */
  connect?: () => Duplex | Promise<Duplex>;
}

const RETRY_MS = 250;
const ATTEMPT_MS = 3000;

function connectUnix(path: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export class ChannelLink extends EventEmitter<{ up: [HelloInfo]; down: [string] }> {
  private mux: Mux | null = null;
  private connecting: Promise<HelloInfo> | null = null;
  private closed = false;

  constructor(
    private readonly socketPath: string,
    private readonly opts: ChannelLinkOptions = {},
  ) {
    super();
  }

  /** A link over an already connected socket: it can connect once. */
  static overSocket(sock: Duplex): ChannelLink {
    let used = false;
    return new ChannelLink('', {
      connect: () => {
        if (used) throw new Error('guest channel: the socket this link was made over is gone');
        used = true;
        return sock;
      },
    });
  }

  get isUp(): boolean {
    return this.mux?.isUp ?? false;
  }

  get hello(): HelloInfo | null {
    return this.mux?.isUp ? this.mux.hello : null;
  }

  /** Connects and completes the handshake; rejects after timeoutMs (and drops that connection). */
  connect(timeoutMs = 5000): Promise<HelloInfo> {
    if (this.closed) return Promise.reject(new Error('guest channel: link closed'));
    const mux = this.mux;
    if (mux?.isUp && mux.hello) return Promise.resolve(mux.hello);
    if (!this.connecting) {
      this.connecting = this.handshake(mux && !mux.isDead ? mux : null, timeoutMs).finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  /** connect() until it succeeds or the deadline (epoch ms) passes; rejects with the last error. */
  async connectUntil(deadline: number, onRetry?: (e: Error) => void): Promise<HelloInfo> {
    for (;;) {
      const left = deadline - Date.now();
      try {
        return await this.connect(Math.max(1, Math.min(ATTEMPT_MS, left)));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (this.closed || Date.now() + RETRY_MS >= deadline) throw err;
        onRetry?.(err);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  async exec(cmd: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult> {
    return execOver(this.up(), cmd, opts);
  }

  openUnix(path: string): Promise<Duplex> {
    return this.openStream('u', path);
  }

  openTcp(host: string, port: number): Promise<Duplex> {
    return this.openStream('t', `${port} ${host}`);
  }

  async openUdp(host: string, port: number): Promise<DatagramPort> {
    return this.up().open('d', `${port} ${host}`, (wire, id) => new ChannelDatagram(wire, id));
  }

  async watchListeners(onLine: (line: string) => void): Promise<ListenerWatch> {
    return this.up().open('l', '', (wire, id) => new ChannelListenerWatch(wire, id, onLine));
  }

  async ping(timeoutMs = 5000): Promise<number> {
    return this.up().ping(timeoutMs);
  }

  /** Drops this connection as failed ('down' follows, with the reason); connect() makes a new one. */
  drop(reason: string): void {
    this.mux?.destroy(reason);
  }

  /** Drops the connection and every stream on it; no 'down' follows. */
  close(): void {
    this.closed = true;
    this.mux?.destroy('guest channel: link closed', true);
    this.mux = null;
  }

  private async openStream(kind: string, text: string): Promise<Duplex> {
    return this.up().open(kind, text, (wire, id) => new ChannelStream(wire, id));
  }

  /** Called only from async methods, so the throw becomes the caller's rejection. */
  private up(): Mux {
    const m = this.mux;
    if (m?.isUp) return m;
    throw new Error('guest channel is not up');
  }

  private async handshake(existing: Mux | null, timeoutMs: number): Promise<HelloInfo> {
    let timer: NodeJS.Timeout | undefined;
    let mux = existing;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`guest channel: no HELLO from the guest within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      if (!mux) {
        const sock = await Promise.race([this.opts.connect ? Promise.resolve(this.opts.connect()) : connectUnix(this.socketPath), timedOut]);
        if (this.closed) {
          sock.destroy();
          throw new Error('guest channel: link closed');
        }
        mux = this.attach(sock);
      }
      return await Promise.race([mux.ready(), timedOut]);
    } catch (e) {
      if (mux && !mux.isUp) mux.destroy(e instanceof Error ? e.message : String(e), true);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private attach(sock: Duplex): Mux {
    this.mux?.destroy('guest channel: replaced by a new connection', true);
    const mux = new Mux(sock);
    this.mux = mux;
    mux.on('up', (h) => {
      if (!this.closed) this.emit('up', h);
    });
    mux.on('down', (reason) => {
      if (!this.closed) this.emit('down', reason);
    });
    mux.on('dead', () => {
      if (this.mux === mux) this.mux = null;
    });
    return mux;
  }
}
