// Parsing the guest's listener tables (/proc/net/tcp, tcp6, udp, udp6) and deciding what to
// forward. Pure functions: unit-tested without a VM.
import type { PortForward } from '../../shared/status.js';

export interface GuestListener {
  port: number;
  /** the bound address as text: 0.0.0.0, 127.0.0.1, ::, ::1, … */
  address: string;
}

function ipv4(hex: string): string {
  // /proc prints the address as a little-endian 32-bit number.
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

function ipv6(hex: string): string {
  // Four little-endian 32-bit words.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const s = groups.join(':');
  if (s === '0:0:0:0:0:0:0:0') return '::';
  if (s === '0:0:0:0:0:0:0:1') return '::1';
  if (s.startsWith('0:0:0:0:0:ffff:')) return `::ffff:${ipv4(hex.slice(24, 32))}`;
  return s;
}

const ADDRESS = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/;

function listenerAt(local: string | undefined): GuestListener | null {
  const m = ADDRESS.exec(local ?? '');
  if (!m) return null;
  return { port: parseInt(m[2]!, 16), address: m[1]!.length === 8 ? ipv4(m[1]!) : ipv6(m[1]!) };
}

/** Lines of /proc/net/tcp{,6} → listening sockets (state 0A). Headers and garbage are skipped. */
export function parseProcNetTcp(text: string): GuestListener[] {
  const out: GuestListener[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const l = listenerAt(f[1]);
    if (l) out.push(l);
  }
  return out;
}

/**
 * Lines of /proc/net/udp{,6} → UDP servers: unconnected sockets (state 07) bound to a port. A socket
 * with a remote address is a client that connect()ed (its state is 01, and its far end is set):
 * not something to forward to.
 */
export function parseProcNetUdp(text: string): GuestListener[] {
  const out: GuestListener[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '07' || !/^0+:0000$/.test(f[2] ?? '')) continue;
    const l = listenerAt(f[1]);
    if (l && l.port !== 0) out.push(l);
  }
  return out;
}

/** Addresses a forward can reach through the guest's loopback (SSH direct-tcpip to 127.0.0.1). */
export function reachableFromLoopback(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/** The guest address the SSH forward connects to for a listener bound to `address`. */
export function connectAddress(address: string): string {
  return address === '::1' ? '::1' : address.startsWith('127.') ? address : '127.0.0.1';
}

/** Ports the guest system itself uses and that are never forwarded. */
export const SYSTEM_PORTS = new Set([22]);

export interface PortRules {
  ignore: number[];
  /** guest port → host port */
  map: Record<string, number>;
}

export interface WantedForward {
  guestPort: number;
  hostPort: number;
  guestAddress: string;
}

/** One forward per guest port (an IPv4 and an IPv6 listener on the same port are one service). */
export function wantedForwards(listeners: GuestListener[], rules: PortRules): WantedForward[] {
  const byPort = new Map<number, GuestListener>();
  for (const l of listeners) {
    if (SYSTEM_PORTS.has(l.port) || rules.ignore.includes(l.port) || !reachableFromLoopback(l.address)) continue;
    const prev = byPort.get(l.port);
    // Prefer the widest bind for display: 0.0.0.0 / :: over loopback.
    if (!prev || (prev.address.startsWith('127.') && !l.address.startsWith('127.'))) byPort.set(l.port, l);
  }
  return [...byPort.values()]
    .sort((a, b) => a.port - b.port)
    .map((l) => ({ guestPort: l.port, hostPort: rules.map[String(l.port)] ?? l.port, guestAddress: l.address }));
}

/**
 * Where to listen on the host. Only loopback, ever. On macOS a non-root process may not bind
 * 127.0.0.1 below port 1024 but may bind 0.0.0.0: then we bind 0.0.0.0 and refuse every peer that
 * is not loopback (what Lima does), so `localhost:80` works without exposing it to the network.
 */
export function hostBind(port: number, platform: NodeJS.Platform, isRoot: boolean): { address: string; loopbackFilter: boolean } {
  if (platform === 'darwin' && port < 1024 && !isRoot) return { address: '0.0.0.0', loopbackFilter: true };
  return { address: '127.0.0.1', loopbackFilter: false };
}

export function isLoopbackPeer(address: string | undefined): boolean {
  return !!address && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}

export interface WatchedListeners {
  tcp: GuestListener[];
  udp: GuestListener[];
}

/**
 * Parse one line of the guest's ports watcher (guest/scripts.ts): "L 00000000:1F90 u/00000000:14E9 …",
 * TCP listeners bare and UDP servers prefixed `u/`, each as /proc prints its local address.
 */
export function parseWatchLine(line: string): WatchedListeners | null {
  if (!line.startsWith('L')) return null;
  const tokens = line.slice(1).trim().split(/\s+/).filter(Boolean);
  const rows = (ts: string[]) => ts.map((addr) => listenerAt(addr)).filter((l): l is GuestListener => l !== null);
  return {
    tcp: rows(tokens.filter((t) => !t.startsWith('u/'))),
    udp: rows(tokens.filter((t) => t.startsWith('u/')).map((t) => t.slice(2))).filter((l) => l.port !== 0),
  };
}

/**
 * Whether a UDP server bound to `address` can be reached through QEMU's user-mode forwarding,
 * which delivers to the guest's own network address (10.0.2.15), never to its loopback.
 */
export function udpReachable(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '10.0.2.15' || address === '::ffff:10.0.2.15';
}

export interface WantedUdpForward extends WantedForward {
  /** why it cannot be carried (a loopback-only bind), when it cannot */
  unreachable?: string;
}

/** The guest address a channel UDP stream goes to for a server bound to `address`. */
export function udpConnectAddress(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  if (address.startsWith('::ffff:')) return address.slice(7);
  return address;
}

/**
 * One UDP forward per guest port, under the same ports.map / ports.ignore rules as TCP. Through
 * QEMU's forwarding (`hostfwd`) only servers on every address (or the guest's own) are reachable;
 * the guest channel reaches loopback-bound ones too.
 */
export function wantedUdpForwards(listeners: GuestListener[], rules: PortRules, via: 'hostfwd' | 'channel' = 'hostfwd'): WantedUdpForward[] {
  const reachable = via === 'channel' ? (a: string) => udpReachable(a) || reachableFromLoopback(a) : udpReachable;
  const byPort = new Map<number, GuestListener>();
  for (const l of listeners) {
    if (rules.ignore.includes(l.port)) continue;
    const prev = byPort.get(l.port);
    // A reachable bind wins over a loopback one on the same port.
    if (!prev || (!reachable(prev.address) && reachable(l.address))) byPort.set(l.port, l);
  }
  return [...byPort.values()]
    .sort((a, b) => a.port - b.port)
    .map((l) => ({
      guestPort: l.port,
      hostPort: rules.map[String(l.port)] ?? l.port,
      guestAddress: l.address,
      ...(reachable(l.address) ? {} : { unreachable: `the guest listener is bound to ${l.address} only; UDP reaches listeners on all addresses (0.0.0.0 or ::)` }),
    }));
}

/** A forward as clients list it (berth ports, the tray, the dashboard), TCP or UDP alike. */
export function listedForward(protocol: PortForward['protocol'], f: Pick<PortForward, 'guestPort' | 'hostPort' | 'guestAddress' | 'state' | 'reason'>): PortForward {
  return {
    protocol,
    guestPort: f.guestPort,
    hostPort: f.hostPort,
    guestAddress: f.guestAddress,
    source: 'guest',
    state: f.state,
    ...(f.reason ? { reason: f.reason } : {}),
  };
}
