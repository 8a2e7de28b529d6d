// The control socket: the contract over JSON-RPC lines, and what it does with hostile input.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRequest, METHODS } from '../../../electron/shared/contract.js';
import type { EventName, Events, Envelope, Method, Params, Result } from '../../../electron/shared/contract.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { ControlClient } from '../../../electron/engine/control/client.js';
import { serveControl } from '../../../electron/engine/control/server.js';
import { MAX_LINE } from '../../../electron/engine/control/protocol.js';
import { makeStatus } from '../../fixtures/status.js';

class RecordingBackend implements Backend {
  calls: string[] = [];
  private listeners = new Map<string, ((p: unknown) => void)[]>();
  async invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
    const bad = validateRequest(method, params);
    if (bad) return { ok: false, error: bad };
    this.calls.push(method);
    return { ok: true, value: (method === 'vm.status' ? makeStatus('running') : null) as Result<M> };
  }
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    const l = this.listeners.get(event) ?? [];
    l.push(listener as (p: unknown) => void);
    this.listeners.set(event, l);
    return () => this.listeners.set(event, (this.listeners.get(event) ?? []).filter((x) => x !== listener));
  }
  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const l of this.listeners.get(event) ?? []) l(payload);
  }
  async close(): Promise<void> {}
}

let dir: string;
let sock: string;
let server: net.Server;
const backend = new RecordingBackend();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl-'));
  sock = path.join(dir, 'control.sock');
  server = await serveControl(sock, backend);
});
afterAll(() => server.close());

function raw(data: string | Buffer): Promise<string[]> {
  return new Promise((resolve) => {
    const s = net.createConnection(sock);
    let buf = '';
    s.on('data', (d) => (buf += d.toString()));
    s.on('close', () => resolve(buf.split('\n').filter(Boolean)));
    s.on('error', () => resolve(buf.split('\n').filter(Boolean)));
    s.write(data);
    setTimeout(() => s.end(), 150);
  });
}

describe('control socket', () => {
  it('is a 0600 socket', () => {
    const st = fs.statSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('serves the contract to a client, with events after subscribing', async () => {
    const c = await ControlClient.connect(sock);
    const r = await c.invoke('vm.status', {});
    expect(r.ok && r.value.instance).toBe('default');
    const got = new Promise((res) => c.on('ports', (p) => res(p)));
    await c.subscribe();
    backend.emit('ports', []);
    expect(await got).toEqual([]);
    await c.close();
  });

  it('rejects unknown methods, wrong types and unknown parameters with a clear error', async () => {
    const c = await ControlClient.connect(sock);
    const unknown = await c.invoke('vm.explode' as Method, {} as never);
    expect(unknown).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_METHOD' } });
    const wrong = await c.invoke('emulation.set', { enabled: 'yes' } as never);
    expect(wrong).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS', message: 'emulation.set: enabled must be true or false' } });
    const extra = await c.invoke('vm.stop', { force: true, rm: '-rf' } as never);
    expect(extra).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS', message: 'vm.stop: unknown parameter "rm"' } });
    const range = await c.invoke('vm.start', { cpus: 1e9 });
    expect(range).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    await c.close();
  });

  const hostile: [string, string | Buffer, RegExp][] = [
    ['malformed JSON', '{"jsonrpc":"2.0",\n', /malformed JSON/],
    ['a JSON array', '[1,2,3]\n', /must be a JSON object/],
    ['a JSON string', '"vm.stop"\n', /must be a JSON object/],
    ['no jsonrpc version', '{"id":1,"method":"vm.status"}\n', /jsonrpc must be "2.0"/],
    ['params of the wrong type', '{"jsonrpc":"2.0","id":1,"method":"vm.stop","params":"force"}\n', /params must be an object/],
    ['a prototype-pollution key', '{"jsonrpc":"2.0","id":1,"method":"vm.stop","params":{"__proto__":{"x":1}}}\n', /unknown parameter "__proto__"/],
    ['a method name that is an object', '{"jsonrpc":"2.0","id":1,"method":{"a":1}}\n', /unknown method/],
    ['random bytes', Buffer.concat([randomBytes(4096), Buffer.from('\n')]), /malformed JSON|must be a JSON object/],
  ];
  for (const [name, data, re] of hostile) {
    it(`answers ${name} with an error and keeps serving`, async () => {
      const lines = await raw(data);
      expect(lines.length).toBeGreaterThan(0);
      const reply = JSON.parse(lines[0]!);
      expect(reply.result.ok).toBe(false);
      expect(reply.result.error.message).toMatch(re);
      const c = await ControlClient.connect(sock);
      expect((await c.invoke('vm.status', {})).ok).toBe(true);
      await c.close();
    });
  }

  it('drops a connection that sends more than the line limit without a newline', async () => {
    const lines = await raw(Buffer.alloc(MAX_LINE + 10, 'a'));
    expect(JSON.parse(lines[0]!).result.error.message).toMatch(/larger than/);
    const c = await ControlClient.connect(sock);
    expect((await c.invoke('vm.status', {})).ok).toBe(true);
    await c.close();
  });

  it('did not run a single state-changing call for any hostile input', () => {
    expect(backend.calls.filter((m) => m !== 'vm.status')).toEqual([]);
  });

  it('a client whose supervisor goes away gets E_DISCONNECTED, not a hang', async () => {
    const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'ctl2-'));
    const s2 = path.join(d2, 'c.sock');
    const srv = net.createServer((s) => s.on('data', () => s.destroy()));
    await new Promise<void>((r) => srv.listen(s2, r));
    const c = await ControlClient.connect(s2);
    const r = await c.invoke('vm.status', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'E_DISCONNECTED' } });
    srv.close();
  });
});

describe('contract', () => {
  it('declares the methods the clients rely on', () => {
    for (const m of ['vm.start', 'vm.stop', 'vm.restart', 'vm.status', 'emulation.set', 'ports.list', 'mounts.list', 'settings.get', 'settings.set', 'logs.tail']) {
      expect(METHODS).toContain(m);
    }
  });
  it('accepts absent params for parameterless methods', () => {
    expect(validateRequest('vm.status', undefined)).toBeNull();
    expect(validateRequest('vm.status', {})).toBeNull();
  });
  it('requires required params', () => {
    expect(validateRequest('emulation.set', {})).toMatchObject({ code: 'E_INVALID_PARAMS', message: 'emulation.set: missing enabled' });
  });
});
