// ChannelLink against a scripted guest (scripted-peer.ts): the handshake, streams and their half-closes, the windows
// both ways, resets, exec, UDP, the listener watch and ping, as docs/guest-channel.md describes them.
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FLAG_STDERR, SYNC_MARKER, T, WINDOW, encodeFrame } from '../../../../electron/engine/channel/frame.js';
import { ChannelLink } from '../../../../electron/engine/channel/link.js';
import { ScriptedPeer, tick } from './scripted-peer.js';

let peer: ScriptedPeer;
let link: ChannelLink;

beforeEach(async () => {
  peer = await new ScriptedPeer().listen();
  link = new ChannelLink(peer.path);
  // streams a test leaves open error with "link closed" at its close(); the tests that care listen themselves
  const openUnix = link.openUnix.bind(link);
  link.openUnix = async (p: string) => (await openUnix(p)).on('error', () => {});
});

afterEach(async () => {
  link.close();
  await peer.close();
});

function readAll(s: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

const errorOf = (s: Duplex) => new Promise<Error>((r) => s.on('error', r));

describe('handshake', () => {
  it('ignores leftovers and an answer carrying another nonce, then comes up on its own HELLO', async () => {
    peer.junkBeforeHello = Buffer.concat([Buffer.from('old bytes'), SYNC_MARKER, peer.helloFrame(Buffer.alloc(8, 1), { version: 1, bootId: 'stale', agent: 'x' })]);
    const ups: string[] = [];
    link.on('up', (h) => ups.push(h.bootId));
    const hello = await link.connect(2000);
    expect(hello).toEqual({ version: 1, bootId: 'boot-1', agent: 'berth-guestd 1' });
    expect(link.isUp).toBe(true);
    expect(link.hello?.bootId).toBe('boot-1');
    expect(ups).toEqual(['boot-1']);
    expect(peer.nonces).toHaveLength(1);
    expect(peer.nonces[0]).toHaveLength(8);
  });

  it('rejects when the guest never answers, and connectUntil keeps trying with a fresh connection and nonce', async () => {
    peer.answerHello = false;
    await expect(link.connect(150)).rejects.toThrow(/no HELLO from the guest within 150 ms/);
    expect(link.isUp).toBe(false);
    const retries: string[] = [];
    const p = link.connectUntil(Date.now() + 5000, (e) => {
      retries.push(e.message);
      peer.answerHello = true;
    });
    // a guest that stays silent through the first attempt
    await expect(p).resolves.toMatchObject({ bootId: 'boot-1' });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(new Set(peer.nonces.map((n) => n.toString('hex'))).size).toBe(peer.nonces.length);
  }, 15_000);

  it('connectUntil rejects with the last error once the deadline passes', async () => {
    await peer.close();
    await expect(link.connectUntil(Date.now() + 600)).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });

  it('refuses a guest speaking another version', async () => {
    peer.answerHello = false;
    const c = link.connect(2000);
    await peer.connected();
    while (peer.nonces.length === 0) await tick(5);
    peer.raw(Buffer.concat([SYNC_MARKER, peer.helloFrame(peer.nonces[0]!, { version: 2, bootId: '', agent: 'future' })]));
    await expect(c).rejects.toThrow(/version 2/);
  });
});

describe('streams', () => {
  beforeEach(async () => {
    await link.connect(2000);
  });

  it('opens a unix stream, carries bytes both ways and half-closes each way', async () => {
    const opens: string[] = [];
    peer.onOpen = (id, kind, text) => {
      opens.push(kind + text);
      peer.send(T.OPEN_OK, id);
    };
    const s = await link.openUnix('/var/run/docker.sock');
    expect(opens).toEqual(['u/var/run/docker.sock']);
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    expect(id).not.toBe(0);
    const got = readAll(s);
    s.end('GET /_ping HTTP/1.1\r\n\r\n');
    await peer.next((f) => f.type === T.EOF && f.stream === id);
    expect(peer.received(id).toString()).toBe('GET /_ping HTTP/1.1\r\n\r\n');
    // the host's EOF is a half-close: the answer still comes
    peer.send(T.DATA, id, Buffer.from('HTTP/1.1 200 OK\r\n\r\nOK'));
    peer.send(T.EOF, id);
    expect((await got).toString()).toBe('HTTP/1.1 200 OK\r\n\r\nOK');
  });

  it('keeps the host writable after the guest EOF (guest half-close)', async () => {
    const s = await link.openUnix('/x');
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    const got = readAll(s);
    peer.send(T.DATA, id, Buffer.from('banner'));
    peer.send(T.EOF, id);
    expect((await got).toString()).toBe('banner');
    s.write('still talking');
    await peer.next((f) => f.type === T.DATA && f.stream === id);
    expect(peer.received(id).toString()).toBe('still talking');
  });

  it('rejects with the guest reason on OPEN_FAIL', async () => {
    peer.onOpen = (id) => peer.send(T.OPEN_FAIL, id, Buffer.from('connect /var/run/docker.sock: No such file or directory'));
    await expect(link.openUnix('/var/run/docker.sock')).rejects.toThrow('connect /var/run/docker.sock: No such file or directory');
    peer.onOpen = (id) => peer.send(T.OPEN_OK, id);
    const s = await link.openTcp('::1', 8080);
    expect(peer.frames.filter((f) => f.type === T.OPEN).map((f) => f.payload.toString('latin1'))).toEqual(['u/var/run/docker.sock', 't8080 ::1']);
    // ids are never reused within a session
    const ids = peer.frames.filter((f) => f.type === T.OPEN).map((f) => f.stream);
    expect(new Set(ids).size).toBe(2);
    s.destroy();
  });

  it('never has more than a window of DATA unacknowledged; writes beyond it wait for CREDIT', async () => {
    const s = await link.openUnix('/sink');
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    const data = Buffer.alloc(1024 * 1024 + 123, 0);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    let written = false;
    s.write(data, () => (written = true));
    await expect.poll(() => peer.received(id).length).toBe(WINDOW);
    await tick(50);
    expect(peer.received(id).length).toBe(WINDOW);
    expect(written).toBe(false);
    // credit in odd-sized steps, the way a slow guest socket drains
    while (peer.received(id).length < data.length) {
      peer.credit(id, 100_000);
      await tick(5);
      expect(peer.unacked.get(id)!).toBeLessThanOrEqual(WINDOW);
    }
    peer.credit(id, peer.unacked.get(id)!);
    await expect.poll(() => written).toBe(true);
    expect(peer.maxUnacked).toBeLessThanOrEqual(WINDOW);
    expect(peer.received(id).equals(data)).toBe(true);
    expect(peer.frames.filter((f) => f.type === T.DATA).every((f) => f.payload.length <= 65536)).toBe(true);
  });

  it('credits as the consumer reads: a paused consumer stops the CREDITs, reading resumes them', async () => {
    const s = await link.openUnix('/source');
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    // the guest fills the window; nobody reads yet
    for (let i = 0; i < 4; i++) peer.send(T.DATA, id, Buffer.alloc(65536, i));
    await tick(100);
    const whilePaused = peer.creditsFromHost.get(id) ?? 0;
    expect(whilePaused).toBeLessThan(WINDOW);
    await tick(100);
    expect(peer.creditsFromHost.get(id) ?? 0).toBe(whilePaused);
    // now read it all, and a further 2 MB the guest sends within its window
    const more = Buffer.alloc(2 * 1024 * 1024, 9);
    const got = readAll(s);
    await peer.sendWithinWindow(id, more);
    peer.send(T.EOF, id);
    const all = await got;
    expect(all.length).toBe(WINDOW + more.length);
    await expect.poll(() => peer.creditsFromHost.get(id)).toBe(WINDOW + more.length);
  });

  it('a guest CLOSE ends the stream after what was already received; a host destroy() sends CLOSE', async () => {
    const s = await link.openUnix('/a');
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    const closed = new Promise<void>((r) => s.on('close', r));
    const got = readAll(s);
    peer.send(T.DATA, id, Buffer.from('last words'));
    peer.send(T.CLOSE, id);
    expect((await got).toString()).toBe('last words');
    await closed;
    // the host does not answer a CLOSE
    await tick(20);
    expect(peer.frames.filter((f) => f.stream === id && f.type === T.CLOSE)).toEqual([]);

    const t = await link.openUnix('/b');
    const id2 = peer.frames.filter((f) => f.type === T.OPEN).at(-1)!.stream;
    t.destroy();
    await peer.next((f) => f.type === T.CLOSE && f.stream === id2);
  });

  it('fails open streams with "channel reset" on RESYNC and on a bad header, then starts a new session', async () => {
    for (const trouble of [encodeFrame(T.RESYNC, 0), Buffer.from('garbage that is not a header')]) {
      const s = await link.openUnix('/a');
      const err = errorOf(s);
      const pending = new Promise<string>((r) => {
        peer.onOpen = () => {};
        link.openUnix('/never').catch((e: Error) => r(e.message));
      });
      await tick(20);
      const downs: string[] = [];
      link.on('down', (r) => downs.push(r));
      const up = new Promise((r) => link.once('up', r));
      const before = peer.nonces.length;
      peer.raw(trouble);
      expect((await err).message).toBe('channel reset');
      expect(await pending).toBe('channel reset');
      expect(downs).toEqual(['channel reset']);
      await up;
      expect(peer.nonces.length).toBe(before + 1);
      expect(peer.nonces.at(-1)!.equals(peer.nonces.at(-2)!)).toBe(false);
      expect(link.isUp).toBe(true);
      peer.onOpen = (id) => peer.send(T.OPEN_OK, id);
      const again = await link.openUnix('/again');
      again.destroy();
      link.removeAllListeners('down');
    }
  });

  it('fires down once with the reason when the guest end closes, and open streams error with it', async () => {
    const s = await link.openUnix('/a');
    const err = errorOf(s);
    const downs: string[] = [];
    link.on('down', (r) => downs.push(r));
    peer.sock!.destroy();
    expect((await err).message).toBe('guest channel closed');
    await tick(20);
    expect(downs).toEqual(['guest channel closed']);
    expect(link.isUp).toBe(false);
    expect(link.hello).toBeNull();
    await expect(link.openUnix('/b')).rejects.toThrow(/not up/);
    // the caller reconnects
    await expect(link.connect(2000)).resolves.toMatchObject({ bootId: 'boot-1' });
  });

  it('emits no down after close()', async () => {
    const downs: string[] = [];
    link.on('down', (r) => downs.push(r));
    const s = await link.openUnix('/a');
    const err = errorOf(s);
    link.close();
    expect((await err).message).toMatch(/closed/);
    await tick(20);
    expect(downs).toEqual([]);
    await expect(link.connect(100)).rejects.toThrow(/closed/);
  });

  it('pings', async () => {
    const ms = await link.ping(1000);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(1000);
    expect(peer.frames.some((f) => f.type === T.PING && f.payload.length <= 64)).toBe(true);
  });
});

describe('exec', () => {
  beforeEach(async () => {
    await link.connect(2000);
  });

  it('sends stdin then EOF, collects stdout, stderr and the exit code', async () => {
    peer.onOpen = (id, kind) => {
      expect(kind).toBe('x');
      peer.send(T.OPEN_OK, id);
      void peer.next((f) => f.type === T.EOF && f.stream === id).then(() => {
        peer.send(T.DATA, id, Buffer.from('out:' + peer.received(id).length));
        peer.send(T.DATA, id, Buffer.from('warn'), FLAG_STDERR);
        peer.send(T.EXIT, id, Buffer.from([0, 0, 0, 3]));
        peer.send(T.CLOSE, id);
      });
    };
    const stdin = 'x'.repeat(600_000);
    const p = link.exec('cat >/dev/null; echo; exit 3', { stdin });
    // stdin larger than a window goes as the guest credits it
    const id = (await peer.next((f) => f.type === T.OPEN)).stream;
    while (!peer.frames.some((f) => f.type === T.EOF && f.stream === id)) {
      peer.credit(id, peer.unacked.get(id) ?? 0);
      await tick(5);
    }
    expect(await p).toEqual({ code: 3, stdout: 'out:600000', stderr: 'warn' });
    expect(peer.maxUnacked).toBeLessThanOrEqual(WINDOW);
    expect(peer.frames.find((f) => f.type === T.OPEN)!.payload.toString()).toBe('xcat >/dev/null; echo; exit 3');
  });

  it('reports a killed command as 128+signal and a CLOSE without EXIT as code null', async () => {
    peer.onOpen = (id, _k, text) => {
      peer.send(T.OPEN_OK, id);
      if (text === 'kill -9 $$') peer.send(T.EXIT, id, Buffer.from([0, 0, 0, 137]));
      peer.send(T.CLOSE, id);
    };
    expect(await link.exec('kill -9 $$')).toEqual({ code: 137, stdout: '', stderr: '' });
    expect((await link.exec('vanish')).code).toBeNull();
  });

  it('times out: CLOSE kills the command and the promise rejects', async () => {
    const t0 = Date.now();
    await expect(link.exec('sleep 10', { timeoutMs: 200 })).rejects.toThrow('command timed out after 200 ms: sleep 10');
    expect(Date.now() - t0).toBeLessThan(2000);
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    await peer.next((f) => f.type === T.CLOSE && f.stream === id);
  });
});

describe('UDP and the listener watch', () => {
  beforeEach(async () => {
    await link.connect(2000);
  });

  it('keeps datagram boundaries both ways and closes', async () => {
    const port = await link.openUdp('127.0.0.1', 53);
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    expect(peer.frames.find((f) => f.type === T.OPEN)!.payload.toString()).toBe('d53 127.0.0.1');
    const msgs: string[] = [];
    port.on('message', (b) => msgs.push(b.toString()));
    port.send(Buffer.from('q1'));
    port.send(Buffer.from('q22'));
    await expect.poll(() => peer.received(id).length).toBe(5);
    expect(peer.frames.filter((f) => f.type === T.DATA && f.stream === id).map((f) => f.payload.toString())).toEqual(['q1', 'q22']);
    peer.send(T.DATA, id, Buffer.from('a1'));
    peer.send(T.DATA, id, Buffer.from('a22'));
    await expect.poll(() => msgs).toEqual(['a1', 'a22']);
    const closed = new Promise<void>((r) => port.on('close', r));
    port.close();
    await closed;
    await peer.next((f) => f.type === T.CLOSE && f.stream === id);
  });

  it('drops a datagram that does not fit the window instead of queueing it', async () => {
    const port = await link.openUdp('::1', 9);
    const id = peer.frames.find((f) => f.type === T.OPEN)!.stream;
    for (let i = 0; i < 5; i++) port.send(Buffer.alloc(60_000, i));
    await expect.poll(() => peer.received(id).length).toBe(4 * 60_000);
    await tick(50);
    expect(peer.received(id).length).toBe(4 * 60_000);
    peer.credit(id, 60_000);
    // the PONG comes after the CREDIT on the wire: once it is back, the host has the window
    await link.ping(2000);
    port.send(Buffer.alloc(60_000, 9));
    await expect.poll(() => peer.received(id).length).toBe(5 * 60_000);
    expect(peer.received(id).subarray(4 * 60_000).every((b) => b === 9)).toBe(true);
    port.close();
  });

  it('delivers listener lines (split or merged in DATA) and asks for a fresh one on refresh()', async () => {
    const lines: string[] = [];
    const w = await link.watchListeners((l) => lines.push(l));
    const open = peer.frames.find((f) => f.type === T.OPEN)!;
    expect(open.payload.toString()).toBe('l');
    peer.send(T.DATA, open.stream, Buffer.from('L 0.0.0.0:22 u/0.0.0.0:53\nL 0.0'));
    peer.send(T.DATA, open.stream, Buffer.from('.0.0:22\n'));
    await expect.poll(() => lines).toEqual(['L 0.0.0.0:22 u/0.0.0.0:53', 'L 0.0.0.0:22']);
    w.refresh();
    await peer.next((f) => f.type === T.DATA && f.stream === open.stream);
    w.close();
    await peer.next((f) => f.type === T.CLOSE && f.stream === open.stream);
  });
});
