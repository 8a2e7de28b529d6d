// An exec stream (OPEN `x`): stdin sent within the window then EOF, stdout/stderr collected, EXIT, then the guest's CLOSE.
import { FLAG_STDERR, T, WINDOW } from './frame.js';
import type { Mux } from './mux.js';
import { sendWithin } from './stream.js';
import type { Endpoint, Wire } from './stream.js';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

class ExecEndpoint implements Endpoint {
  readonly out: Buffer[] = [];
  readonly err: Buffer[] = [];
  code: number | null = null;
  private readonly window = { left: WINDOW };
  private stdin: Buffer | null = null;
  private done = false;
  private settle!: (e: Error | null) => void;
  /** settles on the guest's CLOSE (which may come in the same chunk as OPEN_OK), a failure or kill() */
  readonly finished = new Promise<void>((resolve, reject) => {
    this.settle = (e) => (e ? reject(e) : resolve());
  });

  constructor(
    private readonly wire: Wire,
    readonly id: number,
  ) {
    // execOver awaits it only after OPEN_OK; an open that fails never gets there
    this.finished.catch(() => {});
  }

  /** After OPEN_OK: stdin, then EOF so a command reading stdin sees its end. */
  start(stdin: Buffer): void {
    this.stdin = stdin;
    this.pump();
  }

  onData(payload: Buffer, flags: number): void {
    (flags & FLAG_STDERR ? this.err : this.out).push(Buffer.from(payload));
    this.wire.credit(this.id, payload.length);
  }
  onEof(): void {}
  onExit(code: number): void {
    this.code = code;
  }
  onClose(): void {
    this.finish(null);
  }
  onCredit(bytes: number): void {
    this.window.left += bytes;
    this.pump();
  }
  onFail(err: Error): void {
    this.finish(err);
  }

  /** Timed out: CLOSE kills the process group. */
  kill(err: Error): void {
    if (this.done) return;
    this.wire.send(T.CLOSE, this.id);
    this.wire.forget(this.id);
    this.finish(err);
  }

  private pump(): void {
    if (this.stdin === null || this.done) return;
    this.stdin = sendWithin(this.wire, this.id, this.stdin, this.window);
    if (this.stdin.length > 0) return;
    this.stdin = null;
    this.wire.send(T.EOF, this.id);
  }

  private finish(e: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.settle(e);
  }
}

export async function execOver(mux: Mux, cmd: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let ep: ExecEndpoint | null = null;
  const opened = mux.open('x', cmd, (wire, id) => (ep = new ExecEndpoint(wire, id)));
  const timedOut = () => new Error(`command timed out after ${timeoutMs} ms: ${cmd}`);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ep?.kill(timedOut());
      reject(timedOut());
    }, timeoutMs);
  });
  try {
    const e = await Promise.race([opened, deadline]);
    e.start(Buffer.from(opts.stdin ?? '', 'utf8'));
    await Promise.race([e.finished, deadline]);
    return { code: e.code, stdout: Buffer.concat(e.out).toString('utf8'), stderr: Buffer.concat(e.err).toString('utf8') };
  } finally {
    clearTimeout(timer);
  }
}
