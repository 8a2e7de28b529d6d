// The browser-test bridge (the contract's third transport): serves the built renderer (renderer/dist) to Chromium and
// gives it the same `window.berth` API as the Electron preload, backed by a Backend — in the e2e
// specs a real supervisor. Requests: POST /__berth/invoke {method, params}, checked and answered
// by the same dispatch() as electron/main/ipc.ts (validateRequest, Envelope). Events: Server-Sent
// Events on /__berth/events. Only node:http, no new dependencies.
//
// For tests and development only: it drives a real VM from a web page, so it listens on 127.0.0.1
// only, answers only requests addressed to 127.0.0.1/localhost at its port (a DNS-rebound name
// is refused) from no other origin, and wants a per-run token on every call. The token is never
// served: the test driver hands it to the browser with an init script (authorize()), and
// `npm run dev:web` prints an address that carries it in the fragment, which browsers do not send.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
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

/** A Playwright Page or BrowserContext: what the driver gives the token to. */
export interface InitScriptTarget {
  addInitScript(script: { content: string }): Promise<unknown>;
}

export interface Bridge {
  url: string;
  port: number;
  token: string;
  /** Lets pages opened from `target` (a Playwright page or context) call the bridge. Before goto. */
  authorize(target: InitScriptTarget): Promise<void>;
  /** For a person: `url` + page with the token in the fragment (read by the page, never sent), after `hash` if given. */
  devUrl(page?: string, hash?: string): string;
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

/** The page's `window.berth`. It carries no secret: anyone may fetch it. */
export function clientScript(events: readonly EventName[] = EVENT_NAMES): string {
  return fs.readFileSync(CLIENT_SCRIPT, 'utf8').replace('__BERTH_EVENTS__', JSON.stringify(events));
}

/** Where client.js finds the token the driver injected (deleted from window once read). */
export const TOKEN_GLOBAL = '__berthBridgeToken';

export function tokenInitScript(token: string): string {
  return `Object.defineProperty(window, ${JSON.stringify(TOKEN_GLOBAL)}, { value: ${JSON.stringify(token)}, configurable: true });`;
}

function sameSecret(given: unknown, token: string): boolean {
  if (typeof given !== 'string' || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(token));
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
  // filled in once the port is known (before the first request can arrive)
  let hosts = new Set<string>();
  let origins = new Set<string>();

  const offs = EVENT_NAMES.map((name) =>
    opts.backend.on(name, (payload) => {
      const frame = `event: berth\ndata: ${JSON.stringify({ name, payload })}\n\n`;
      for (const res of sse) res.write(frame);
    }),
  );

  const server = http.createServer((req, res) => {
    void (async () => {
      // Every route: a page on another origin, or one reached through a name that resolves to
      // 127.0.0.1 (DNS rebinding), is refused before anything else.
      if (!hosts.has(String(req.headers.host ?? '').toLowerCase())) return send(res, 403, 'bad host');
      if (req.headers.origin !== undefined && !origins.has(req.headers.origin)) return send(res, 403, 'bad origin');
      const url = new URL(req.url ?? '/', origin || 'http://127.0.0.1');
      if (url.pathname === '/__berth/bridge.js') return send(res, 200, clientScript(), MIME['.js']);

      if (url.pathname === '/__berth/events') {
        if (!sameSecret(url.searchParams.get('token'), token)) return send(res, 401, 'bad token');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': berth\n\n');
        sse.add(res);
        req.on('close', () => sse.delete(res));
        return;
      }

      if (url.pathname === '/__berth/invoke') {
        if (req.method !== 'POST') return send(res, 405, 'POST only');
        if (!sameSecret(req.headers['x-berth-token'], token)) return send(res, 401, 'bad token');
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
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  origins = new Set([origin, `http://localhost:${port}`]);
  const initScript = tokenInitScript(token);

  return {
    url: `${origin}/`,
    port,
    token,
    async authorize(target) {
      await target.addInitScript({ content: initScript });
    },
    devUrl(page = '', hash = '') {
      return `${origin}/${page}#${hash ? `${hash}&` : ''}berth-token=${token}`;
    },
    async close() {
      offs.forEach((off) => off());
      for (const res of sse) res.end();
      sse.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
