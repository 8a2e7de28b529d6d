// The browser-test bridge (DESIGN §3): serves the built renderer (renderer/dist) to Chromium and
// gives it the same `window.berth` API as the Electron preload, backed by a Backend — in the e2e
// specs a real supervisor. Requests: POST /__berth/invoke {method, params}, checked and answered
// by the same dispatch() as electron/main/ipc.ts (validateRequest, Envelope). Events: Server-Sent
// Events on /__berth/events. Only node:http, no new dependencies. Listens on 127.0.0.1 only and
// wants a per-run token on every call, so other local pages cannot drive the VM through it.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { EVENT_NAMES } from '../../../electron/shared/contract.js';
import type { EventName } from '../../../electron/shared/contract.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { dispatch } from '../../../electron/main/dispatch.js';

export interface BridgeOptions {
  backend: Backend;
  rendererDir: string;
  port?: number;
  log?: (msg: string) => void;
}

export interface Bridge {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

export const CLIENT_SCRIPT = path.join(import.meta.dirname, 'client.js');

export function clientScript(token: string, events: readonly EventName[] = EVENT_NAMES): string {
  return fs
    .readFileSync(CLIENT_SCRIPT, 'utf8')
    .replace('__BERTH_TOKEN__', JSON.stringify(token))
    .replace('__BERTH_EVENTS__', JSON.stringify(events));
}

/** Puts the bridge script in front of the page's own scripts. */
export function injectBridge(html: string): string {
  const tag = '<script src="/__berth/bridge.js"></script>';
  const i = html.search(/<script\b/i);
  return i >= 0 ? html.slice(0, i) + tag + '\n    ' + html.slice(i) : html.replace(/<\/head>/i, `${tag}</head>`);
}

function send(res: http.ServerResponse, code: number, body: string | Buffer, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    const b = c as Buffer;
    n += b.length;
    if (n > MAX_BODY) throw new Error('request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = randomBytes(16).toString('hex');
  const log = opts.log ?? (() => undefined);
  const root = path.resolve(opts.rendererDir);
  const sse = new Set<http.ServerResponse>();
  let origin = '';

  const offs = EVENT_NAMES.map((name) =>
    opts.backend.on(name, (payload) => {
      const frame = `event: berth\ndata: ${JSON.stringify({ name, payload })}\n\n`;
      for (const res of sse) res.write(frame);
    }),
  );

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin || 'http://127.0.0.1');
      if (url.pathname === '/__berth/bridge.js') return send(res, 200, clientScript(token), MIME['.js']);

      if (url.pathname === '/__berth/events') {
        if (url.searchParams.get('token') !== token) return send(res, 403, 'bad token');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': berth\n\n');
        sse.add(res);
        req.on('close', () => sse.delete(res));
        return;
      }

      if (url.pathname === '/__berth/invoke') {
        if (req.method !== 'POST') return send(res, 405, 'POST only');
        if (req.headers['x-berth-token'] !== token) return send(res, 403, 'bad token');
        if (req.headers.origin && req.headers.origin !== origin) return send(res, 403, 'bad origin');
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return send(res, 415, 'JSON only');
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req));
        } catch (e) {
          return send(res, 200, JSON.stringify({ ok: false, error: { code: 'E_INVALID_PARAMS', message: `bad request: ${e instanceof Error ? e.message : String(e)}` } }), MIME['.json']);
        }
        const { method, params } = (typeof body === 'object' && body !== null ? body : {}) as { method?: unknown; params?: unknown };
        const envelope = await dispatch(opts.backend, method, params);
        log(`invoke ${String(method)} → ${envelope.ok ? 'ok' : envelope.error.code}`);
        return send(res, 200, JSON.stringify(envelope), MIME['.json']);
      }

      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only');
      const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
      const file = path.resolve(root, '.' + rel);
      if (file !== root && !file.startsWith(root + path.sep)) return send(res, 403, 'outside the renderer');
      let data: Buffer;
      try {
        data = await fs.promises.readFile(file);
      } catch {
        return send(res, 404, 'not found');
      }
      const ext = path.extname(file);
      if (ext === '.html') return send(res, 200, injectBridge(data.toString('utf8')), MIME['.html']);
      return send(res, 200, data, MIME[ext] ?? 'application/octet-stream');
    })().catch((e: unknown) => {
      log(`bridge error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, 500, 'internal error');
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/`,
    port,
    token,
    async close() {
      offs.forEach((off) => off());
      for (const res of sse) res.end();
      sse.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
