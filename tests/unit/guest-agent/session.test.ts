// berth-guestd's sessions over a real connection: the HELLO handshake, leftovers before the marker, PING, a bad
// header (RESYNC, then a new session without the old streams), and the host's side dropping the connection.
import fs from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildAgent } from './helpers/agent.js';
import { SYNC_MARKER, encodeFrame } from '../../../electron/engine/channel/frame.js';
import { Host, T } from './helpers/host.js';
import { serveUnix } from './helpers/servers.js';

beforeAll(() => void buildAgent(), 120_000);

let host: Host;
afterEach(async () => {
  expect(await host.close()).toBe(0);
});

describe('berth-guestd sessions', () => {
  it('answers marker + HELLO with the nonce, its version, the boot id and its name', async () => {
    host = await Host.start('3f1c-boot');
    expect(await host.hello()).toEqual({ version: 1, bootId: '3f1c-boot', agent: 'berth-guestd 1' });
  });

  it('says bootId "" until the boot id file exists, and reads it again at the next HELLO', async () => {
    host = await Host.start(null);
    expect((await host.hello()).bootId).toBe('');
    fs.writeFileSync(host.bootIdFile, 'later-id\n');
    expect((await host.hello()).bootId).toBe('later-id');
  });

  it('ignores everything before the marker, a split marker prefix included', async () => {
    host = await Host.start();
    const junk = Buffer.concat([Buffer.from('garbage \xb3\x27 BERTH-SYNC-v'), Buffer.from([0xb3, 0x27, 5, 0, 0, 0, 0, 1])]);
    host.write(junk);
    await new Promise((r) => setTimeout(r, 100));
    expect((await host.hello()).agent).toBe('berth-guestd 1');
    expect(host.frames.filter((f) => f.type === T.RESYNC)).toEqual([]);
  });

  it('answers PING with a PONG carrying the same bytes', async () => {
    host = await Host.start();
    await host.hello();
    host.send(T.PING, 0, 'ping-42');
    expect((await host.nextOn(0, T.PONG)).payload.toString()).toBe('ping-42');
  });

  it('sends RESYNC on bad check bytes, and a new marker + HELLO starts a session without the old streams', async () => {
    host = await Host.start();
    const served = await serveUnix(host.dir);
    await host.hello();
    expect((await host.open(1, 'u', served.path)).type).toBe(T.OPEN_OK);
    const conn = await served.next();
    const ended = new Promise<void>((r) => conn.on('end', () => r()));
    host.write(Buffer.from([0xb3, 0x28, T.DATA, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x41]));
    await host.nextOn(0, T.RESYNC);
    await ended; // the old stream's socket is closed with the session
    await host.hello();
    // stream 1's DATA goes nowhere now; an OPEN of id 1 is a new stream of the new session
    expect((await host.open(1, 'u', served.path)).type).toBe(T.OPEN_OK);
    const conn2 = await served.next();
    host.send(T.DATA, 1, 'new');
    expect((await served.read(conn2, 3)).toString()).toBe('new');
    served.close();
  });

  it('sends RESYNC on an unknown frame type and on a length over 65536', async () => {
    host = await Host.start();
    await host.hello();
    host.write(Buffer.from([0xb3, 0x27, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    await host.nextOn(0, T.RESYNC);
    await host.hello();
    host.write(Buffer.from([0xb3, 0x27, T.DATA, 0, 0, 0, 0, 1, 0, 1, 0, 1]));
    await host.nextOn(0, T.RESYNC);
    await host.hello();
  });

  it('reconnects when the host drops the connection, and the new session has none of the old streams', async () => {
    host = await Host.start();
    const served = await serveUnix(host.dir);
    await host.hello();
    expect((await host.open(7, 'u', served.path)).type).toBe(T.OPEN_OK);
    const conn = await served.next();
    const ended = new Promise<void>((r) => conn.on('end', () => r()));
    host.sock!.destroy();
    await ended;
    await host.connected(2);
    expect((await host.hello()).agent).toBe('berth-guestd 1');
    host.send(T.PING, 0, 'x');
    await host.nextOn(0, T.PONG);
    served.close();
  });

  it('reads frames split anywhere: a session written one byte at a time', async () => {
    host = await Host.start();
    const nonce = Buffer.from('12345678');
    const bytes = Buffer.concat([
      SYNC_MARKER,
      encodeFrame(T.HELLO, 0, nonce),
      encodeFrame(T.OPEN, 9, Buffer.from('xecho split')),
      encodeFrame(T.EOF, 9),
    ]);
    for (const b of bytes) {
      host.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await host.next((f) => f.type === T.HELLO && f.payload.subarray(0, 8).equals(nonce), 'HELLO');
    await host.nextOn(9, T.EXIT);
    expect(host.takeData(9).toString()).toBe('split\n');
  });
});

