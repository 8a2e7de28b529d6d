// The browser-test bridge as a plain HTTP server: validation like ipc.ts, token, static files, SSE.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientScript, injectBridge, startBridge } from '../../e2e/bridge/server.js';
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
    expect((await invoke({ method: 'vm.status' }, { 'x-berth-token': 'nope' })).status).toBe(403);
    expect((await invoke({ method: 'vm.status' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await invoke({ method: 'vm.status' }, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await fetch(`${bridge.url}__berth/events?token=nope`)).status).toBe(403);
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
    const listeners: Record<string, (m: { data: string }) => void> = {};
    const sandbox: Record<string, unknown> = {
      EventSource: class {
        constructor(public url: string) {}
        addEventListener(name: string, fn: (m: { data: string }) => void) {
          listeners[name] = fn;
        }
      },
      fetch: async () => ({ json: async () => ({ ok: true, value: 1 }) }),
      encodeURIComponent,
      JSON,
      Map,
      Set,
      Object,
      String,
    };
    sandbox.window = sandbox;
    vm.runInNewContext(clientScript('t0k', EVENT_NAMES), sandbox);
    const api = sandbox.berth as { invoke: unknown; on: (e: string, l: (p: unknown) => void) => () => void };
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on']);
    const got: unknown[] = [];
    const off = api.on('status', (p) => got.push(p));
    listeners.berth!({ data: JSON.stringify({ name: 'status', payload: 1 }) });
    off();
    listeners.berth!({ data: JSON.stringify({ name: 'status', payload: 2 }) });
    expect(got).toEqual([1]);
    expect(() => api.on('nope', () => undefined)).toThrow(/unknown event/);
  });
});
