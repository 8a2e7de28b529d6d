// The listener watch (OPEN `l`): a line of the guest's listeners at once and on every change; a DATA from the host asks
// for a fresh line.
import { T } from './frame.js';
import type { Endpoint, Wire } from './stream.js';

export interface ListenerWatch {
  refresh(): void;
  close(): void;
}

export class ChannelListenerWatch implements Endpoint, ListenerWatch {
  private partial = '';
  private gone = false;

  constructor(
    private readonly wire: Wire,
    readonly id: number,
    private readonly onLine: (line: string) => void,
  ) {}

  refresh(): void {
    // one byte: the host never has a window's worth of these in flight
    if (!this.gone) this.wire.send(T.DATA, this.id, Buffer.from('\n'));
  }

  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.wire.send(T.CLOSE, this.id);
    this.wire.forget(this.id);
  }

  onData(payload: Buffer): void {
    if (this.gone) return;
    this.wire.credit(this.id, payload.length);
    const lines = (this.partial + payload.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
  }
  onEof(): void {}
  onExit(): void {}
  onCredit(): void {}
  onClose(): void {
    this.gone = true;
  }
  onFail(): void {
    this.gone = true;
  }
}
