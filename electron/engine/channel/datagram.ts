// A UDP stream (OPEN `d`): each DATA is one datagram. A datagram that does not fit the window is dropped, not queued,
// as UDP would drop it.
import { EventEmitter } from 'node:events';
import { T, WINDOW } from './frame.js';
import type { Endpoint, Wire } from './stream.js';

export interface DatagramPort {
  send(b: Buffer): void;
  on(e: 'message', f: (b: Buffer) => void): this;
  on(e: 'close', f: () => void): this;
  close(): void;
}

export class ChannelDatagram extends EventEmitter<{ message: [Buffer]; close: [] }> implements Endpoint, DatagramPort {
  private window = WINDOW;
  private gone = false;

  constructor(
    private readonly wire: Wire,
    readonly id: number,
  ) {
    super();
  }

  send(b: Buffer): void {
    if (this.gone || b.length > this.window || b.length > 65536) return;
    this.window -= b.length;
    this.wire.send(T.DATA, this.id, b);
  }

  close(): void {
    if (this.gone) return;
    this.wire.send(T.CLOSE, this.id);
    this.wire.forget(this.id);
    this.ended();
  }

  onData(payload: Buffer): void {
    if (this.gone) return;
    this.wire.credit(this.id, payload.length);
    this.emit('message', Buffer.from(payload));
  }
  onEof(): void {}
  onExit(): void {}
  onCredit(bytes: number): void {
    this.window += bytes;
  }
  onClose(): void {
    this.wire.forget(this.id);
    this.ended();
  }
  onFail(): void {
    this.ended();
  }

  private ended(): void {
    if (this.gone) return;
    this.gone = true;
    this.emit('close');
  }
}
