// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initialState, MAX_LOG_LINES, selectPorts, useBerth } from '../../../renderer/src/store/berth.js';
import { invoke } from '../../../renderer/src/api/berth.js';
import { makeStatus, PORTS, SETTINGS } from '../../fixtures/status.js';
import { installFakeApi, ok } from './fake-api.js';
import type { FakeApi } from './fake-api.js';

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('dashboard store', () => {
  let api: FakeApi;
  let stop: () => void = () => undefined;

  beforeEach(() => {
    useBerth.setState(initialState);
    api = installFakeApi({
      'vm.status': () => ok(makeStatus('stopped')),
      'settings.get': () => ok(SETTINGS),
      'logs.tail': ({ source }) => ok({ lines: [`${source} 1`, `${source} 2`], path: `/x/${source}.log` }),
    });
  });

  afterEach(() => {
    stop();
    delete window.berth;
  });

  it('loads status, settings and the log tail on init, and subscribes to events', async () => {
    stop = useBerth.getState().init();
    await flush();
    const s = useBerth.getState();
    expect(s.connected).toBe(true);
    expect(s.status?.state).toBe('stopped');
    expect(s.settings).toEqual(SETTINGS);
    expect(s.logs).toEqual(['events 1', 'events 2']);
    expect(s.logPath).toBe('/x/events.log');
    for (const e of ['status', 'progress', 'ports', 'mounts', 'log'] as const) expect(api.listenerCount(e)).toBe(1);
    stop();
    for (const e of ['status', 'progress', 'ports', 'mounts', 'log'] as const) expect(api.listenerCount(e)).toBe(0);
  });

  it('follows status, progress, ports and log events', async () => {
    stop = useBerth.getState().init();
    await flush();
    api.emit('status', makeStatus('starting'));
    api.emit('progress', { task: 'boot', label: 'Booting', fraction: 0.3 });
    expect(useBerth.getState().status?.state).toBe('starting');
    expect(useBerth.getState().progress.boot?.fraction).toBe(0.3);
    api.emit('status', makeStatus('running'));
    expect(useBerth.getState().progress.boot).toBeUndefined();
    expect(selectPorts(useBerth.getState())).toEqual(makeStatus('running').ports);
    api.emit('ports', [PORTS[2]!]);
    expect(selectPorts(useBerth.getState())).toEqual([PORTS[2]]);
    api.emit('log', { source: 'events', line: 'live' });
    api.emit('log', { source: 'serial', line: 'not shown' });
    expect(useBerth.getState().logs).toEqual(['events 1', 'events 2', 'live']);
  });

  it('keeps ports from events when a later status snapshot carries none, and drops them when the VM stops', async () => {
    stop = useBerth.getState().init();
    await flush();
    api.emit('status', makeStatus('running', { ports: [] }));
    api.emit('ports', [PORTS[0]!]);
    api.emit('status', makeStatus('running', { ports: [] }));
    expect(selectPorts(useBerth.getState())).toEqual([PORTS[0]]);
    api.emit('status', makeStatus('stopping'));
    expect(selectPorts(useBerth.getState())).toEqual([]);
  });

  it('asks for ports and mounts when the VM comes up', async () => {
    api.answers['ports.list'] = () => ok([PORTS[1]!]);
    api.answers['mounts.list'] = () => ok([]);
    stop = useBerth.getState().init();
    await flush();
    api.emit('status', makeStatus('running', { ports: [] }));
    await flush();
    expect(selectPorts(useBerth.getState())).toEqual([PORTS[1]]);
  });

  it('caps the log tail', async () => {
    stop = useBerth.getState().init();
    await flush();
    for (let i = 0; i < MAX_LOG_LINES + 50; i++) api.emit('log', { source: 'events', line: String(i) });
    expect(useBerth.getState().logs).toHaveLength(MAX_LOG_LINES);
    expect(useBerth.getState().logs.at(-1)).toBe(String(MAX_LOG_LINES + 49));
  });

  it('marks an action pending, applies its status, and ignores a second click meanwhile', async () => {
    let release!: () => void;
    api.answers['vm.start'] = () => new Promise((r) => (release = () => r(ok(makeStatus('starting')))));
    const p = useBerth.getState().start();
    expect(useBerth.getState().pending).toBe('start');
    await useBerth.getState().start();
    await useBerth.getState().setEmulation(true);
    expect(api.calls.filter((c) => c.method === 'vm.start')).toHaveLength(1);
    expect(api.calls.filter((c) => c.method === 'emulation.set')).toHaveLength(0);
    release();
    await p;
    expect(useBerth.getState().pending).toBeNull();
    expect(useBerth.getState().status?.state).toBe('starting');
  });

  it('lets Stop cancel a start that is still waiting for Docker, and ignores the start’s late answer', async () => {
    let release!: () => void;
    api.answers['vm.start'] = () => new Promise((r) => (release = () => r({ ok: false, error: { code: 'E_BUSY', message: 'start aborted' } })));
    api.answers['vm.stop'] = () => ok(makeStatus('stopped'));
    const started = useBerth.getState().start();
    await useBerth.getState().stop();
    expect(api.calls.filter((c) => c.method === 'vm.stop')).toHaveLength(1);
    expect(useBerth.getState().pending).toBeNull();
    release();
    await started;
    expect(useBerth.getState().actionError).toBeNull();
    expect(useBerth.getState().status?.state).toBe('stopped');
  });

  it('keeps a failed action with its hint', async () => {
    api.answers['vm.start'] = () => ({ ok: false, error: { code: 'E_IMAGE', message: 'no guest image', hint: 'npm run image' } });
    await useBerth.getState().start();
    expect(useBerth.getState().actionError).toEqual({ code: 'E_IMAGE', message: 'no guest image', hint: 'npm run image', action: 'start' });
    useBerth.getState().dismissError();
    expect(useBerth.getState().actionError).toBeNull();
  });

  it('saves settings and remembers that a restart is needed', async () => {
    api.answers['settings.set'] = ({ patch }) => ok({ settings: { ...SETTINGS, ...patch }, restartNeeded: true });
    await expect(useBerth.getState().saveSettings({ cpus: 6 })).resolves.toBe(true);
    expect(api.calls.at(-1)).toEqual({ method: 'settings.set', params: { patch: { cpus: 6 } } });
    expect(useBerth.getState().settings?.cpus).toBe(6);
    expect(useBerth.getState().restartNeeded).toBe(true);
  });

  it('applies the emulation result to the status', async () => {
    useBerth.setState({ status: makeStatus('running') });
    const result = { enabled: false, state: 'disabled' as const, foreignArch: 'x86_64' as const };
    api.answers['emulation.set'] = () => ok(result);
    await useBerth.getState().setEmulation(false);
    expect(useBerth.getState().status?.emulation).toEqual(result);
  });

  it('says when the engine does not answer', async () => {
    delete window.berth;
    await useBerth.getState().refresh();
    expect(useBerth.getState().connected).toBe(false);
    await expect(invoke('vm.status', {})).resolves.toMatchObject({ ok: false, error: { code: 'E_DISCONNECTED' } });
  });

  it('shuts down with vm.stop {shutdown: true}, and may cancel a start like Stop', async () => {
    const saved = makeStatus('stopped', { saved: { at: '2026-11-29T11:00:00.000Z', bytes: 1_300_000_000, containersToRestart: [] } });
    api.answers['vm.status'] = () => ok(saved);
    api.answers['vm.stop'] = () => ok(makeStatus('stopped'));
    stop = useBerth.getState().init();
    await flush();
    await useBerth.getState().shutdown();
    expect(api.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{ shutdown: true }]);
    expect(useBerth.getState().status?.saved).toBeUndefined();
    expect(useBerth.getState().pending).toBeNull();

    let answerStart!: (v: unknown) => void;
    api.answers['vm.start'] = () => new Promise((r) => (answerStart = r as never)) as never;
    const starting = useBerth.getState().start();
    await flush();
    expect(useBerth.getState().pending).toBe('start');
    await useBerth.getState().shutdown();
    expect(api.calls.filter((c) => c.method === 'vm.stop')).toHaveLength(2);
    answerStart(ok(makeStatus('running')));
    await starting;
    expect(useBerth.getState().status?.state).toBe('stopped');
  });

  it('names a failed shut down in words', async () => {
    api.answers['vm.stop'] = () => ({ ok: false, error: { code: 'E_QEMU', message: 'QEMU did not answer' } });
    stop = useBerth.getState().init();
    await flush();
    await useBerth.getState().shutdown();
    expect(useBerth.getState().actionError).toMatchObject({ action: 'shutdown', code: 'E_QEMU' });
  });

  it('shows a setting at once, runs saves one after another, and restores it when the save fails', async () => {
    stop = useBerth.getState().init();
    await flush();
    const answers: Array<(v: unknown) => void> = [];
    api.answers['settings.set'] = () => new Promise((r) => answers.push(r as never)) as never;
    const first = useBerth.getState().saveSettings({ stopMode: 'shutdown' });
    const second = useBerth.getState().saveSettings({ suspendOnSleep: true });
    // both shown before any answer; only the first request is on its way
    expect(useBerth.getState().settings).toMatchObject({ stopMode: 'shutdown', suspendOnSleep: true });
    await flush();
    expect(api.calls.filter((c) => c.method === 'settings.set').map((c) => c.params)).toEqual([{ patch: { stopMode: 'shutdown' } }]);
    // the first answer does not hide the second change, still queued
    answers[0]!(ok({ settings: { ...SETTINGS, stopMode: 'shutdown' }, restartNeeded: false }));
    await expect(first).resolves.toBe(true);
    expect(useBerth.getState().settings).toMatchObject({ stopMode: 'shutdown', suspendOnSleep: true });
    await flush();
    expect(api.calls.filter((c) => c.method === 'settings.set').map((c) => c.params)).toEqual([{ patch: { stopMode: 'shutdown' } }, { patch: { suspendOnSleep: true } }]);
    // the second fails: the switch goes back to what the engine has
    answers[1]!({ ok: false, error: { code: 'E_CONFIG', message: 'berth.yaml is read-only' } });
    await expect(second).resolves.toBe(false);
    expect(useBerth.getState().settings).toEqual(SETTINGS);
    expect(useBerth.getState().actionError).toMatchObject({ action: 'settings', message: 'berth.yaml is read-only' });
  });
});
