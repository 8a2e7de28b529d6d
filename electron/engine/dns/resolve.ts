// How the engine's DNS server answers: the way a program on the host would. Addresses (A, AAAA)
// come from getaddrinfo — /etc/hosts, and on a Mac the system resolver with its VPN/split DNS,
// /etc/resolver/* and .local — which is what QEMU's own DNS (it reads /etc/resolv.conf) misses.
// Other types go, as they are, to the host's nameservers. The host's own names answer with the
// address QEMU gives the host's loopback. Every answer comes within a bounded time.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { RCODE, TYPE, addressData, buildResponse, responseFlags } from './packet.js';
import type { Answer, Query } from './packet.js';

export interface HostAddress {
  address: string;
  family: 4 | 6;
}

/** getaddrinfo, or a stand-in; rejects with `code` ENOTFOUND when the name does not exist. */
export type HostLookup = (name: string) => Promise<HostAddress[]>;

/** Sends a query to the host's nameservers as it is; resolves with their answer. */
export type Forward = (query: Buffer, tcp: boolean, timeoutMs: number) => Promise<Buffer>;

export interface ResolverOptions {
  lookup?: HostLookup;
  forward?: Forward;
  /** the address the VM reaches the host's loopback at (QEMU user networking: 10.0.2.2) */
  hostAddress?: string;
  /** no answer takes longer: the client gets SERVFAIL instead */
  timeoutMs?: number;
  /**
   * getaddrinfo blocks one of libuv's 4 pool threads per call; a slow resolver must not starve the
   * engine's file I/O, so only this many run at once and the rest wait (within their time).
   */
  maxLookups?: number;
}

export const HOST_NAMES = ['host.docker.internal', 'gateway.docker.internal', 'host.berth.internal'];
const TTL = 5;

export const systemLookup: HostLookup = async (name) => {
  const list = await dns.promises.lookup(name, { all: true, family: 0, verbatim: true });
  return list.filter((a): a is HostAddress => a.family === 4 || a.family === 6);
};

class Timeout extends Error {}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class HostResolver {
  private readonly lookup: HostLookup;
  private readonly forward: Forward;
  private readonly hostAddress: string;
  readonly timeoutMs: number;
  private readonly maxLookups: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** A and AAAA for one name usually come together: one getaddrinfo answers both */
  private readonly inflight = new Map<string, Promise<HostAddress[]>>();

  constructor(opts: ResolverOptions = {}) {
    this.lookup = opts.lookup ?? systemLookup;
    this.forward = opts.forward ?? systemForward;
    this.hostAddress = opts.hostAddress ?? '10.0.2.2';
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxLookups = opts.maxLookups ?? 2;
  }

  /** The wire answer to `q` (its raw bytes are `raw`); over UDP it fits `maxSize`. Never rejects. */
  async answer(q: Query, raw: Buffer, tcp: boolean, maxSize?: number): Promise<Buffer> {
    try {
      return await within(this.resolve(q, raw, tcp, maxSize), this.timeoutMs);
    } catch (e) {
      return buildResponse(q, (e as NodeJS.ErrnoException).code === 'ENOTFOUND' ? RCODE.NXDOMAIN : RCODE.SERVFAIL);
    }
  }

  private async resolve(q: Query, raw: Buffer, tcp: boolean, maxSize?: number): Promise<Buffer> {
    const { type } = q.question;
    const name = q.question.name.toLowerCase().replace(/\.$/, '');
    if (HOST_NAMES.includes(name)) {
      // The VM has no IPv6 (QEMU runs with ipv6=off): an empty AAAA answer, so clients use the A.
      const answers = type === TYPE.A ? [{ type, ttl: TTL, data: addressData(this.hostAddress, 4) }] : [];
      return buildResponse(q, RCODE.NOERROR, answers, maxSize);
    }
    if (type === TYPE.A || type === TYPE.AAAA) {
      const family = type === TYPE.A ? 4 : 6;
      const list = await this.lookupOnce(name);
      const answers: Answer[] = list.filter((a) => a.family === family).map((a) => ({ type, ttl: TTL, data: addressData(a.address, family) }));
      // The name exists (it has addresses of the other family): NOERROR with no records.
      return buildResponse(q, RCODE.NOERROR, answers, maxSize);
    }
    const res = await this.forward(raw, tcp, this.timeoutMs);
    const f = responseFlags(res);
    if (!f) throw new Error('a malformed answer from upstream');
    // Too large for this UDP client (an upstream that ignored its buffer size): the header alone, with TC.
    if (maxSize !== undefined && res.length > maxSize) return buildResponse(q, f.rcode, [], 0);
    return res;
  }

  private lookupOnce(name: string): Promise<HostAddress[]> {
    const had = this.inflight.get(name);
    if (had) return had;
    const p = this.limited(() => this.lookup(name)).finally(() => this.inflight.delete(name));
    this.inflight.set(name, p);
    return p;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxLookups) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** The host's nameservers as Node sees them (from /etc/resolv.conf), tried in order. */
export const systemForward: Forward = async (query, tcp, timeoutMs) => {
  const servers = dns.getServers();
  if (!servers.length) throw new Error('the host has no nameserver');
  const deadline = Date.now() + timeoutMs;
  let last: Error = new Error('no nameserver answered');
  for (const s of servers) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const { host, port } = splitServer(s);
    try {
      const res = await udpExchange(query, host, port, Math.min(left, 2000));
      // Truncated: a TCP client can take the whole answer, so get it over TCP.
      if (tcp && responseFlags(res)?.tc) return await tcpExchange(query, host, port, deadline - Date.now());
      return res;
    } catch (e) {
      last = e as Error;
    }
  }
  throw last;
};

export function splitServer(s: string): { host: string; port: number } {
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1]!, port: Number(v6[2] ?? 53) };
  if (net.isIP(s)) return { host: s, port: 53 };
  const [host = s, port = '53'] = s.split(':');
  return { host, port: Number(port) };
}

/** One query, one answer over UDP; the answer's id must match. */
export function udpExchange(query: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    const timer = setTimeout(() => done(new Timeout(`${host}:${port} did not answer within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const done = (err: Error | null, res?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (e) => done(e));
    sock.on('message', (m) => {
      if (m.length >= 12 && m.readUInt16BE(0) === id) done(null, m);
    });
    sock.send(query, port, host);
  });
}

/** One query over TCP (two-byte length prefix). */
export function tcpExchange(query: Buffer, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Timeout(`${host}:${port} did not answer within ${timeoutMs} ms`)), Math.max(1, timeoutMs));
    let settled = false;
    const done = (err: Error | null, res?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (e) => done(e));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(null, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    sock.on('end', () => done(new Error(`${host}:${port} closed the connection`)));
  });
}
