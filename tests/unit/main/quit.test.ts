// Quitting vs. the Mac logging out, restarting or shutting down (electron/main/lifecycle.ts
// QuitController): a normal quit waits for the VM to stop or suspend; a system shutdown must never
// hold the quit back, stops the VM quickly and exits within a bounded time even when the engine
// does not answer.
import { describe, expect, it, vi } from 'vitest';
import { QuitController } from '../../../electron/main/lifecycle.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function setup(backend: Backend, fastStopTimeoutMs = 5000): { quit: QuitController; exits: number[]; teardowns: () => number; logs: string[] } {
  const exits: number[] = [];
  const logs: string[] = [];
  let teardowns = 0;
  const quit = new QuitController(backend, { teardown: () => teardowns++, exit: (c) => exits.push(c), log: (m) => logs.push(m), fastStopTimeoutMs });
  return { quit, exits, teardowns: () => teardowns, logs };
}

/** A backend whose requests never answer (an engine stuck in a long stop). */
function hungBackend(): Backend & { calls: Array<{ method: string; params: unknown }> } {
  const calls: Array<{ method: string; params: unknown }> = [];
  return {
    calls,
    invoke: (method, params) => {
      calls.push({ method, params });
      return new Promise(() => undefined);
    },
    on: () => () => undefined,
    close: async () => undefined,
  };
}

describe('quit and system shutdown', () => {
  it('a system shutdown holds the system quit only until the quick stop is done, then exits', async () => {
    const backend = new FakeBackend({ status: makeStatus('running'), settings: { ...SETTINGS, stopMode: 'suspend' }, speed: 0 });
    const { quit, exits, teardowns } = setup(backend);
    const event = { preventDefault: vi.fn() };
    await quit.onSystemShutdown(event);
    expect(event.preventDefault).toHaveBeenCalledTimes(1);
    expect(backend.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{ force: true }]);
    expect(exits).toEqual([0]);
    expect(teardowns()).toBe(1);
  });

  it('before-quit after a system shutdown began is let through, whatever the order of the exit', async () => {
    const { quit, exits, teardowns } = setup(hungBackend(), 50);
    const done = quit.onSystemShutdown();
    const prevent = vi.fn();
    quit.onBeforeQuit({ preventDefault: prevent });
    quit.onBeforeQuit({ preventDefault: prevent });
    expect(prevent).not.toHaveBeenCalled();
    await done;
    expect(exits).toEqual([0]);
    expect(teardowns()).toBe(1);
  });

  it('exits after the quick-stop timeout when the engine does not answer', async () => {
    const backend = hungBackend();
    const { quit, exits, logs } = setup(backend, 30);
    await quit.onSystemShutdown();
    expect(backend.calls).toEqual([{ method: 'vm.stop', params: { force: true } }]);
    expect(exits).toEqual([0]);
    expect(logs.join('\n')).toMatch(/gave up waiting for the VM after 30 ms/);
  });

  it('a shutdown during a normal quit (still suspending) exits without waiting for the suspend', async () => {
    const backend = hungBackend();
    const { quit, exits } = setup(backend, 30);
    const prevent = vi.fn();
    quit.onBeforeQuit({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalledTimes(1); // a normal quit waits for the VM
    await flush();
    expect(exits).toEqual([]);
    await quit.onSystemShutdown();
    expect(exits).toEqual([0]);
  });

  it('a normal quit holds the quit back, stops the VM (suspends, with stopMode suspend) and exits once', async () => {
    const backend = new FakeBackend({ status: makeStatus('running'), settings: { ...SETTINGS, stopMode: 'suspend' }, speed: 0 });
    const { quit, exits, teardowns } = setup(backend);
    const prevent = vi.fn();
    quit.onBeforeQuit({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalledTimes(1);
    // our own exit may raise before-quit again: it goes through
    const again = vi.fn();
    quit.onBeforeQuit({ preventDefault: again });
    expect(again).not.toHaveBeenCalled();
    for (let i = 0; i < 10 && exits.length === 0; i++) await flush();
    expect(backend.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{}]);
    expect(exits).toEqual([0]);
    expect(teardowns()).toBe(1);
  });
});
