// The engine's DNS server: UDP and TCP on one port of the host's loopback (never beyond it). The
// VM reaches it at QEMU's host address; the guest redirects its and its containers' queries here.
// Anything that is not a query is dropped without an answer, as a nameserver does.
import dgram from 'node:dgram';
import net from 'node:net';
import { parseQuery, udpLimit } from './packet.js';
import { HostResolver } from './resolve.js';
import type { ResolverOptions } from './resolve.js';

export interface DnsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface DnsServerOptions extends ResolverOptions {
  host?: string;
  /** 0: any free port (the same for UDP and TCP) */
  port?: number;
  /** a TCP connection with no query for this long is closed */
  idleMs?: number;
}

const MAX_TCP_CONNECTIONS = 64;

export async function startDnsServer(opts: DnsServerOptions = {}): Promise<DnsServer> {
  const host = opts.host ?? '127.0.0.1';
  const resolver = new HostResolver(opts);
  // A free UDP port may be taken for TCP: try a few.
  let last: Error = new Error('no port');
  for (let attempt = 0; attempt < 5; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(opts.port ?? 0, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = await listenTcp(host, port, resolver, opts.idleMs ?? 10_000);
      serveUdp(udp, resolver);
      return {
        port,
        close: async () => {
          await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
        },
      };
    } catch (e) {
      last = e as Error;
      try {
        udp.close();
      } catch {
        // never bound
      }
      if (opts.port) break;
    }
  }
  throw last;
}

function serveUdp(udp: dgram.Socket, resolver: HostResolver): void {
  // A send to a client that went away reports an error here; the server carries on.
  udp.on('error', () => undefined);
  udp.on('message', (msg, rinfo) => {
    const q = parseQuery(msg);
    if (!q) return;
    void resolver.answer(q, msg, false, udpLimit(q)).then((res) => {
      try {
        udp.send(res, rinfo.port, rinfo.address, () => undefined);
      } catch {
        // the server closed while this query was being answered
      }
    });
  });
}

function listenTcp(host: string, port: number, resolver: HostResolver, idleMs: number): Promise<net.Server> {
  const server = net.createServer((sock) => serveTcp(sock, resolver, idleMs));
  server.maxConnections = MAX_TCP_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

/** Length-prefixed queries, answered in any order, on one connection until it goes idle. */
function serveTcp(sock: net.Socket, resolver: HostResolver, idleMs: number): void {
  let buf = Buffer.alloc(0);
  let pending = 0;
  sock.setTimeout(idleMs, () => {
    if (!pending) sock.destroy();
  });
  sock.on('error', () => undefined);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) return;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      const q = parseQuery(msg);
      if (!q) {
        // Garbage on a stream leaves nothing to resynchronise on.
        sock.destroy();
        return;
      }
      pending++;
      void resolver.answer(q, Buffer.from(msg), true).then((res) => {
        pending--;
        if (sock.destroyed) return;
        const head = Buffer.alloc(2);
        head.writeUInt16BE(res.length);
        sock.write(Buffer.concat([head, res]));
      });
    }
  });
}
