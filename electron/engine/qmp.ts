// QMP client: greeting, capabilities negotiation, id-matched replies, events, per-command
// timeouts, and every pending command rejected when the socket closes.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { BerthFailure } from './errors.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  command: string;
}

export class QmpError extends BerthFailure {
  constructor(
    readonly qmpClass: string,
    message: string,
  ) {
    super('E_QEMU', `QMP: ${message}`);
  }
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buf = '';
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private closed = false;
  greeting: unknown;
  private onGreeting: (() => void) | undefined;

  private constructor(private readonly sock: net.Socket) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => this.onClose());
    sock.on('error', () => this.onClose());
  }

  /** Connect, read the greeting and negotiate capabilities. */
  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const sock = net.createConnection(path);
    const client = new QmpClient(sock);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        sock.destroy();
        reject(new BerthFailure('E_QEMU', `QMP: no greeting from ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      client.onGreeting = () => {
        clearTimeout(t);
        resolve();
      };
      sock.once('error', (e) => {
        clearTimeout(t);
        reject(new BerthFailure('E_QEMU', `QMP: cannot connect to ${path}: ${e.message}`));
      });
    });
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.greeting = msg.QMP;
      this.onGreeting?.();
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = msg.id === undefined ? undefined : String(msg.id);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p) return;
    this.pending.delete(id!);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const err = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(err.class ?? 'GenericError', `${p.command}: ${err.desc ?? 'error'}`));
    } else {
      p.resolve(msg.return);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new BerthFailure('E_QEMU', `QMP: connection closed before ${p.command} answered`));
      this.pending.delete(id);
    }
    this.emit('close');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new BerthFailure('E_QEMU', `QMP: connection closed, cannot run ${command}`));
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new BerthFailure('E_TIMEOUT', `QMP: ${command} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, command });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** HMP through QMP. Note: HMP errors come back as successful replies with text (e.g. hostfwd_add). */
  hmp(commandLine: string, timeoutMs = 5000): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  }

  close(): void {
    this.sock.destroy();
    this.onClose();
  }
}
