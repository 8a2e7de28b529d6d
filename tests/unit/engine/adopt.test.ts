// A VM found on adopt that was paused, saving or loading: the start finishes, cancels or discards
// what it was doing, explicitly, instead of waiting minutes for SSH from a paused VM and killing it.
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LoggedEvent } from '../../../electron/engine/event-log.js';
import type { JournalEvents, JournalKind } from '../../../electron/shared/journal.js';
import { QmpClient } from '../../../electron/engine/qmp.js';
import { containersHeldBySuspend, settleAdopted } from '../../../electron/engine/vm/adopt.js';
import type { SettleHooks } from '../../../electron/engine/vm/adopt.js';
import { fakeMonitor, removeScratch, scratch } from './helpers/stand-ins.js';
import type { FakeMonitor } from './helpers/stand-ins.js';

afterAll(removeScratch);

const monitors: FakeMonitor[] = [];
const clients: QmpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const m of monitors.splice(0)) await m.close();
});

/** A monitor in run state `status` whose query-migrate answers go through `migrations` (the last one repeats). */
async function vm(status: string, migrations: Record<string, unknown>[] = [{}]): Promise<{ qmp: QmpClient; mon: FakeMonitor; state: { status: string } }> {
  const sock = path.join(scratch('berth-adopt-'), 'qmp.sock');
  const state = { status };
  const queue = [...migrations];
  const mon = await fakeMonitor(sock, (cmd) => {
    switch (cmd.execute) {
      case 'query-status':
        return { status: state.status, running: state.status === 'running', singlestep: false };
      case 'query-migrate':
        return queue.length > 1 ? queue.shift() : queue[0];
      case 'migrate_cancel':
        queue.splice(0, queue.length, { status: 'cancelled' });
        return {};
      case 'cont':
        state.status = 'running';
        return {};
      default:
        return {};
    }
  });
  monitors.push(mon);
  const qmp = await QmpClient.connect(sock, 2000);
  clients.push(qmp);
  return { qmp, mon, state };
}

function hooks(over: Partial<SettleHooks> = {}): SettleHooks & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    whyNotFinish: () => null,
    finishSave: async () => {
      calls.push('finish');
      return { ok: true };
    },
    alive: () => true,
    kill: async () => {
      calls.push('kill');
    },
    discard: (all) => calls.push(all ? 'discard-all' : 'discard-partial'),
    ...over,
  };
}

describe('settling an adopted VM', () => {
  it('a running VM is adopted as it is', async () => {
    const { qmp, mon } = await vm('running');
    const h = hooks();
    expect(await settleAdopted(qmp, h)).toEqual({ kind: 'running' });
    expect(mon.received).toEqual(['query-status']);
    expect(h.calls).toEqual([]);
  });

  it('a plain pause (QMP stop, no save) is continued', async () => {
    const { qmp, mon, state } = await vm('paused', [{}]);
    const h = hooks();
    const r = await settleAdopted(qmp, h);
    expect(r).toMatchObject({ kind: 'continued', note: expect.stringMatching(/found paused \(paused, no save under way\) and was continued/) });
    expect(mon.received).toEqual(['query-status', 'query-migrate', 'cont']);
    expect(state.status).toBe('running');
    expect(h.calls).toEqual(['discard-partial']);
  });

  it('a save that completed before its supervisor died is finished into a saved state', async () => {
    const { qmp, mon } = await vm('postmigrate', [{ status: 'completed' }]);
    const h = hooks();
    const r = await settleAdopted(qmp, h);
    expect(r).toMatchObject({ kind: 'suspend-finished', note: expect.stringMatching(/save was completed, and the VM resumes from it/) });
    expect(h.calls).toEqual(['finish']);
    expect(mon.received).not.toContain('cont');
  });

  it('a save still writing is waited for, then finished', async () => {
    const { qmp, mon } = await vm('finish-migrate', [{ status: 'active' }, { status: 'active' }, { status: 'device' }, { status: 'completed' }]);
    const h = hooks();
    expect((await settleAdopted(qmp, h)).kind).toBe('suspend-finished');
    expect(mon.received.filter((c) => c === 'query-migrate').length).toBe(4);
    expect(h.calls).toEqual(['finish']);
  });

  it('a save that cannot be finished is cancelled and the VM runs on', async () => {
    const { qmp, mon, state } = await vm('paused', [{ status: 'active' }]);
    const h = hooks({ whyNotFinish: () => 'the command line it was started with is unknown' });
    const r = await settleAdopted(qmp, h);
    expect(r).toMatchObject({ kind: 'suspend-cancelled', note: expect.stringMatching(/cannot be completed \(the command line it was started with is unknown\); the save was cancelled and the VM runs on/) });
    expect(mon.received.slice(-3)).toEqual(['migrate_cancel', 'query-migrate', 'cont']);
    expect(state.status).toBe('running');
    expect(h.calls).toEqual(['discard-partial']);
  });

  it('a save that fails while waited for is cancelled with its reason', async () => {
    const { qmp } = await vm('paused', [{ status: 'active' }, { status: 'failed', 'error-desc': 'No space left on device' }]);
    const h = hooks();
    const r = await settleAdopted(qmp, h);
    expect(r).toMatchObject({ kind: 'suspend-cancelled', note: expect.stringContaining('the save ended failed: No space left on device') });
    expect(h.calls).toEqual(['discard-partial']);
  });

  it('when committing the completed save fails: a live VM runs on, a gone one boots cold', async () => {
    const live = await vm('postmigrate', [{ status: 'completed' }]);
    const failing = { finishSave: async () => ({ ok: false as const, reason: 'QEMU did not exit after saving' }) };
    expect(await settleAdopted(live.qmp, hooks(failing))).toMatchObject({ kind: 'suspend-cancelled', note: expect.stringContaining('QEMU did not exit after saving') });
    expect(live.mon.received).toContain('cont');

    const gone = await vm('postmigrate', [{ status: 'completed' }]);
    const h = hooks({ ...failing, alive: () => false });
    expect(await settleAdopted(gone.qmp, h)).toMatchObject({ kind: 'discarded', note: expect.stringMatching(/completing it failed .*boots cold/) });
    expect(h.calls).toEqual(['discard-all']);
  });

  it('a resume that never finished loading is killed and its saved state discarded', async () => {
    const { qmp, mon } = await vm('inmigrate');
    const h = hooks();
    const r = await settleAdopted(qmp, h);
    expect(r).toMatchObject({ kind: 'discarded', note: expect.stringMatching(/still loading its saved state.*boots cold/) });
    expect(h.calls).toEqual(['kill', 'discard-all']);
    expect(mon.received).toEqual(['query-status']);
  });

  it('finds the containers the interrupted suspend stopped, past the failed starts since', () => {
    const ev = <K extends JournalKind>(kind: K, data: JournalEvents[K]): LoggedEvent => ({ ts: 't', kind, ...data }) as unknown as LoggedEvent;
    const log = [
      ev('state', { state: 'running' }),
      ev('state', { state: 'stopping', mode: 'suspend' }),
      ev('containers-stopped-for-suspend', { names: ['web', 'db'] }),
      ev('state', { state: 'starting' }),
      ev('adopt', { pid: 1 }),
      ev('state', { state: 'error' }),
      ev('state', { state: 'starting' }),
      ev('adopt', { pid: 1 }),
    ];
    expect(containersHeldBySuspend(log)).toEqual([
      { id: 'web', name: 'web' },
      { id: 'db', name: 'db' },
    ]);
    expect(containersHeldBySuspend([...log.slice(0, 3), ev('state', { state: 'stopped' }), ev('state', { state: 'starting' })])).toEqual([]);
    expect(containersHeldBySuspend([ev('state', { state: 'running' }), ev('state', { state: 'starting' })])).toEqual([]);
  });
});
