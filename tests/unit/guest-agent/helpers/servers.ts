// Servers on this machine (standing in for the guest's) for the agent's streams to reach: unix, TCP and UDP.
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';

export interface Served {
  /** the unix path, or the TCP port as text */
  path: string;
  port: number;
  next: () => Promise<net.Socket>;
  /** exactly n bytes the connection received (waits for them) */
  read: (s: net.Socket, n: number) => Promise<Buffer>;
  /** resolves with everything received once the peer half-closed */
  untilEnd: (s: net.Socket) => Promise<Buffer>;
  close: () => void;
}

export function serveUnix(dir: string): Promise<Served> {
  return serve(path.join(dir, `s-${Math.random().toString(36).slice(2)}.sock`));
}

export function serveTcp(): Promise<Served> {
  return serve(null);
}

async function serve(unixPath: string | null): Promise<Served> {
  const conns: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  // chunks, joined when read: a 20 MB transfer must not be copied at every chunk
  const chunks = new Map<net.Socket, Buffer[]>();
  const have = (s: net.Socket) => chunks.get(s)!.reduce((n, b) => n + b.length, 0);
  const joined = (s: net.Socket) => {
    const b = Buffer.concat(chunks.get(s)!);
    chunks.set(s, [b]);
    return b;
  };
  const ended = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    chunks.set(s, []);
    s.on('data', (d: Buffer) => chunks.get(s)!.push(d));
    s.on('end', () => ended.add(s));
    s.on('error', () => {});
    const w = waiting.shift();
    if (w) w(s);
    else conns.push(s);
  });
  await new Promise<void>((r) => (unixPath ? server.listen(unixPath, r) : server.listen(0, '127.0.0.1', r)));
  const port = unixPath ? 0 : (server.address() as net.AddressInfo).port;
  return {
    path: unixPath ?? String(port),
    port,
    next: () => new Promise<net.Socket>((r) => (conns.length ? r(conns.shift()!) : waiting.push(r))),
    read: async (s, n) => {
      while (have(s) < n) await new Promise((r) => s.once('data', r));
      const b = joined(s);
      chunks.set(s, [b.subarray(n)]);
      return b.subarray(0, n);
    },
    untilEnd: async (s) => {
      if (!ended.has(s)) await new Promise((r) => s.once('end', r));
      return joined(s);
    },
    close: () => server.close(),
  };
}

/** A UDP echo server on 127.0.0.1 that answers each datagram with "echo:" + it. */
export async function serveUdpEcho(): Promise<{ port: number; close: () => void }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, r) => sock.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, close: () => sock.close() };
}
