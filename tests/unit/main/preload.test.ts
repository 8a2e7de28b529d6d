// The preload runs the way Electron's sandbox runs it: transpiled to CommonJS, in its own context,
// with a `require` that knows only `electron` (a fake here). A runtime import from shared/ would
// fail to load, so this also proves the preload only imports types.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it, vi } from 'vitest';

vi.mock('electron', () => ({ ipcMain: { handle: vi.fn(), removeHandler: vi.fn() } }));

const { contractArgument, eventChannel, invokeChannel } = await import('../../../electron/main/ipc.js');
const { EVENT_NAMES, METHODS } = await import('../../../electron/shared/contract.js');
import type { BerthApi } from '../../../electron/shared/contract.js';

const SOURCE = path.resolve(import.meta.dirname, '../../../electron/preload/index.cts');

function loadPreload(argv: string[]): { api: BerthApi; exposed: ReturnType<typeof vi.fn>; ipc: { invoke: ReturnType<typeof vi.fn>; on: ReturnType<typeof vi.fn>; removeListener: ReturnType<typeof vi.fn> }; required: string[] } {
  const { outputText } = ts.transpileModule(fs.readFileSync(SOURCE, 'utf8'), {
    fileName: 'index.cts',
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  });
  const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
  const ipc = {
    invoke: vi.fn(async (channel: string, params: unknown) => ({ ok: true, value: { channel, params } })),
    on: vi.fn((ch: string, l: (...a: unknown[]) => void) => {
      if (!listeners.has(ch)) listeners.set(ch, new Set());
      listeners.get(ch)!.add(l);
    }),
    removeListener: vi.fn((ch: string, l: (...a: unknown[]) => void) => listeners.get(ch)?.delete(l)),
    emit: (ch: string, payload: unknown) => listeners.get(ch)?.forEach((l) => l({ sender: 'SECRET' }, payload)),
  };
  const exposed = vi.fn();
  const required: string[] = [];
  const electron = { contextBridge: { exposeInMainWorld: exposed }, ipcRenderer: ipc };
  const sandboxRequire = (id: string): unknown => {
    required.push(id);
    if (id === 'electron') return electron;
    throw new Error(`module not found: ${id} (sandboxed preloads can only require electron)`);
  };
  const module = { exports: {} };
  vm.runInNewContext(outputText, { require: sandboxRequire, module, exports: module.exports, process: { argv } }, { filename: 'preload.cjs' });
  const api = exposed.mock.calls[0]?.[1] as BerthApi;
  Object.assign(ipc, { _emit: ipc.emit });
  return { api, exposed, ipc: ipc as never, required };
}

const argv = ['/Applications/Berth.app/Contents/Frameworks/Berth Helper (Renderer).app', '--type=renderer', contractArgument()];

describe('preload', () => {
  it('exposes window.berth with exactly invoke and on, requiring nothing but electron', () => {
    const { api, exposed, required } = loadPreload(argv);
    expect(exposed).toHaveBeenCalledTimes(1);
    expect(exposed.mock.calls[0]![0]).toBe('berth');
    expect(Object.keys(api).sort()).toEqual(['invoke', 'on']);
    expect(Object.isFrozen(api)).toBe(true);
    expect(required).toEqual(['electron']);
  });

  it('invokes every contract method on its channel and nothing else', async () => {
    const { api, ipc } = loadPreload(argv);
    for (const m of METHODS) {
      await expect(api.invoke(m, {} as never)).resolves.toEqual({ ok: true, value: { channel: invokeChannel(m), params: {} } });
    }
    expect(ipc.invoke).toHaveBeenCalledTimes(METHODS.length);
    for (const bad of ['vm.explode', 'toString', '__proto__', 'constructor']) {
      await expect(api.invoke(bad as never, {} as never)).resolves.toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_METHOD' } });
    }
    expect(ipc.invoke).toHaveBeenCalledTimes(METHODS.length);
  });

  it('subscribes to every contract event, passes only the payload, and unsubscribes', () => {
    const { api, ipc } = loadPreload(argv);
    const emit = (ipc as unknown as { emit: (ch: string, p: unknown) => void }).emit;
    for (const e of EVENT_NAMES) {
      const got: unknown[] = [];
      const off = api.on(e, (...args: unknown[]) => got.push(args));
      emit(eventChannel(e), { hello: e });
      expect(got).toEqual([[{ hello: e }]]);
      off();
      emit(eventChannel(e), { again: e });
      expect(got).toHaveLength(1);
    }
    expect(() => api.on('secrets' as never, () => undefined)).toThrow(/unknown event/);
    expect(() => api.on('hasOwnProperty' as never, () => undefined)).toThrow(/unknown event/);
  });

  it('refuses to load without the contract argument or with a tampered one', () => {
    expect(() => loadPreload(['electron'])).toThrow(/no --berth-contract/);
    const evil = '--berth-contract=' + encodeURIComponent(JSON.stringify({ invoke: { 'vm.start': 'ELECTRON_BROWSER_REQUIRE' }, events: {} }));
    expect(() => loadPreload([evil])).toThrow(/malformed/);
  });
});
