// The browser-test bridge as a plain HTTP server: validation like ipc.ts, token, Host and Origin
// checks (no DNS rebinding), static files, SSE.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientScript, injectBridge, startBridge, tokenInitScript } from '../../e2e/bridge/server.js';
import type { Bridge } from '../../e2e/bridge/server.js';
import { EVENT_NAMES } from '../../../electron/shared/contract.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus } from '../../fixtures/status.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bridge-'));
fs.writeFileSync(path.join(dir, 'index.html'), '<html><head><script type="module" src="./assets/a.js"></script></head><body></body></html>');
fs.mkdirSync(path.join(dir, 'assets'));
fs.writeFileSync(path.join(dir, 'assets', 'a.js'), 'console.log(1)');
fs.writeFileSync(path.join(os.tmpdir(), 'berth-bridge-secret.txt'), 'secret');

let backend: FakeBackend;
let bridge: Bridge;

beforeAll(async () => {
  backend = new FakeBackend();
  bridge = await startBridge({ backend, rendererDir: dir });
});
afterAll(async () => {
  await bridge.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(path.join(os.tmpdir(), 'berth-bridge-secret.txt'), { force: true });
});

const invoke = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${bridge.url}__berth/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-berth-token': bridge.token, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Runs client.js (after the driver's init script, if any) in a stand-in browser page. */
function runClient(opts: { init?: string; hash?: string; storage?: Map<string, string> }) {
  let onBerth: ((m: { data: string }) => void) | null = null;
  const storage = opts.storage ?? new Map<string, string>();
  const page = {
    eventSourceUrl: null as string | null,
    replacedWith: null as string | null,
    fetched: [] as { url: string; headers: Record<string, string> }[],
    storage,
    window: {} as Record<string, unknown>,
    api: null as unknown as { invoke: (m: string, p: unknown) => Promise<unknown>; on: (e: string, l: (p: unknown) => void) => () => void },
    emit: (msg: unknown) => onBerth!({ data: JSON.stringify(msg) }),
  };
  const sandbox: Record<string, unknown> = {
    EventSource: class {
      constructor(url: string) {
        page.eventSourceUrl = url;
      }
      addEventListener(name: string, fn: (m: { data: string }) => void) {
        if (name === 'berth') onBerth = fn;
      }
    },
    fetch: async (url: string, init: { headers: Record<string, string> }) => {
      page.fetched.push({ url, headers: init.headers });
      return { ok: true, json: async () => ({ ok: true, value: 1 }) };
    },
    location: { hash: opts.hash ?? '', pathname: '/', search: '' },
    history: { state: null, replaceState: (_s: unknown, _t: string, url: string) => (page.replacedWith = url) },
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) },
    encodeURIComponent,
    JSON,
    Map,
    Set,
    Object,
    String,
  };
  sandbox.window = sandbox;
  page.window = sandbox;
  if (opts.init) vm.runInNewContext(tokenInitScript(opts.init), sandbox);
  vm.runInNewContext(clientScript(EVENT_NAMES), sandbox);
  page.api = sandbox.berth as typeof page.api;
  return page;
}

describe('bridge', () => {
  it('listens on loopback only', () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves the renderer with its script in front of the page scripts', async () => {
    const html = await (await fetch(bridge.url)).text();
    expect(html.indexOf('/__berth/bridge.js')).toBeGreaterThan(0);
    expect(html.indexOf('/__berth/bridge.js')).toBeLessThan(html.indexOf('./assets/a.js'));
    expect(injectBridge('<head></head>')).toBe('<head><script src="/__berth/bridge.js"></script></head>');
    const js = await fetch(`${bridge.url}assets/a.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('never serves files outside the renderer folder', async () => {
    for (const p of ['..%2fberth-bridge-secret.txt', '%2e%2e/berth-bridge-secret.txt', '..%5cberth-bridge-secret.txt']) {
      const r = await fetch(`${bridge.url}${p}`);
      expect(r.status, p).not.toBe(200);
    }
  });

  it('validates requests like the IPC layer and answers envelopes', async () => {
    expect(await (await invoke({ method: 'vm.start', params: { cpus: 1000 } })).json()).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    expect(await (await invoke({ method: 'logs.tail', params: { source: '/etc/passwd' } })).json()).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    expect(await (await invoke({ method: '__proto__', params: {} })).json()).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_METHOD' } });
    expect(await (await invoke('{not json')).json()).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    expect(await (await invoke({ method: 'vm.status' })).json()).toEqual({ ok: true, value: makeStatus('stopped') });
    expect(backend.calls.map((c) => c.method)).toEqual(['vm.status']);
  });

  it('refuses calls without the token, from other origins, or not as JSON', async () => {
    expect((await invoke({ method: 'vm.status' }, { 'x-berth-token': 'nope' })).status).toBe(401);
    expect((await invoke({ method: 'vm.status' }, { 'x-berth-token': '' })).status).toBe(401);
    expect((await invoke({ method: 'vm.status' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await invoke({ method: 'vm.status' }, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await fetch(`${bridge.url}__berth/events?token=nope`)).status).toBe(401);
    expect((await fetch(`${bridge.url}__berth/events`)).status).toBe(401);
    expect(backend.calls.filter((c) => c.method !== 'vm.status')).toEqual([]);
  });

  it('never hands out its token: not in bridge.js, not in the page', async () => {
    const js = await fetch(`${bridge.url}__berth/bridge.js`);
    expect(js.status).toBe(200);
    const body = await js.text();
    expect(body).toContain("defineProperty(window, 'berth'");
    expect(body).not.toContain(bridge.token);
    expect(await (await fetch(bridge.url)).text()).not.toContain(bridge.token);
  });

  /** A raw request with the Host and Origin headers a browser on another site would send. */
  const rawRequest = (p: string, headers: Record<string, string>, method = 'GET', body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: bridge.port, path: p, method, headers }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('refuses every route for a foreign Host (DNS rebinding) or a foreign Origin, even with the token', async () => {
    const call = JSON.stringify({ method: 'vm.stop', params: {} });
    const json = { 'content-type': 'application/json', 'x-berth-token': bridge.token };
    const foreign: Record<string, string>[] = [
      { host: `evil.example:${bridge.port}` },
      { host: `127.0.0.1:${bridge.port}`, origin: 'http://evil.example' },
      { host: `127.0.0.1:${bridge.port}`, origin: 'null' },
      { host: `127.0.0.1:${bridge.port + 1}` },
    ];
    for (const headers of foreign) {
      for (const p of ['/', '/index.html', '/assets/a.js', '/__berth/bridge.js', `/__berth/events?token=${bridge.token}`]) {
        expect((await rawRequest(p, headers)).status, `${JSON.stringify(headers)} GET ${p}`).toBe(403);
      }
      expect((await rawRequest('/__berth/invoke', { ...headers, ...json }, 'POST', call)).status, JSON.stringify(headers)).toBe(403);
    }
    expect(backend.calls.map((c) => c.method)).not.toContain('vm.stop');
    // the bridge's own names are fine, with or without a same-origin Origin
    expect((await rawRequest('/__berth/bridge.js', { host: `localhost:${bridge.port}` })).status).toBe(200);
    const ok = await rawRequest('/__berth/invoke', { host: `127.0.0.1:${bridge.port}`, origin: `http://127.0.0.1:${bridge.port}`, ...json }, 'POST', JSON.stringify({ method: 'vm.status' }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, value: { state: 'stopped' } });
  });

  it('streams contract events as Server-Sent Events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${bridge.url}__berth/events?token=${bridge.token}`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    await reader.read(); // the comment line
    backend.emit('log', { source: 'serial', line: 'hello' });
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe(`event: berth\ndata: ${JSON.stringify({ name: 'log', payload: { source: 'serial', line: 'hello' } })}\n\n`);
    ctrl.abort();
  });

  it('gives the page exactly BerthApi: invoke and on, contract events only', () => {
    const page = runClient({ init: 't0k' });
    expect(Object.keys(page.api).sort()).toEqual(['invoke', 'on']);
    const got: unknown[] = [];
    const off = page.api.on('status', (p) => got.push(p));
    page.emit({ name: 'status', payload: 1 });
    off();
    page.emit({ name: 'status', payload: 2 });
    expect(got).toEqual([1]);
    expect(() => page.api.on('nope', () => undefined)).toThrow(/unknown event/);
  });

  it('page side: the token comes from the driver’s init script, and is not left on window', async () => {
    const page = runClient({ init: 't0k' });
    expect(page.window.__berthBridgeToken).toBeUndefined();
    expect(page.eventSourceUrl).toBe('/__berth/events?token=t0k');
    expect(await page.api.invoke('vm.status', {})).toEqual({ ok: true, value: 1 });
    expect(page.fetched[0]!.headers['x-berth-token']).toBe('t0k');
  });

  it('page side: or from the #berth-token= fragment dev:web prints, which is then removed from the address', async () => {
    const page = runClient({ hash: '#resources&berth-token=abc123' });
    expect(page.replacedWith).toBe('/#resources'); // the renderer sees its pane, not the token
    expect(page.storage.get('berth-bridge-token')).toBe('abc123');
    await page.api.invoke('vm.status', {});
    expect(page.fetched[0]!.headers['x-berth-token']).toBe('abc123');
    // a reload of the same tab (address without the fragment) still has it
    const reloaded = runClient({ storage: page.storage });
    expect(reloaded.eventSourceUrl).toBe('/__berth/events?token=abc123');
  });

  it('page side: without a token it says how to get one, and calls nothing', async () => {
    const page = runClient({});
    expect(page.eventSourceUrl).toBeNull();
    expect(await page.api.invoke('vm.start', {})).toMatchObject({ ok: false, error: { code: 'E_DISCONNECTED', hint: expect.stringMatching(/npm run dev:web/) } });
    expect(page.fetched).toEqual([]);
  });

  it('dev:web’s address carries the token in the fragment only', () => {
    expect(bridge.devUrl()).toBe(`${bridge.url}#berth-token=${bridge.token}`);
    expect(bridge.devUrl('console.html')).toBe(`${bridge.url}console.html#berth-token=${bridge.token}`);
  });
});
