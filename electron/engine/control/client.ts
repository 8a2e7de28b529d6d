// A Backend reached over the control socket (the CLI, a second app instance, the test bridge).
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { EventName, Events, Envelope, Method, Params, Result } from '../../shared/contract.js';
import type { Backend } from '../backend.js';
import { SUBSCRIBE } from './protocol.js';

export class ControlClient implements Backend {
  private buf = '';
  private nextId = 1;
  private pending = new Map<number, (r: Envelope<unknown>) => void>();
  private readonly bus = new EventEmitter();
  private subscribed: Promise<unknown> | null = null;
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => this.onClose());
    sock.on('error', () => this.onClose());
  }

  static connect(path: string, timeoutMs = 2000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(path);
      const t = setTimeout(() => {
        sock.destroy();
        reject(new Error(`control socket ${path} did not answer`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(t);
        resolve(new ControlClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: { id?: number; method?: string; params?: { name: EventName; payload: unknown }; result?: Envelope<unknown> };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      if (msg.method === 'event' && msg.params) {
        this.bus.emit(msg.params.name, msg.params.payload);
      } else if (typeof msg.id === 'number' && msg.result) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.(msg.result);
      }
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) p({ ok: false, error: { code: 'E_DISCONNECTED', message: 'the supervisor closed the connection', hint: 'Run `berth status`; the supervisor may have exited.' } });
    this.pending.clear();
    this.bus.emit('disconnect');
  }

  private request(method: string, params: unknown): Promise<Envelope<unknown>> {
    if (this.closed) return Promise.resolve({ ok: false, error: { code: 'E_DISCONNECTED', message: 'not connected to the supervisor' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.sock.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
    return this.request(method, params) as Promise<Envelope<Result<M>>>;
  }

  /** Resolves once the supervisor streams events to this client. */
  subscribe(): Promise<unknown> {
    this.subscribed ??= this.request(SUBSCRIBE, {});
    return this.subscribed;
  }

  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    void this.subscribe();
    this.bus.on(event, listener);
    return () => this.bus.off(event, listener);
  }

  onDisconnect(fn: () => void): void {
    this.bus.once('disconnect', fn);
  }

  async close(): Promise<void> {
    this.sock.end();
    this.sock.destroy();
    this.onClose();
  }
}
