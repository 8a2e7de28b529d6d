// One channel stream as a Node Duplex with the channel's flow control (docs/guest-channel.md, Flow control) mapped
// onto Node's own backpressure: a consumer that stops reading stops the CREDITs, so the guest stops sending.
import { Duplex } from 'node:stream';
import { MAX_PAYLOAD, T, WINDOW } from './frame.js';

/** What a stream endpoint may ask of its session. */
export interface Wire {
  send(type: number, stream: number, payload?: Buffer, flags?: number): void;
  /** Coalesced: one CREDIT per stream per event-loop iteration. */
  credit(stream: number, bytes: number): void;
  /** The stream is finished; later frames for its id are dropped. */
  forget(stream: number): void;
}

/** The session hands each frame of a stream to its endpoint. */
export interface Endpoint {
  onData(payload: Buffer, flags: number): void;
  onEof(): void;
  onExit(code: number): void;
  /** The guest sent CLOSE. */
  onClose(): void;
  onCredit(bytes: number): void;
  /** The session ended under the stream. */
  onFail(err: Error): void;
}

/** Sends `buf` as DATA frames as far as the window allows; returns what is left for the next CREDIT. */
export function sendWithin(wire: Wire, id: number, buf: Buffer, window: { left: number }): Buffer {
  while (buf.length > 0 && window.left > 0) {
    const n = Math.min(buf.length, window.left, MAX_PAYLOAD);
    wire.send(T.DATA, id, buf.subarray(0, n));
    window.left -= n;
    buf = buf.subarray(n);
  }
  return buf;
}

export class ChannelStream extends Duplex implements Endpoint {
  private readonly window = { left: WINDOW };
  private pending: { buf: Buffer; cb: (e?: Error | null) => void } | null = null;
  /** received while the consumer was behind: credited at the next _read */
  private held = 0;
  private blocked = false;
  private sentEof = false;
  private gotEof = false;
  /** finished (CLOSE either way, both EOFs, or the session ended): nothing more goes on the wire */
  private gone = false;

  constructor(
    private readonly wire: Wire,
    readonly id: number,
  ) {
    super({ allowHalfOpen: true });
  }

  onData(payload: Buffer): void {
    if (this.gotEof || this.destroyed) return;
    const ok = this.push(payload);
    if (ok && !this.blocked) {
      this.wire.credit(this.id, payload.length);
    } else {
      this.blocked = true;
      this.held += payload.length;
    }
  }

  onEof(): void {
    if (this.gotEof) return;
    this.gotEof = true;
    this.push(null);
    this.maybeFinished();
  }

  onExit(): void {}

  onClose(): void {
    this.finish(false);
    this.releasePending();
    if (!this.gotEof) {
      this.gotEof = true;
      this.push(null);
    }
    // what was already received is still delivered; the stream goes once it has been read
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  onCredit(bytes: number): void {
    this.window.left += bytes;
    this.pump();
  }

  onFail(err: Error): void {
    this.gone = true;
    this.pending = null;
    this.destroy(err);
  }

  override _read(): void {
    if (!this.blocked) return;
    this.blocked = false;
    if (this.held > 0 && !this.gone) this.wire.credit(this.id, this.held);
    this.held = 0;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    // the guest dropped the stream: like writing into a closed pipe's buffer, the bytes go nowhere
    if (this.gone) return cb();
    this.pending = { buf: chunk, cb };
    this.pump();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.gone) {
      this.wire.send(T.EOF, this.id);
      this.sentEof = true;
      this.maybeFinished();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.finish(true);
    this.pending = null;
    cb(err);
  }

  private pump(): void {
    const p = this.pending;
    if (!p || this.gone) return;
    p.buf = sendWithin(this.wire, this.id, p.buf, this.window);
    if (p.buf.length === 0) {
      this.pending = null;
      p.cb();
    }
  }

  private releasePending(): void {
    const p = this.pending;
    this.pending = null;
    p?.cb();
  }

  private maybeFinished(): void {
    if (this.sentEof && this.gotEof) this.finish(false);
  }

  private finish(sendClose: boolean): void {
    if (this.gone) return;
    this.gone = true;
    if (sendClose) this.wire.send(T.CLOSE, this.id);
    this.wire.forget(this.id);
  }
}
