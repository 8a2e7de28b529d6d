// What the host agent needs of its connection to the guest, whichever transport carries it: the
// virtio-serial channel (channel/link.ts, the default) or SSH (ssh-link.ts, the fallback). The
// Docker socket, the port forwards and the supervisor's guest commands use only this.
import type { Duplex } from 'node:stream';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running listener watch (see guest/commands.ts portWatch): lines `L …` until closed. */
export interface ListenerWatch {
  /** ask the guest for a fresh line now (after a Docker container event) */
  refresh(): void;
  close(): void;
}

export type TransportKind = 'channel' | 'ssh';

export interface DatagramPort {
  send(b: Buffer): void;
  on(e: 'message', f: (b: Buffer) => void): this;
  on(e: 'close', f: () => void): this;
  close(): void;
}

export interface GuestLink {
  readonly kind: TransportKind;
  readonly isUp: boolean;
  on(event: 'down', listener: (reason: string) => void): this;
  /** connect, retrying until `deadline` (epoch ms) */
  connectUntil(deadline: number, onRetry?: (e: Error) => void): Promise<unknown>;
  exec(cmd: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** a byte stream to a unix socket in the guest */
  openUnix(path: string): Promise<Duplex>;
  /** a byte stream to a TCP port in the guest */
  openTcp(host: string, port: number): Promise<Duplex>;
  /** a UDP socket in the guest connect()ed to host:port, a datagram per message (the channel only; SSH carries no datagrams) */
  openUdp?(host: string, port: number): Promise<DatagramPort>;
  /** the guest's listener tables, a line on every change (and at once) */
  watchListeners(onLine: (line: string) => void): Promise<ListenerWatch>;
  close(): void;
}
