// One Docker Engine API client over a unix socket (the instance's forwarded docker.sock): JSON
// requests, long-lived streams (logs, events) and hijacked connections (exec). Only node:http:
// a call takes milliseconds, where the guest's own `docker` CLI takes ~0.6 s under TCG.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { BerthFailure } from '../errors.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  timeoutMs?: number;
}

/** Docker answered with an HTTP error: its status and its own message. */
export class DockerApiError extends BerthFailure {
  constructor(
    readonly status: number,
    message: string,
    hint?: string,
  ) {
    super('E_DOCKER', message, hint);
    this.name = 'DockerApiError';
  }
}

export function buildPath(path: string, query?: Query): string {
  const q = Object.entries(query ?? {}).filter(([, v]) => v !== undefined);
  if (!q.length) return path;
  return `${path}?${q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

/** An id or name as one path segment: contract validation already refused anything odd. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

function messageOf(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: unknown };
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 500);
}

export class DockerApi {
  constructor(
    readonly socketPath: string,
    private readonly defaultTimeoutMs = 15_000,
  ) {}

  private notAnswering(e: NodeJS.ErrnoException | Error): BerthFailure {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'its socket does not exist' : code === 'ECONNREFUSED' ? 'nothing listens on its socket' : e.message;
    return new BerthFailure('E_DOCKER', `Docker is not answering (${why})`, `Check that Docker is running (berth status); the socket is ${this.socketPath}.`);
  }

  private open(method: string, path: string, opts: CallOptions, headers: Record<string, string> = {}): http.ClientRequest {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = http.request({
      socketPath: this.socketPath,
      method,
      path: buildPath(path, opts.query),
      headers: { host: 'docker', ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
    });
    if (body !== undefined) req.write(body);
    return req;
  }

  /** One request whose answer is read whole: parsed JSON, or null for an empty body. */
  async call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const req = this.open(method, path, opts);
      const timer = setTimeout(() => req.destroy(new BerthFailure('E_TIMEOUT', `Docker did not answer ${method} ${path} within ${Math.round(timeoutMs / 1000)} s`, 'The VM may be overloaded; try again.')), timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(this.notAnswering(e));
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 400) return reject(new DockerApiError(status, messageOf(text) || `HTTP ${status}`));
          if (!text.trim()) return resolve(null as T);
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            resolve(text as T);
          }
        });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e instanceof BerthFailure ? e : this.notAnswering(e));
      });
      req.end();
    });
  }

  /**
   * A response read as it arrives (logs with follow, /events). Resolves once the headers are in;
   * an HTTP error is read whole and thrown. `abort()` ends it.
   */
  async stream(method: string, path: string, opts: CallOptions = {}): Promise<{ res: http.IncomingMessage; abort: () => void }> {
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, opts);
      const timer = setTimeout(() => req.destroy(new BerthFailure('E_TIMEOUT', `Docker did not answer ${method} ${path}`)), opts.timeoutMs ?? this.defaultTimeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => reject(new DockerApiError(status, messageOf(text) || `HTTP ${status}`)));
          return;
        }
        resolve({ res, abort: () => req.destroy() });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e instanceof BerthFailure ? e : this.notAnswering(e));
      });
      req.end();
    });
  }

  /**
   * A request whose connection Docker takes over as a raw byte stream (exec start, attach):
   * asked with `Upgrade: tcp`, answered `101 UPGRADED`. Bytes already read past the headers are
   * handed back in `head`.
   */
  async hijack(path: string, body: unknown, timeoutMs = this.defaultTimeoutMs): Promise<{ socket: Duplex; head: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = this.open('POST', path, { body }, { connection: 'Upgrade', upgrade: 'tcp' });
      const timer = setTimeout(() => req.destroy(new BerthFailure('E_TIMEOUT', `Docker did not answer POST ${path}`)), timeoutMs);
      req.on('upgrade', (_res, socket, head) => {
        clearTimeout(timer);
        resolve({ socket, head });
      });
      req.on('response', (res) => {
        // a daemon that does not upgrade answers a plain response: an error, or a non-tty stream
        clearTimeout(timer);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => reject(new DockerApiError(res.statusCode ?? 0, messageOf(text) || `HTTP ${res.statusCode} without an upgrade`)));
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e instanceof BerthFailure ? e : this.notAnswering(e));
      });
      req.end();
    });
  }
}

/**
 * Splits Docker's multiplexed stdout/stderr stream (8-byte headers: stream, 0, 0, 0, size as
 * big-endian uint32) into payloads. Feed it chunks; it keeps partial frames between calls.
 */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      out.push(this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }
}

/** Cuts a byte stream into lines (without the newline); the last partial line waits for more. */
export class LineSplitter {
  private rest = '';

  push(text: string): string[] {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  flush(): string[] {
    const r = this.rest;
    this.rest = '';
    return r ? [r] : [];
  }
}
