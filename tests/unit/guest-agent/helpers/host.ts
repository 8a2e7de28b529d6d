// The host's end for the agent tests: a unix socket server the agent connects to (as the host agent reaches QEMU's
// chardev), the host-side frame codec (electron/engine/channel/frame.ts), and waiting for frames.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { FrameDecoder, SYNC_MARKER, T, encodeFrame, u32 } from '../../../../electron/engine/channel/frame.js';
import type { Frame } from '../../../../electron/engine/channel/frame.js';
import { startAgent } from './agent.js';
import type { Agent } from './agent.js';

export { T, u32 };
export interface Got extends Frame {
  afterMarker: boolean;
}

export class Host {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guestd-'));
  readonly path = path.join(this.dir, 'guest.sock');
  readonly bootIdFile = path.join(this.dir, 'boot-id');
  private readonly server = net.createServer((s) => this.accept(s));
  sock: net.Socket | null = null;
  connections = 0;
  /** frames not yet taken by a test, in arrival order */
  readonly frames: Got[] = [];
  /** headers the host's decoder refused */
  readonly bad: string[] = [];
  /** sees every frame first; returning true consumes it (for transfers too big to queue) */
  tap: (f: Got) => boolean = () => false;
  agent!: Agent;
  private waiters: (() => void)[] = [];

  static async start(bootId: string | null = 'boot-test-1'): Promise<Host> {
    const h = new Host();
    if (bootId !== null) fs.writeFileSync(h.bootIdFile, `${bootId}\n`);
    await new Promise<void>((r) => h.server.listen(h.path, r));
    h.agent = startAgent(h.path, h.bootIdFile);
    await h.connected(1);
    return h;
  }

  private accept(s: net.Socket): void {
    this.sock?.destroy();
    this.sock = s;
    this.connections++;
    this.frames.length = 0;
    const dec = new FrameDecoder({
      frame: (f, afterMarker) => {
        const g = { ...f, payload: Buffer.from(f.payload), afterMarker };
        if (!this.tap(g)) this.frames.push(g);
        this.wake();
      },
      bad: (reason) => {
        this.bad.push(reason);
        this.wake();
      },
    });
    s.on('data', (d) => dec.push(d));
    s.on('error', () => {});
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when cond() holds, checked after every frame or connection. */
  async until<R>(cond: () => R | undefined | false, what: string, ms = 10000): Promise<R> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = cond();
      if (r) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; agent log:\n${this.agent.log()}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  async connected(n: number): Promise<void> {
    await this.until(() => this.connections >= n, `agent connection #${n}`);
  }

  /** The first queued frame matching pred, removed from the queue. */
  async next(pred: (f: Got) => boolean, what: string, ms?: number): Promise<Got> {
    return this.until(() => {
      const i = this.frames.findIndex(pred);
      return i >= 0 ? this.frames.splice(i, 1)[0] : undefined;
    }, what, ms);
  }

  async nextOn(stream: number, type: number, ms?: number): Promise<Got> {
    return this.next((f) => f.stream === stream && f.type === type, `frame type ${type} on stream ${stream}`, ms);
  }

  write(b: Buffer): void {
    this.sock!.write(b);
  }

  send(type: number, stream: number, payload: Buffer | string = Buffer.alloc(0), flags = 0): void {
    this.write(encodeFrame(type, stream, typeof payload === 'string' ? Buffer.from(payload) : payload, flags));
  }

  /** marker + HELLO, then the guest's answering HELLO (right after its marker, with our nonce) */
  async hello(before: Buffer = Buffer.alloc(0)): Promise<{ version: number; bootId: string; agent: string }> {
    const nonce = crypto.randomBytes(8);
    this.write(Buffer.concat([before, SYNC_MARKER, encodeFrame(T.HELLO, 0, nonce)]));
    const f = await this.next(
      (g) => g.type === T.HELLO && g.afterMarker && g.payload.subarray(0, 8).equals(nonce),
      'the guest HELLO with our nonce',
    );
    return JSON.parse(f.payload.subarray(8).toString()) as { version: number; bootId: string; agent: string };
  }

  async open(stream: number, kind: string, text = ''): Promise<Got> {
    this.send(T.OPEN, stream, Buffer.concat([Buffer.from(kind), Buffer.from(text)]));
    return this.next((f) => f.stream === stream && (f.type === T.OPEN_OK || f.type === T.OPEN_FAIL), `OPEN ${stream} answer`);
  }

  /** DATA payloads of a stream queued so far, joined (stderr-flagged ones only when stderr) */
  takeData(stream: number, stderr = false): Buffer {
    const out: Buffer[] = [];
    for (let i = 0; i < this.frames.length; ) {
      const f = this.frames[i]!;
      if (f.stream === stream && f.type === T.DATA && (f.flags & 1) === (stderr ? 1 : 0)) {
        out.push(f.payload);
        this.frames.splice(i, 1);
      } else i++;
    }
    return Buffer.concat(out);
  }

  async close(): Promise<number | null> {
    const code = await this.agent.stop();
    this.sock?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}

/**
 * One session per test: the returned function starts an agent and says HELLO; after each test the
 * session ends and the agent must have exited cleanly (status 0).
 */
export function sessionPerTest(): () => Promise<Host> {
  let host: Host;
  afterEach(async () => {
    expect(await host.close()).toBe(0);
  });
  return async () => {
    host = await Host.start();
    await host.hello();
    return host;
  };
}
