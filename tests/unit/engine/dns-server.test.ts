// The engine's DNS server against a real client: Node's own resolver (c-ares), pointed at it, and
// raw UDP/TCP where the client would hide what matters (truncation, garbage).
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RCODE, TYPE, buildQuery, buildResponse, encodeName, parseQuery, responseFlags } from '../../../electron/engine/dns/packet.js';
import { systemLookup, udpExchange } from '../../../electron/engine/dns/resolve.js';
import type { HostAddress, HostLookup } from '../../../electron/engine/dns/resolve.js';
import { startDnsServer } from '../../../electron/engine/dns/server.js';
import type { DnsServer } from '../../../electron/engine/dns/server.js';

const notFound = (name: string) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });

/** What the "host" knows: a name only in its hosts file, a v6-only name, a name with many addresses, one that hangs. */
const hostLookup: HostLookup = async (name) => {
  if (name === 'only-in-hosts.test') return [{ address: '192.0.2.44', family: 4 }];
  if (name === 'v6only.test') return [{ address: '2001:db8::7', family: 6 }];
  if (name === 'many.test') return Array.from({ length: 100 }, (_, i): HostAddress => ({ address: `198.51.100.${i + 1}`, family: 4 }));
  if (name === 'slow.test') return new Promise(() => undefined);
  if (name === 'broken.test') throw Object.assign(new Error('getaddrinfo EAI_FAIL'), { code: 'EAI_FAIL' });
  if (name === 'localhost') return systemLookup(name);
  throw notFound(name);
};

/** An upstream nameserver for the types getaddrinfo cannot answer: MX for mail.test. */
let upstream: dgram.Socket;
let upstreamPort = 0;
let server: DnsServer;

function client(timeout = 3000): dns.promises.Resolver {
  const r = new dns.promises.Resolver({ timeout, tries: 1 });
  r.setServers([`127.0.0.1:${server.port}`]);
  return r;
}

beforeAll(async () => {
  upstream = dgram.createSocket('udp4');
  upstream.on('message', (m, rinfo) => {
    const q = parseQuery(m)!;
    const pref = Buffer.from([0, 10]);
    const res = q.question.name === 'mail.test' && q.question.type === TYPE.MX ? buildResponse(q, RCODE.NOERROR, [{ type: TYPE.MX, ttl: 60, data: Buffer.concat([pref, encodeName('mx.mail.test')]) }]) : buildResponse(q, RCODE.NXDOMAIN);
    upstream.send(res, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', r));
  upstreamPort = upstream.address().port;
  server = await startDnsServer({ lookup: hostLookup, forward: (q, _tcp, t) => udpExchange(q, '127.0.0.1', upstreamPort, t), timeoutMs: 400 });
});

afterAll(async () => {
  await server.close();
  upstream.close();
});

describe('the engine DNS server, asked by a real resolver', () => {
  it('listens on the loopback only, UDP and TCP on the same port', () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers a name the host knows only from its hosts file', async () => {
    expect(await client().resolve4('only-in-hosts.test')).toEqual(['192.0.2.44']);
  });

  it('answers through the real getaddrinfo: localhost', async () => {
    expect(await client().resolve4('localhost')).toEqual(['127.0.0.1']);
  });

  it('host.docker.internal, gateway.docker.internal and host.berth.internal are the host as the VM reaches it; no AAAA', async () => {
    for (const n of ['host.docker.internal', 'gateway.docker.internal', 'host.berth.internal', 'Host.Docker.Internal']) {
      expect(await client().resolve4(n), n).toEqual(['10.0.2.2']);
    }
    await expect(client().resolve6('host.docker.internal')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('a name that does not exist is NXDOMAIN (ENOTFOUND for the client), at once', async () => {
    const t0 = Date.now();
    await expect(client().resolve4('no-such-name.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(Date.now() - t0).toBeLessThan(300);
  });

  it('a name with only IPv6 addresses: AAAA answers, A is an empty NOERROR (not NXDOMAIN)', async () => {
    expect(await client().resolve6('v6only.test')).toEqual(['2001:db8::7']);
    await expect(client().resolve4('v6only.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('a resolver that hangs gives SERVFAIL within the bound, not a hang', async () => {
    const t0 = Date.now();
    await expect(client(5000).resolve4('slow.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(1500);
  });

  it('another resolver failure is SERVFAIL', async () => {
    await expect(client().resolve4('broken.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });
  });

  it('other types (MX) go to the host’s nameserver as they are', async () => {
    expect(await client().resolveMx('mail.test')).toEqual([{ exchange: 'mx.mail.test', priority: 10 }]);
    await expect(client().resolveMx('nomail.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('an answer too large for UDP is truncated there, and the client gets all of it over TCP', async () => {
    const res = await udpExchange(buildQuery(7, 'many.test', TYPE.A), '127.0.0.1', server.port, 2000);
    expect(responseFlags(res)).toMatchObject({ id: 7, tc: true, rcode: 0 });
    expect(res.length).toBeLessThanOrEqual(512);
    // c-ares retries over TCP on TC by itself.
    const all = await client().resolve4('many.test');
    expect(all).toHaveLength(100);
  });

  it('a TCP query, two on one connection', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: server.port });
    const frames = [buildQuery(1, 'only-in-hosts.test', TYPE.A), buildQuery(2, 'no-such-name.test', TYPE.A)].map((q) => {
      const h = Buffer.alloc(2);
      h.writeUInt16BE(q.length);
      return Buffer.concat([h, q]);
    });
    const got = await new Promise<Buffer[]>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const out: Buffer[] = [];
      sock.on('error', reject);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (out.length === 2) resolve(out);
      });
      sock.write(Buffer.concat(frames));
    });
    sock.destroy();
    const byId = new Map(got.map((r) => [responseFlags(r)!.id, r]));
    expect(responseFlags(byId.get(1)!)!.rcode).toBe(RCODE.NOERROR);
    expect(byId.get(1)!.subarray(-4)).toEqual(Buffer.from([192, 0, 2, 44]));
    expect(responseFlags(byId.get(2)!)!.rcode).toBe(RCODE.NXDOMAIN);
  });

  it('garbage is ignored (UDP) or closes the connection (TCP); the server answers on', async () => {
    const u = dgram.createSocket('udp4');
    for (const junk of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(12, 0xff), Buffer.concat([buildQuery(3, 'x.test', 1).subarray(0, 15)]), Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12])]) {
      u.send(junk, server.port, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 100));
    u.close();
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: server.port }, () => s.write(Buffer.from([0, 5, 1, 2, 3, 4, 5])));
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
    });
    expect(closed).toBe(true);
    expect(await client().resolve4('only-in-hosts.test')).toEqual(['192.0.2.44']);
  });

  it('a server closed while a query is still being answered does not throw when the answer comes', async () => {
    const late = await startDnsServer({ lookup: () => new Promise((r) => setTimeout(() => r([{ address: '192.0.2.1', family: 4 }]), 150)) });
    const u = dgram.createSocket('udp4');
    await new Promise<void>((r) => u.send(buildQuery(5, 'late.test', TYPE.A), late.port, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 30));
    await late.close();
    await new Promise((r) => setTimeout(r, 300));
    u.close();
  });
});
