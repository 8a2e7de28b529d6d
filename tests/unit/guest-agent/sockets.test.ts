// berth-guestd's socket streams against real servers: a unix socket (bytes both ways, half-close both ways, OPEN_FAIL
// on a missing path), TCP to 127.0.0.1, UDP datagrams, and OPEN kinds it does not know.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/agent.js';
import { WINDOW } from '../../../electron/engine/channel/frame.js';
import { T, sessionPerTest, u32 } from './helpers/host.js';
import { serveTcp, serveUdpEcho, serveUnix } from './helpers/servers.js';

beforeAll(() => void buildAgent(), 120_000);

const session = sessionPerTest();

describe('berth-guestd unix and TCP streams', () => {
  it('carries bytes both ways over a unix socket, and the host’s EOF half-closes it', async () => {
    const h = await session();
    const srv = await serveUnix(h.dir);
    expect((await h.open(1, 'u', srv.path)).type).toBe(T.OPEN_OK);
    const c = await srv.next();
    h.send(T.DATA, 1, 'GET /_ping');
    expect((await srv.read(c, 10)).toString()).toBe('GET /_ping');
    h.send(T.EOF, 1);
    await srv.untilEnd(c);
    // half-closed only: the server still answers, and its end reaches the host as EOF
    c.end('OK after EOF');
    await h.nextOn(1, T.EOF);
    expect(h.takeData(1).toString()).toBe('OK after EOF');
    // both sides sent EOF: the stream is finished without a CLOSE
    await new Promise((r) => setTimeout(r, 100));
    expect(h.frames.filter((f) => f.stream === 1 && f.type !== T.CREDIT)).toEqual([]);
    srv.close();
  });

  it('passes the socket’s EOF to the host and still delivers the host’s bytes after it', async () => {
    const h = await session();
    const srv = await serveUnix(h.dir);
    await h.open(2, 'u', srv.path);
    const c = await srv.next();
    c.end('bye');
    await h.nextOn(2, T.EOF);
    expect(h.takeData(2).toString()).toBe('bye');
    h.send(T.DATA, 2, 'still here');
    expect((await srv.read(c, 10)).toString()).toBe('still here');
    await h.nextOn(2, T.CREDIT);
    h.send(T.EOF, 2);
    await srv.untilEnd(c);
    srv.close();
  });

  it('fails the OPEN of a missing unix socket with the connect error', async () => {
    const h = await session();
    const missing = path.join(h.dir, 'nope.sock');
    const f = await h.open(3, 'u', missing);
    expect(f.type).toBe(T.OPEN_FAIL);
    expect(f.payload.toString()).toBe(`connect ${missing}: No such file or directory`);
  });

  it('connects TCP to 127.0.0.1 and carries bytes both ways; a refused port fails the OPEN', async () => {
    const h = await session();
    const srv = await serveTcp();
    expect((await h.open(4, 't', `${srv.port} 127.0.0.1`)).type).toBe(T.OPEN_OK);
    const c = await srv.next();
    h.send(T.DATA, 4, 'ping over tcp');
    expect((await srv.read(c, 13)).toString()).toBe('ping over tcp');
    c.write('pong over tcp');
    await h.until(() => h.frames.some((f) => f.stream === 4 && f.type === T.DATA), 'tcp DATA');
    expect(h.takeData(4).toString()).toBe('pong over tcp');
    // the server vanishing mid-stream: its close comes to the host as EOF
    c.destroy();
    await h.nextOn(4, T.EOF);
    srv.close();
    const refused = await h.open(5, 't', `${srv.port} 127.0.0.1`);
    expect(refused.type).toBe(T.OPEN_FAIL);
    expect(refused.payload.toString()).toBe(`connect ${srv.port} 127.0.0.1: Connection refused`);
  });

  it('refuses an OPEN kind it does not know and an address that is not one', async () => {
    const h = await session();
    expect((await h.open(6, 'z', 'x')).payload.toString()).toBe('unknown OPEN kind 0x7a');
    expect((await h.open(7, 't', '80 localhost')).type).toBe(T.OPEN_FAIL);
  });
});

describe('berth-guestd UDP streams', () => {
  it('sends each DATA as one datagram and returns each reply as one DATA', async () => {
    const h = await session();
    const echo = await serveUdpEcho();
    expect((await h.open(8, 'd', `${echo.port} 127.0.0.1`)).type).toBe(T.OPEN_OK);
    h.send(T.DATA, 8, 'one');
    h.send(T.DATA, 8, 'two-two');
    const a = await h.nextOn(8, T.DATA);
    const b = await h.nextOn(8, T.DATA);
    expect([a.payload.toString(), b.payload.toString()]).toEqual(['echo:one', 'echo:two-two']);
    echo.close();
  });

  it('drops datagrams beyond the window instead of queueing them, and carries new ones after a CREDIT', async () => {
    const h = await session();
    const echo = await serveUdpEcho();
    expect((await h.open(9, 'd', `${echo.port} 127.0.0.1`)).type).toBe(T.OPEN_OK);
    let bytes = 0;
    let count = 0;
    h.tap = (f) => {
      if (f.stream !== 9 || f.type !== T.DATA) return false;
      bytes += f.payload.length;
      count++;
      return true;
    };
    const payload = Buffer.alloc(1000, 0x61);
    for (let i = 0; i < 300; i++) h.send(T.DATA, 9, payload); // 300 replies of 1005 bytes: more than a window
    await h.until(() => h.frames.filter((f) => f.stream === 9 && f.type === T.CREDIT).length === 300, 'a CREDIT per datagram');
    await new Promise((r) => setTimeout(r, 300));
    expect(bytes).toBeLessThanOrEqual(WINDOW);
    expect(count).toBeLessThanOrEqual(Math.floor(WINDOW / 1005));
    expect(count).toBeGreaterThan(0);
    h.tap = () => false;
    h.send(T.CREDIT, 9, u32(WINDOW));
    h.send(T.DATA, 9, 'after');
    expect((await h.nextOn(9, T.DATA)).payload.toString()).toBe('echo:after');
    echo.close();
  });
});

describe('berth-guestd and a host that overruns its window', () => {
  it('closes the stream rather than buffer more than a window for it', async () => {
    const h = await session();
    const srv = await serveUnix(h.dir);
    await h.open(10, 'u', srv.path);
    const c = await srv.next();
    c.pause(); // a reader that never reads: the guest cannot hand the bytes on
    const chunk = Buffer.alloc(65536, 1);
    for (let i = 0; i < 64; i++) h.send(T.DATA, 10, chunk); // 4 MB with no regard for CREDIT
    await h.nextOn(10, T.CLOSE);
    c.resume();
    await srv.untilEnd(c);
    srv.close();
  });
});

