// Parsing the guest's TCP listener table (/proc/net/tcp and tcp6) and deciding what to forward.
// Pure functions: unit-tested without a VM.

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

/** Lines of /proc/net/tcp{,6} → listening sockets (state 0A). Headers and garbage are skipped. */
export function parseProcNetTcp(text: string): GuestListener[] {
  const out: GuestListener[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    if (!m) continue;
    out.push({ port: parseInt(m[2]!, 16), address: m[1]!.length === 8 ? ipv4(m[1]!) : ipv6(m[1]!) });
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

/** Parse one line of the guest's ports watcher (guest/scripts.ts) ("L 00000000:1F90 0100007F:0016 …") into listeners. */
export function parseWatchLine(line: string): GuestListener[] | null {
  if (!line.startsWith('L')) return null;
  const rows = line
    .slice(1)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((addr) => `0: ${addr} 00000000:0000 0A`);
  return parseProcNetTcp(rows.join('\n'));
}
