// A scripted guest for the channel tests: serves a unix socket the way QEMU's chardev does, answers the host's
// marker + HELLO, and lets each test play the guest's side frame by frame. It keeps its own account of the host's
// DATA bytes against the CREDITs it granted, so a test can check that the host never overran a window.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FrameDecoder, SYNC_MARKER, T, WINDOW, encodeFrame, u32 } from '../../../../electron/engine/channel/frame.js';
import type { Frame } from '../../../../electron/engine/channel/frame.js';

export const HELLO_JSON = { version: 1, bootId: 'boot-1', agent: 'berth-guestd 1' };

export class ScriptedPeer {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chan-'));
  readonly path = path.join(this.dir, 'guest.sock');
  private readonly server = net.createServer((s) => this.accept(s));
  sock: net.Socket | null = null;
  readonly frames: Frame[] = [];
  /** nonces of every host HELLO, in order */
  readonly nonces: Buffer[] = [];
  /** answer a host HELLO (set false to play a guest that never answers) */
  answerHello = true;
  /** bytes sent before the answering marker, as a previous session's leftovers would be */
  junkBeforeHello: Buffer = Buffer.alloc(0);
  /** per stream: the host's DATA bytes not yet credited by us, and the most there ever were */
  readonly unacked = new Map<number, number>();
  maxUnacked = 0;
  /** per stream: CREDIT bytes the host granted us */
  readonly creditsFromHost = new Map<number, number>();
  onOpen: (id: number, kind: string, text: string) => void = (id) => this.send(T.OPEN_OK, id);
  onFrame: (f: Frame) => void = () => {};
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private connWaiters: (() => void)[] = [];

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(this.path, r));
    return this;
  }

  private accept(s: net.Socket): void {
    this.sock?.destroy();
    this.sock = s;
    s.on('error', () => {});
    const dec = new FrameDecoder({
      frame: (f, afterMarker) => {
        const copy = { ...f, payload: Buffer.from(f.payload) };
        if (afterMarker && f.type === T.HELLO) {
          this.nonces.push(copy.payload);
          if (this.answerHello) this.raw(Buffer.concat([this.junkBeforeHello, SYNC_MARKER, this.helloFrame(copy.payload)]));
          return;
        }
        this.frames.push(copy);
        if (f.type === T.DATA) {
          const n = (this.unacked.get(f.stream) ?? 0) + f.payload.length;
          this.unacked.set(f.stream, n);
          this.maxUnacked = Math.max(this.maxUnacked, n);
        }
        if (f.type === T.CREDIT) this.creditsFromHost.set(f.stream, (this.creditsFromHost.get(f.stream) ?? 0) + f.payload.readUInt32BE(0));
        if (f.type === T.OPEN) this.onOpen(f.stream, String.fromCharCode(f.payload[0]!), f.payload.subarray(1).toString('utf8'));
        if (f.type === T.PING) this.send(T.PONG, 0, copy.payload);
        this.onFrame(copy);
        this.waiters = this.waiters.filter((w) => (w.pred(copy) ? (w.resolve(copy), false) : true));
      },
      bad: () => {},
    });
    s.on('data', (c: Buffer) => dec.push(c));
    for (const w of this.connWaiters.splice(0)) w();
  }

  helloFrame(nonce: Buffer, json: object = HELLO_JSON): Buffer {
    return encodeFrame(T.HELLO, 0, Buffer.concat([nonce, Buffer.from(JSON.stringify(json))]));
  }

  connected(): Promise<void> {
    return this.sock ? Promise.resolve() : new Promise((r) => this.connWaiters.push(r));
  }

  send(type: number, id: number, payload?: Buffer, flags = 0): void {
    this.raw(encodeFrame(type, id, payload, flags));
  }

  raw(b: Buffer): void {
    this.sock?.write(b);
  }

  /** Credit the host for `n` of its DATA bytes on stream id. */
  credit(id: number, n: number): void {
    this.unacked.set(id, (this.unacked.get(id) ?? 0) - n);
    this.send(T.CREDIT, id, u32(n));
  }

  /** Send `data` as DATA on id, never more than the window ahead of the host's CREDITs. */
  async sendWithinWindow(id: number, data: Buffer): Promise<void> {
    let sent = 0;
    while (sent < data.length) {
      const credited = this.creditsFromHost.get(id) ?? 0;
      const room = WINDOW - (sent - credited);
      if (room <= 0) {
        await this.next((f) => f.type === T.CREDIT && f.stream === id, { fresh: true, timeoutMs: 30_000 });
        continue;
      }
      const n = Math.min(room, 65536, data.length - sent);
      this.send(T.DATA, id, data.subarray(sent, sent + n));
      sent += n;
    }
  }

  received(id: number): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.type === T.DATA && f.stream === id).map((f) => f.payload));
  }

  /** The first frame matching pred, already received or (fresh) still to come. */
  next(pred: (f: Frame) => boolean, opts: { timeoutMs?: number; fresh?: boolean } = {}): Promise<Frame> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const seen = opts.fresh ? undefined : this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('scripted peer: the expected frame never came')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
      });
    });
  }

  async close(): Promise<void> {
    this.sock?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));
