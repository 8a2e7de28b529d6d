// Services against a stand-in context and guest: what each one asks the guest, and what the user
// then sees (its status slice, the journal, the settings).
import { describe, expect, it, afterAll } from 'vitest';
import { defaultSettings, loadSettings, saveSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { GUEST_COMMANDS, Guest } from '../../../electron/engine/guest/index.js';
import type { ExecResult } from '../../../electron/engine/guest/index.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { ClockService } from '../../../electron/engine/services/clock.js';
import { EmulationService } from '../../../electron/engine/services/emulation.js';
import { MountsService } from '../../../electron/engine/services/mounts.js';
import { PortsService } from '../../../electron/engine/services/ports.js';
import type { ServiceContext } from '../../../electron/engine/services/service.js';
import { baseStatus, pendingSteps } from '../../../electron/engine/instance/index.js';
import type { VmState } from '../../../electron/shared/status.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

function context(answers: Record<string, Partial<ExecResult>>, state: VmState) {
  const p = instancePaths('svc', scratch('berth-svc-'));
  ensureInstanceDir(p);
  saveSettings(p.settings, defaultSettings());
  const sent: string[] = [];
  const log = new EventLog(p.events);
  let changes = 0;
  const ctx: ServiceContext = {
    paths: p,
    guest: new Guest({
      exec: async (cmd) => {
        sent.push(cmd);
        const a = Object.entries(answers).find(([k]) => cmd.startsWith(k))?.[1];
        if (!a) throw new Error('no answer');
        return { code: 0, stdout: '', stderr: '', ...a };
      },
    }),
    env: {},
    resourcesPath: undefined,
    vmState: () => state,
    guestReachable: () => true,
    journal: (kind, data) => void log.append(kind, data),
    emit: () => undefined,
    statusChanged: () => void changes++,
  };
  return { p, ctx, sent, changes: () => changes };
}

describe('services', () => {
  it('clock: a sync sets the guest clock and journals the skew it measured after', async () => {
    const { p, ctx, sent } = context({ true: {}, 'date -u -s': {}, [GUEST_COMMANDS.readClock]: { stdout: `${(Date.now() / 1000).toFixed(3)}\n` } }, 'running');
    await new ClockService(ctx).sync('resumed');
    expect(sent.map((c) => c.split(' ')[0])).toEqual(['true', 'date', 'date']);
    const ev = EventLog.readLast(p.events).find((e) => e.kind === 'clock-sync');
    expect(ev).toMatchObject({ why: 'resumed', ok: true });
  });

  it('emulation while stopped: remembered in the settings, applied at next start, no guest asked', async () => {
    const { p, ctx, sent } = context({}, 'stopped');
    const svc = new EmulationService(ctx, defaultSettings());
    expect(await svc.set(true)).toMatchObject({ enabled: true, state: 'unknown', reason: 'applied at next start' });
    expect(loadSettings(p.settings).emulation.enabled).toBe(true);
    expect(sent).toEqual([]);
  });

  it('emulation while running: turned on in the guest, self-tested, and shown in the status slice', async () => {
    const s = defaultSettings();
    const foreign = s.arch === 'x86_64' ? 'aarch64' : 'x86_64';
    const { p, ctx, sent, changes } = context({ 'berth-emulation on': {}, 'berth-emulation status': { stdout: 'enabled\n' }, '/usr/share/berth/selftest/': { stdout: `${foreign}\nqemu-${foreign} version 8\n` } }, 'running');
    const svc = new EmulationService(ctx, s);
    const st = await svc.set(true);
    expect(st).toMatchObject({ enabled: true, state: 'enabled', selfTest: { ok: true, output: foreign, interpreter: `qemu-${foreign} version 8` } });
    expect(sent[0]).toBe('berth-emulation on');
    expect(changes()).toBeGreaterThan(0);
    const status = baseStatus(p, s, { state: 'running', steps: pendingSteps(), pids: {}, restartNeeded: false });
    svc.status(status);
    expect(status.emulation).toMatchObject({ state: 'enabled', selfTest: { ok: true } });
  });

  it('mounts: what the guest mounted, each share with its state, pushed to clients; a failed remount after a resume is journaled', async () => {
    const { p, ctx } = context({ [GUEST_COMMANDS.mountsStatus]: { stdout: 'berth0\t/Users/ada\tok\t\nberth1\t/Volumes/x\tfailed\tNo such device\n' }, [GUEST_COMMANDS.mountsUp]: { code: 1, stderr: 'mount: busy\n' } }, 'running');
    const pushed: unknown[] = [];
    const svc = new MountsService({ ...ctx, emit: (_e, payload) => void pushed.push(payload) });
    svc.expect([
      { location: '/Users/ada', guestPath: '/Users/ada', writable: true },
      { location: '/Volumes/x', guestPath: '/Volumes/x', writable: false },
      { location: '/opt/y', guestPath: '/opt/y', writable: false },
    ]);
    await svc.onReady();
    expect(pushed).toHaveLength(1);
    const st = baseStatus(p, defaultSettings(), { state: 'running', steps: pendingSteps(), pids: {}, restartNeeded: false });
    svc.status(st);
    expect(st.mounts.map((m) => [m.guestPath, m.state, m.reason])).toEqual([
      ['/Users/ada', 'mounted', undefined],
      ['/Volumes/x', 'failed', 'No such device'],
      ['/opt/y', 'failed', 'not mounted by the guest'],
    ]);
    expect(svc.mounted()).toEqual(['/Users/ada']);
    await svc.afterResume();
    expect(EventLog.readLast(p.events).find((e) => e.kind === 'remount-failed')).toMatchObject({ stderr: 'mount: busy' });
    svc.markPending();
    expect(svc.mounted()).toEqual([]);
  });

  it('mounts before a save: the shares unmounted, or the one still in use named; with none mounted the guest is not asked', async () => {
    const { ctx, sent } = context({ [GUEST_COMMANDS.mountsStatus]: { stdout: 'berth0\t/Users/ada\tok\t\n' }, [GUEST_COMMANDS.mountsDown]: { code: 32, stderr: 'umount: /Users/ada: target is busy.\nmore\n' } }, 'running');
    const svc = new MountsService(ctx);
    expect(await svc.beforeSuspend()).toBeNull();
    expect(sent).toEqual([]);
    svc.expect([{ location: '/Users/ada', guestPath: '/Users/ada', writable: true }]);
    await svc.onReady();
    expect(await svc.beforeSuspend()).toBe('a shared folder is still in use inside the VM (umount: /Users/ada: target is busy.)');
    expect(sent.pop()).toBe(GUEST_COMMANDS.mountsDown);
  });

  it('ports: what the agent forwards is journaled, pushed and in the status; cleared when the agent goes', () => {
    const { p, ctx } = context({}, 'running');
    const pushed: unknown[] = [];
    const svc = new PortsService({ ...ctx, emit: (_e, payload) => void pushed.push(payload) });
    const fwd = { hostPort: 8080, guestPort: 80, protocol: 'tcp' as const, guestAddress: '0.0.0.0', source: 'guest' as const, state: 'forwarding' as const };
    svc.update([fwd]);
    const st = baseStatus(p, defaultSettings(), { state: 'running', steps: pendingSteps(), pids: {}, restartNeeded: false });
    svc.status(st);
    expect(st.ports).toEqual([fwd]);
    expect(EventLog.readLast(p.events).find((e) => e.kind === 'ports')).toMatchObject({ ports: ['8080:80:forwarding'] });
    svc.clear();
    expect(pushed).toEqual([[fwd], []]);
  });
});
