// Sessions and streams over one connection to the guest (docs/guest-channel.md, Sessions): the handshake with a nonce,
// the stream table, CREDIT coalescing, PING, and the reset (bad header or RESYNC) that fails every open stream and
// starts a new session on the same connection.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { FrameDecoder, HEADER_LEN, MAX_PAYLOAD, SYNC_MARKER, T, encodeFrame, encodeHeader, u32 } from './frame.js';
import type { Frame } from './frame.js';
import type { Endpoint, Wire } from './stream.js';

export interface HelloInfo {
  version: number;
  bootId: string;
  agent: string;
}

export const PROTOCOL_VERSION = 1;
export const RESET_REASON = 'channel reset';
/** After a reset the guest has this long to answer the new HELLO before the connection is dropped. */
const RESET_HELLO_MS = 10_000;

interface Waiter<V> {
  resolve(v: V): void;
  reject(e: Error): void;
}

type State = 'hello' | 'up' | 'dead';

export class Mux extends EventEmitter<{ up: [HelloInfo]; down: [string]; dead: [string] }> {
  private readonly decoder = new FrameDecoder({
    frame: (f, afterMarker) => this.onFrame(f, afterMarker),
    bad: () => {
      if (this.state === 'up') this.reset();
    },
  });
  private state: State = 'hello';
  private nonce = randomBytes(8);
  private handshake: Promise<HelloInfo>;
  private handshakeWaiter!: Waiter<HelloInfo>;
  private resetTimer: NodeJS.Timeout | null = null;
  private readonly streams = new Map<number, Endpoint>();
  private readonly opening = new Map<number, Waiter<void>>();
  private nextId = 1;
  private readonly pings = new Map<number, Waiter<void>>();
  private nextPing = 1;
  private readonly credits = new Map<number, number>();
  private creditsScheduled = false;
  private deadReason: string | null = null;
  hello: HelloInfo | null = null;

  readonly wire: Wire = {
    send: (type, stream, payload, flags) => this.send(type, stream, payload, flags),
    credit: (stream, bytes) => this.credit(stream, bytes),
    forget: (stream) => {
      this.streams.delete(stream);
    },
  };

  constructor(private readonly sock: Duplex) {
    super();
    this.handshake = this.newHandshake();
    sock.on('data', (c: Buffer) => {
      if (this.state !== 'dead') this.decoder.push(c);
    });
    sock.on('error', (e: Error) => this.die(`guest channel: ${e.message}`));
    sock.on('end', () => this.die('guest channel closed'));
    sock.on('close', () => this.die('guest channel closed'));
    this.sendHello();
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  get isDead(): boolean {
    return this.state === 'dead';
  }

  /** The current session's handshake (already settled once up). */
  ready(): Promise<HelloInfo> {
    return this.handshake;
  }

  /** Drops the connection; no 'down' is emitted when `quiet`. */
  destroy(reason: string, quiet = false): void {
    if (quiet) this.removeAllListeners('down');
    this.die(reason);
  }

  open<E extends Endpoint>(kind: string, text: string, make: (wire: Wire, id: number) => E): Promise<E> {
    if (this.state !== 'up') return Promise.reject(new Error(this.deadReason ?? 'guest channel is not up'));
    const payload = Buffer.concat([Buffer.from(kind, 'latin1'), Buffer.from(text, 'utf8')]);
    if (payload.length > MAX_PAYLOAD) return Promise.reject(new Error(`OPEN text of ${payload.length} bytes is too long`));
    const id = this.nextId++;
    const ep = make(this.wire, id);
    this.streams.set(id, ep);
    return new Promise<E>((resolve, reject) => {
      this.opening.set(id, { resolve: () => resolve(ep), reject });
      this.send(T.OPEN, id, payload);
    });
  }

  /** Round trip in ms. */
  ping(timeoutMs: number): Promise<number> {
    if (this.state !== 'up') return Promise.reject(new Error(this.deadReason ?? 'guest channel is not up'));
    const seq = this.nextPing++ >>> 0;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(seq, 0);
    const t0 = performance.now();
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(seq);
        reject(new Error(`guest channel: no PONG within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(seq, {
        resolve: () => {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send(T.PING, 0, payload);
    });
  }

  private newHandshake(): Promise<HelloInfo> {
    const p = new Promise<HelloInfo>((resolve, reject) => {
      this.handshakeWaiter = { resolve, reject };
    });
    // a reset's handshake nobody waits on must not become an unhandled rejection
    p.catch(() => {});
    return p;
  }

  private sendHello(): void {
    if (this.state === 'dead') return;
    this.sock.write(Buffer.concat([SYNC_MARKER, encodeFrame(T.HELLO, 0, this.nonce)]));
  }

  private onFrame(f: Frame, afterMarker: boolean): void {
    if (this.state === 'hello') {
      if (afterMarker && f.type === T.HELLO && f.stream === 0 && f.payload.subarray(0, 8).equals(this.nonce)) this.gotHello(f.payload.subarray(8));
      // a previous session's leftovers, or another connection's answer
      else this.decoder.scan();
      return;
    }
    if (this.state !== 'up') return;
    const id = f.stream;
    switch (f.type) {
      case T.OPEN_OK:
        this.settleOpen(id, null);
        return;
      case T.OPEN_FAIL:
        this.streams.delete(id);
        this.settleOpen(id, new Error(f.payload.toString('utf8') || 'the guest refused to open the stream'));
        return;
      case T.DATA:
        this.streams.get(id)?.onData(f.payload, f.flags);
        return;
      case T.EOF:
        this.streams.get(id)?.onEof();
        return;
      case T.CLOSE: {
        const ep = this.streams.get(id);
        this.streams.delete(id);
        this.settleOpen(id, new Error('the guest closed the stream before opening it'));
        ep?.onClose();
        return;
      }
      case T.CREDIT:
        if (f.payload.length >= 4) this.streams.get(id)?.onCredit(f.payload.readUInt32BE(0));
        return;
      case T.EXIT:
        if (f.payload.length >= 4) this.streams.get(id)?.onExit(f.payload.readInt32BE(0));
        return;
      case T.PONG: {
        if (f.payload.length < 4) return;
        const seq = f.payload.readUInt32BE(0);
        const w = this.pings.get(seq);
        this.pings.delete(seq);
        w?.resolve();
        return;
      }
      case T.RESYNC:
        this.reset();
        return;
      default:
      // HELLO, OPEN, PING: never sent by the guest once a session is up
    }
  }

  private gotHello(json: Buffer): void {
    let info: HelloInfo;
    try {
      const v = JSON.parse(json.toString('utf8')) as Partial<HelloInfo>;
      info = { version: Number(v.version), bootId: String(v.bootId ?? ''), agent: String(v.agent ?? '') };
    } catch {
      this.handshakeWaiter.reject(new Error('guest channel: the guest HELLO is not JSON'));
      this.die('guest channel: bad HELLO');
      return;
    }
    if (info.version !== PROTOCOL_VERSION) {
      this.handshakeWaiter.reject(new Error(`guest channel: the guest speaks version ${info.version}, the host ${PROTOCOL_VERSION}`));
      this.die('guest channel: version mismatch');
      return;
    }
    if (this.resetTimer) clearTimeout(this.resetTimer);
    this.resetTimer = null;
    this.state = 'up';
    this.hello = info;
    this.handshakeWaiter.resolve(info);
    this.emit('up', info);
  }

  private settleOpen(id: number, err: Error | null): void {
    const w = this.opening.get(id);
    if (!w) return;
    this.opening.delete(id);
    if (err) w.reject(err);
    else w.resolve();
  }

  private failAll(reason: string): void {
    // a stream still opening is only its open() promise to the caller: it rejects, nothing else
    const streams = [...this.streams].filter(([id]) => !this.opening.has(id)).map(([, ep]) => ep);
    const opening = [...this.opening.values()];
    const pings = [...this.pings.values()];
    this.streams.clear();
    this.opening.clear();
    this.pings.clear();
    this.credits.clear();
    for (const w of opening) w.reject(new Error(reason));
    for (const w of pings) w.reject(new Error(reason));
    for (const ep of streams) ep.onFail(new Error(reason));
  }

  /** Lost our place in the guest's bytes (or the guest in ours): same connection, new session. */
  private reset(): void {
    this.state = 'hello';
    this.hello = null;
    this.decoder.scan();
    this.nonce = randomBytes(8);
    this.handshake = this.newHandshake();
    this.failAll(RESET_REASON);
    this.emit('down', RESET_REASON);
    this.resetTimer = setTimeout(() => this.die('guest channel: no HELLO after a reset'), RESET_HELLO_MS);
    this.resetTimer.unref?.();
    this.sendHello();
  }

  private die(reason: string): void {
    if (this.state === 'dead') return;
    const wasUp = this.state === 'up';
    this.state = 'dead';
    this.deadReason = reason;
    this.hello = null;
    if (this.resetTimer) clearTimeout(this.resetTimer);
    this.resetTimer = null;
    this.handshakeWaiter.reject(new Error(reason));
    this.failAll(reason);
    this.sock.destroy();
    if (wasUp) this.emit('down', reason);
    this.emit('dead', reason);
  }

  private send(type: number, stream: number, payload?: Buffer, flags = 0): void {
    if (this.state === 'dead' || this.sock.destroyed) return;
    if (!payload || payload.length === 0) {
      this.sock.write(encodeHeader(type, stream, 0, flags));
      return;
    }
    if (payload.length < 4096 - HEADER_LEN) {
      this.sock.write(encodeFrame(type, stream, payload, flags));
      return;
    }
    // large payloads go out without a copy: header and payload in one writev
    this.sock.cork();
    this.sock.write(encodeHeader(type, stream, payload.length, flags));
    this.sock.write(payload);
    this.sock.uncork();
  }

  private credit(stream: number, bytes: number): void {
    if (bytes <= 0 || !this.streams.has(stream)) return;
    this.credits.set(stream, (this.credits.get(stream) ?? 0) + bytes);
    if (this.creditsScheduled) return;
    this.creditsScheduled = true;
    // after this loop iteration's reads: one CREDIT for all the chunks it brought
    setImmediate(() => {
      this.creditsScheduled = false;
      for (const [id, n] of this.credits) if (this.streams.has(id)) this.send(T.CREDIT, id, u32(n));
      this.credits.clear();
    });
  }
}
