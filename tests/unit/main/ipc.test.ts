import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { IpcMainInvokeEvent, WebContents } from 'electron';

type Handler = (event: IpcMainInvokeEvent, params: unknown) => Promise<unknown>;
const handlers = vi.hoisted(() => new Map<string, (event: unknown, params: unknown) => Promise<unknown>>());

vi.mock('electron', () => ({
  ipcMain: {
    handle: vi.fn((channel: string, fn: (event: unknown, params: unknown) => Promise<unknown>) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, fn);
    }),
    removeHandler: vi.fn((channel: string) => handlers.delete(channel)),
    on: vi.fn(),
  },
}));

const { contractArgument, CONTRACT_ARG_PREFIX, dispatch, eventChannel, forwardEvents, invokeChannel, isTrustedSender, registerIpc, UntrustedSenderError } = await import(
  '../../../electron/main/ipc.js'
);
const { EVENT_NAMES, METHODS } = await import('../../../electron/shared/contract.js');
import type { Backend } from '../../../electron/engine/backend.js';
import type { EventName, Events } from '../../../electron/shared/contract.js';
import { makeStatus } from '../../fixtures/status.js';

const ROOT = 'file:///Applications/Berth.app/Contents/Resources/app.asar/renderer/dist/';

interface FakeFrame {
  url: string;
  parent: FakeFrame | null;
  processId: number;
  routingId: number;
}

function fakeWindow(id: number, url = `${ROOT}index.html`): { wc: WebContents; main: FakeFrame } {
  const main: FakeFrame = { url, parent: null, processId: 10 + id, routingId: 1 };
  const wc = { id, mainFrame: main, isDestroyed: () => false, send: vi.fn() } as unknown as WebContents;
  return { wc, main };
}

function event(wc: WebContents, frame: FakeFrame | null): IpcMainInvokeEvent {
  return { sender: wc, senderFrame: frame } as unknown as IpcMainInvokeEvent;
}

function fakeBackend(): Backend & { invoke: ReturnType<typeof vi.fn>; emit<E extends EventName>(e: E, p: Events[E]): void } {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  return {
    invoke: vi.fn(async (method: string) => (method === 'vm.status' ? { ok: true, value: makeStatus('running') } : { ok: true, value: null })),
    on: (e: string, l: (p: unknown) => void) => {
      if (!listeners.has(e)) listeners.set(e, new Set());
      listeners.get(e)!.add(l);
      return () => listeners.get(e)!.delete(l);
    },
    close: async () => undefined,
    emit: (e: string, p: unknown) => listeners.get(e)?.forEach((l) => l(p)),
  } as never;
}

describe('ipc', () => {
  const dash = fakeWindow(1);
  const cons = fakeWindow(2, `${ROOT}console.html`);
  const ours = new Set([1, 2]);
  const policy = { isOurWebContents: (wc: WebContents) => ours.has(wc.id), rendererRoot: ROOT };
  let backend: ReturnType<typeof fakeBackend>;
  let unregister: () => void;

  beforeEach(() => {
    handlers.clear();
    backend = fakeBackend();
    unregister = registerIpc(backend, policy, () => undefined);
  });

  const call = (method: string, ev: IpcMainInvokeEvent, params: unknown): Promise<unknown> => {
    const h = handlers.get(invokeChannel(method as never)) as Handler | undefined;
    if (!h) throw new Error(`no handler for ${method}`);
    return h(ev, params);
  };

  it('registers exactly one handler per contract method, and removes them', () => {
    expect([...handlers.keys()].sort()).toEqual(METHODS.map((m) => `berth:invoke:${m}`).sort());
    expect([...handlers.keys()]).toEqual(expect.arrayContaining(['berth:invoke:vm.start', 'berth:invoke:emulation.set', 'berth:invoke:console.open']));
    unregister();
    expect(handlers.size).toBe(0);
  });

  it('answers a trusted call with the backend envelope', async () => {
    const r = await call('vm.status', event(dash.wc, dash.main), {});
    expect(r).toEqual({ ok: true, value: makeStatus('running') });
    expect(backend.invoke).toHaveBeenCalledWith('vm.status', {});
    // the console window may call too
    await expect(call('vm.status', event(cons.wc, cons.main), undefined)).resolves.toMatchObject({ ok: true });
  });

  it('wraps a backend that throws or returns a bare value into an envelope', async () => {
    backend.invoke.mockRejectedValueOnce(Object.assign(new Error('busy'), { code: 'E_BUSY', hint: 'wait' }));
    await expect(call('vm.start', event(dash.wc, dash.main), {})).resolves.toEqual({ ok: false, error: { code: 'E_BUSY', message: 'busy', hint: 'wait' } });
    backend.invoke.mockRejectedValueOnce(new Error('boom'));
    await expect(call('vm.stop', event(dash.wc, dash.main), {})).resolves.toEqual({ ok: false, error: { code: 'E_INTERNAL', message: 'boom' } });
    backend.invoke.mockResolvedValueOnce([]);
    await expect(call('ports.list', event(dash.wc, dash.main), {})).resolves.toEqual({ ok: true, value: [] });
  });

  it('rejects invalid params with E_INVALID_PARAMS without calling the backend', async () => {
    const ev = event(dash.wc, dash.main);
    const cases: Array<[string, unknown]> = [
      ['vm.start', { cpus: 0 }],
      ['vm.start', { arch: 'mips' }],
      ['vm.start', { memoryGiB: 'lots' }],
      ['vm.status', { extra: 1 }],
      ['emulation.set', {}],
      ['emulation.set', { enabled: 'yes' }],
      ['logs.tail', { source: 'kernel' }],
      ['console.write', { id: 'x'.repeat(65), data: '' }],
      ['console.resize', { id: 'a', cols: 1.5, rows: 2 }],
      ['settings.set', { patch: [] }],
      ['vm.stop', 'force'],
    ];
    for (const [method, params] of cases) {
      const r = (await call(method, ev, params)) as { ok: boolean; error?: { code: string } };
      expect(r.ok, `${method} ${JSON.stringify(params)}`).toBe(false);
      expect(r.error?.code).toBe('E_INVALID_PARAMS');
    }
    expect(backend.invoke).not.toHaveBeenCalled();
  });

  it('refuses senders that are not our windows, sub-frames or foreign pages', async () => {
    const stranger = fakeWindow(9);
    const sub: FakeFrame = { url: `${ROOT}index.html`, parent: dash.main, processId: 11, routingId: 7 };
    const remote: FakeFrame = { ...dash.main, url: 'https://example.com/index.html' };
    const otherFile: FakeFrame = { ...dash.main, url: 'file:///tmp/evil/index.html' };
    const climbing: FakeFrame = { ...dash.main, url: `${ROOT}../../../evil.html` };
    const rejected = [
      event(stranger.wc, stranger.main),
      event(dash.wc, sub),
      event(dash.wc, remote),
      event(dash.wc, otherFile),
      event(dash.wc, climbing),
      event(dash.wc, null),
    ];
    for (const ev of rejected) {
      await expect(call('vm.stop', ev, {})).rejects.toBeInstanceOf(UntrustedSenderError);
    }
    expect(backend.invoke).not.toHaveBeenCalled();
  });

  it('isTrustedSender accepts query strings and hashes on our pages', () => {
    expect(isTrustedSender(event(dash.wc, { ...dash.main, url: `${ROOT}index.html?x=1#ports` }), policy)).toBe(true);
    expect(isTrustedSender(event(dash.wc, dash.main), { ...policy, rendererRoot: 'file:///no-trailing-slash' })).toBe(false);
  });

  it('dispatch rejects unknown methods', async () => {
    await expect(dispatch(backend, 'vm.explode', {})).resolves.toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_METHOD' } });
  });

  it('forwards every contract event to our windows on its channel', () => {
    const dead = { ...fakeWindow(3), wc: { id: 3, isDestroyed: () => true, send: vi.fn() } as unknown as WebContents };
    const off = forwardEvents(backend, () => [dash.wc, cons.wc, dead.wc]);
    const payloads: { [E in EventName]: Events[E] } = {
      status: makeStatus('running'),
      progress: { task: 'boot', label: 'Booting', fraction: 0.5 },
      ports: [],
      mounts: [],
      log: { source: 'serial', line: 'hello' },
      console: { id: 'c1', data: 'x' },
      containers: [],
      containerLogs: { stream: 's1', lines: ['hello'] },
    };
    for (const e of EVENT_NAMES) backend.emit(e, payloads[e] as never);
    for (const e of EVENT_NAMES) {
      expect(dash.wc.send).toHaveBeenCalledWith(eventChannel(e), payloads[e]);
      expect(cons.wc.send).toHaveBeenCalledWith(`berth:event:${e}`, payloads[e]);
    }
    expect(dead.wc.send).not.toHaveBeenCalled();
    off();
    backend.emit('status', makeStatus('stopped'));
    expect(dash.wc.send).toHaveBeenCalledTimes(EVENT_NAMES.length);
  });

  it('describes the contract to the preload in one argv entry', () => {
    const arg = contractArgument();
    expect(arg.startsWith(CONTRACT_ARG_PREFIX)).toBe(true);
    expect(arg).not.toMatch(/\s/);
    const d = JSON.parse(decodeURIComponent(arg.slice(CONTRACT_ARG_PREFIX.length))) as { invoke: Record<string, string>; events: Record<string, string> };
    expect(Object.keys(d.invoke).sort()).toEqual([...METHODS].sort());
    expect(Object.keys(d.events).sort()).toEqual([...EVENT_NAMES].sort());
    for (const m of METHODS) expect(d.invoke[m]).toBe(invokeChannel(m));
  });
});
