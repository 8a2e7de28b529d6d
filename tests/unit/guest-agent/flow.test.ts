// berth-guestd's flow control: never more than a window (262144 bytes) of DATA in flight on a stream without the
// host's CREDIT, and a 20 MB transfer each way through a unix socket arriving intact under the windows.
import crypto from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WINDOW } from '../../../electron/engine/channel/frame.js';
import { buildAgent } from './helpers/agent.js';
import { Host, T, u32 } from './helpers/host.js';
import { serveUnix } from './helpers/servers.js';

beforeAll(() => void buildAgent(), 120_000);

let host: Host;
afterEach(async () => {
  expect(await host.close()).toBe(0);
});

/** Waits until nothing arrived on the stream for quietMs; the DATA bytes so far. */
async function settle(got: () => number, quietMs = 400): Promise<number> {
  for (;;) {
    const before = got();
    await new Promise((r) => setTimeout(r, quietMs));
    if (got() === before) return before;
  }
}

describe('berth-guestd flow control', () => {
  it('stops at the window without CREDIT and sends exactly what each CREDIT allows', { timeout: 30_000 }, async () => {
    host = await Host.start();
    await host.hello();
    let got = 0;
    host.tap = (f) => {
      if (f.stream !== 1 || f.type !== T.DATA) return false;
      got += f.payload.length;
      return true;
    };
    expect((await host.open(1, 'x', 'head -c 1000000 /dev/zero')).type).toBe(T.OPEN_OK);
    expect(await settle(() => got)).toBe(WINDOW);
    host.send(T.CREDIT, 1, u32(100_000));
    expect(await settle(() => got)).toBe(WINDOW + 100_000);
    host.send(T.CREDIT, 1, u32(1_000_000));
    const exit = await host.nextOn(1, T.EXIT);
    expect(exit.payload.readInt32BE(0)).toBe(0);
    expect(got).toBe(1_000_000);
  });

  it('moves 20 MB each way through a unix socket intact, both ends keeping to the windows', { timeout: 60_000 }, async () => {
    host = await Host.start();
    await host.hello();
    const h = host;
    const srv = await serveUnix(h.dir);
    const up = crypto.randomBytes(20 << 20);
    const down = crypto.randomBytes(20 << 20);
    expect((await h.open(1, 'u', srv.path)).type).toBe(T.OPEN_OK);
    const c = await srv.next();
    c.end(down);
    const serverGot = srv.untilEnd(c);

    const recvHash = crypto.createHash('sha256');
    let received = 0;
    let inFlight = 0; // bytes the guest sent we have not credited yet
    let maxInFlight = 0;
    let unacked = 0; // bytes we sent the guest has not credited yet
    let guestEof = false;
    h.tap = (f) => {
      if (f.stream !== 1) return false;
      if (f.type === T.DATA) {
        recvHash.update(f.payload);
        received += f.payload.length;
        inFlight += f.payload.length;
        maxInFlight = Math.max(maxInFlight, inFlight);
        // a reader that lags: credit in 128 KB steps
        if (inFlight >= 131072) {
          h.send(T.CREDIT, 1, u32(inFlight));
          inFlight = 0;
        }
        return true;
      }
      if (f.type === T.CREDIT) unacked -= f.payload.readUInt32BE(0);
      if (f.type === T.EOF) guestEof = true;
      return f.type === T.CREDIT || f.type === T.EOF;
    };
    for (let off = 0; off < up.length; ) {
      if (unacked + 65536 > WINDOW) {
        await h.until(() => unacked + 65536 <= WINDOW, 'CREDIT from the guest');
        continue;
      }
      const n = Math.min(65536, up.length - off);
      h.send(T.DATA, 1, up.subarray(off, off + n));
      unacked += n;
      off += n;
    }
    h.send(T.EOF, 1);
    const sent = await serverGot;
    expect(sent.length).toBe(up.length);
    expect(crypto.createHash('sha256').update(sent).digest('hex')).toBe(crypto.createHash('sha256').update(up).digest('hex'));
    await h.until(() => guestEof && received === down.length, 'all 20 MB and EOF from the guest', 30_000);
    expect(recvHash.digest('hex')).toBe(crypto.createHash('sha256').update(down).digest('hex'));
    expect(maxInFlight).toBeLessThanOrEqual(WINDOW);
    srv.close();
  });

  it('keeps every stream going when the queue to a slow host fills and drains', { timeout: 30_000 }, async () => {
    host = await Host.start();
    await host.hello();
    const h = host;
    const got = new Map<number, number>();
    const exits = new Map<number, number>();
    h.tap = (f) => {
      if (f.type === T.DATA) {
        got.set(f.stream, (got.get(f.stream) ?? 0) + f.payload.length);
        return true;
      }
      if (f.type === T.EXIT) exits.set(f.stream, f.payload.readInt32BE(0));
      return f.type === T.EXIT || f.type === T.CLOSE;
    };
    const ids = [1, 2, 3, 4];
    for (const id of ids) {
      expect((await h.open(id, 'x', 'head -c 3000000 /dev/zero')).type).toBe(T.OPEN_OK);
      // all the credit at once: from here on only the guest's own queue can hold a stream back
      h.send(T.CREDIT, id, u32(3_000_000));
    }
    // a host that reads in bursts: the guest's queue to it fills and drains again and again
    const sock = h.sock!;
    const pacer = setInterval(() => {
      sock.pause();
      setTimeout(() => sock.resume(), 20);
    }, 40);
    try {
      await h.until(() => exits.size === ids.length, 'every exec’s EXIT', 20_000);
    } finally {
      clearInterval(pacer);
      sock.resume();
    }
    expect(ids.map((id) => [got.get(id), exits.get(id)])).toEqual(ids.map(() => [3_000_000, 0]));
  });
});

