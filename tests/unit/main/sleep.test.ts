// What the Mac sleeping and waking does (electron/main/lifecycle.ts SleepHandler), against the
// dev-only fake backend: suspend to disk before sleep only when asked to, resume only what Berth
// suspended, otherwise just correct the guest clock.
import { describe, expect, it, vi } from 'vitest';
import { SleepHandler } from '../../../electron/main/lifecycle.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { Status } from '../../../electron/shared/status.js';

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function setup(status: Status, settings: Partial<Settings> = {}, speed = 0): { backend: FakeBackend; sleep: SleepHandler; logs: string[] } {
  const backend = new FakeBackend({ status, settings: { ...SETTINGS, ...settings }, speed });
  const logs: string[] = [];
  return { backend, sleep: new SleepHandler(backend, (m) => logs.push(m)), logs };
}

/** The requests that change something (not the status and settings reads). */
const actions = (b: FakeBackend): Array<{ method: string; params: unknown }> => b.calls.filter((c) => c.method !== 'vm.status' && c.method !== 'settings.get');

describe('sleep and wake', () => {
  it('by default leaves the VM alone before sleep and corrects the clock on wake', async () => {
    const { backend, sleep } = setup(makeStatus('running'));
    await sleep.onSuspend();
    expect(actions(backend)).toEqual([]);
    await sleep.onResume();
    expect(actions(backend)).toEqual([{ method: 'vm.wake', params: {} }]);
    expect(backend.status.state).toBe('running');
  });

  it('with suspendOnSleep, suspends a running VM before sleep and resumes it on wake', async () => {
    const { backend, sleep, logs } = setup(makeStatus('running'), { suspendOnSleep: true });
    await sleep.onSuspend();
    await flush();
    expect(actions(backend)).toEqual([{ method: 'vm.stop', params: {} }]);
    expect(backend.status.state).toBe('stopped');
    expect(backend.status.saved).toBeDefined();
    await sleep.onResume();
    await flush();
    expect(actions(backend).map((c) => c.method)).toEqual(['vm.stop', 'vm.start']);
    expect(backend.status).toMatchObject({ state: 'running', resume: { resumed: true } });
    expect(logs).toContain('sleep: suspending the VM before the Mac sleeps');
  });

  it('does not start on wake a VM the user had stopped', async () => {
    const { backend, sleep } = setup(makeStatus('stopped'), { suspendOnSleep: true });
    await sleep.onSuspend();
    await sleep.onResume();
    expect(actions(backend)).toEqual([{ method: 'vm.wake', params: {} }]);
    expect(backend.status.state).toBe('stopped');
  });

  it('does not power the VM off for a sleep when Stop is set to shut down', async () => {
    const { backend, sleep, logs } = setup(makeStatus('running'), { suspendOnSleep: true, stopMode: 'shutdown' });
    await sleep.onSuspend();
    expect(actions(backend)).toEqual([]);
    expect(logs.join('\n')).toMatch(/not suspending the VM/);
    await sleep.onResume();
    expect(actions(backend)).toEqual([{ method: 'vm.wake', params: {} }]);
  });

  it('waits on wake for a suspend the sleep interrupted, then starts', async () => {
    // speed 1: the fake's save takes 1.2 s of real time, so the Mac "wakes" in the middle of it
    vi.useFakeTimers();
    try {
      const { backend, sleep } = setup(makeStatus('running'), { suspendOnSleep: true }, 1);
      const suspending = sleep.onSuspend();
      await vi.advanceTimersByTimeAsync(10);
      expect(backend.status.state).toBe('stopping');
      const waking = sleep.onResume();
      await vi.advanceTimersByTimeAsync(100);
      expect(actions(backend).map((c) => c.method)).toEqual(['vm.stop']);
      await vi.advanceTimersByTimeAsync(FakeBackend.SAVE_MS);
      await suspending;
      // vm.start answers once the VM runs again, as the engine's does
      await vi.advanceTimersByTimeAsync(FakeBackend.LOAD_MS + 10);
      await waking;
      expect(actions(backend).map((c) => c.method)).toEqual(['vm.stop', 'vm.start']);
      expect(backend.status).toMatchObject({ state: 'running', resume: { resumed: true, loadMs: FakeBackend.LOAD_MS } });
      await backend.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('only corrects the clock when the suspend failed', async () => {
    const { backend, sleep, logs } = setup(makeStatus('running'), { suspendOnSleep: true });
    const invoke = backend.invoke.bind(backend);
    vi.spyOn(backend, 'invoke').mockImplementation(async (method, params) => {
      if (method === 'vm.stop') {
        backend.calls.push({ method, params });
        return { ok: false, error: { code: 'E_QEMU', message: 'migrate failed' } };
      }
      return invoke(method, params as never);
    });
    await sleep.onSuspend();
    await sleep.onResume();
    expect(actions(backend).map((c) => c.method)).toEqual(['vm.stop', 'vm.wake']);
    expect(logs).toContain('sleep: vm.stop failed: E_QEMU migrate failed');
  });

  it('shows the suspend and the resume as the tray’s pending actions', async () => {
    const backend = new FakeBackend({ status: makeStatus('running'), settings: { ...SETTINGS, suspendOnSleep: true }, speed: 0 });
    const ran: string[] = [];
    const sleep = new SleepHandler(backend, () => undefined, async (action, fn) => {
      ran.push(action);
      await fn();
    });
    await sleep.onSuspend();
    await flush();
    await sleep.onResume();
    expect(ran).toEqual(['stop', 'start']);
  });
});
