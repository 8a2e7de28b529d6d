// Is some other program already listening on a host loopback port? Asked before a forward binds.
//
// Binding alone does not tell: libuv sets SO_REUSEADDR on every listening socket, and on macOS
// (BSD) that lets a bind to 127.0.0.1:P succeed while another program listens on *:P. The more
// specific socket then wins every `localhost:P` connection, so Berth would silently take over the
// traffic (and any credentials in it) meant for that program. A connect attempt does tell: on
// loopback a closed port is refused at once, a listening one accepts.
import net from 'node:net';

export type ProbeResult = 'listening' | 'free';

export const LOOPBACKS = ['127.0.0.1', '::1'] as const;

/**
 * 'listening' when a connection to host:port is accepted, or when it is neither accepted nor
 * refused within timeoutMs (a listener with a full backlog drops the SYN; a closed loopback port
 * never does). 'free' when refused, or when the address does not exist (no IPv6 loopback).
 */
export function probeListener(host: string, port: number, timeoutMs = 300): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('listening'), timeoutMs);
    sock.once('connect', () => done('listening'));
    sock.once('error', () => done('free'));
  });
}

/** The loopback addresses on which something already answers at `port` (empty when none). */
export async function loopbackListeners(port: number, timeoutMs?: number): Promise<string[]> {
  const results = await Promise.all(LOOPBACKS.map((h) => probeListener(h, port, timeoutMs)));
  return LOOPBACKS.filter((_, i) => results[i] === 'listening');
}

export function hostName(platform: NodeJS.Platform): string {
  return platform === 'darwin' ? 'this Mac' : 'this host';
}

/** The reason a forward shows when another program holds its host port. */
export function portTakenReason(port: number, platform: NodeJS.Platform, detail: string): string {
  return `port ${port} is already used by another program on ${hostName(platform)} (${detail})`;
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
