// The supervisor's adopt path against a stand-in QEMU (a live process whose command line opens the
// instance's disk) and a scripted QMP monitor: what a start does with a VM a dead supervisor left.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../electron/engine/atomic.js';
import { defaultSettings, loadSettings, saveSettings } from '../../../electron/engine/config.js';
import { BerthFailure } from '../../../electron/engine/errors.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { Supervisor } from '../../../electron/engine/supervisor.js';
import type { Rung } from '../../../electron/engine/lifecycle/ladder.js';
import { LADDERS } from '../../../electron/engine/lifecycle/ladders.js';
import { qemuName } from '../../../electron/engine/vm/identity.js';
import { exited, fakeAgent, fakeImage, fakeMonitor, qemuLookalike, removeScratch, scratch } from './helpers/stand-ins.js';
import type { FakeMonitor, QmpScript } from './helpers/stand-ins.js';

afterAll(removeScratch);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An instance directory as a supervisor that died leaves it, with its QEMU (a stand-in) still running. */
function leftBehind() {
  const home = scratch('berth-sup-');
  const p = instancePaths('adt', home);
  ensureInstanceDir(p);
  saveSettings(p.settings, { ...defaultSettings(), mounts: [], docker: { context: false, defaultSocket: false } });
  const settings = loadSettings(p.settings);
  const imageDir = fakeImage(path.join(home, 'image'));
  fs.writeFileSync(p.disk, 'disk');
  const q = qemuLookalike(p.disk, qemuName(p));
  cleanups.push(() => q.stop());
  fs.writeFileSync(p.qemuPid, String(q.pid));
  writeFileAtomic(p.state, JSON.stringify({ pid: q.pid, sshPort: 2222, bootId: 'b00t', accel: 'tcg', imageDir, settings, qemuVersion: '7.2.0', startedAt: new Date().toISOString() }));
  fs.writeFileSync(p.qemuArgs, JSON.stringify({ binary: '/bin/true', args: ['-name', `${qemuName(p)},process=${qemuName(p)}`, '-drive', `if=none,id=root,file=${p.disk},format=qcow2`] }));
  return { p, q, home };
}

async function monitor(p: InstancePaths, script: QmpScript, opts: { greet?: boolean } = {}): Promise<FakeMonitor> {
  const m = await fakeMonitor(p.qmp, (cmd, sock) => (cmd.execute === 'query-name' ? { name: qemuName(p) } : script(cmd, sock)), opts);
  cleanups.push(() => m.close());
  return m;
}

function supervisor(p: InstancePaths, home: string, execs: string[] = []): Supervisor {
  const sup = new Supervisor({ paths: p, forker: fakeAgent(execs), env: { ...process.env, HOME: home }, startTimeoutMs: 20_000 });
  cleanups.push(() => sup.close());
  return sup;
}

/** Stop the start after the adopt: no guest image and no QEMU here to boot or resume. */
function noBootHere(sup: Supervisor, extra: Record<string, unknown> = {}): void {
  Object.assign(sup, {
    imageFor: async () => {
      throw new BerthFailure('E_IMAGE', 'no guest image in this test');
    },
    ...extra,
  });
}

const events = (p: InstancePaths) => EventLog.readLast(p.events);

describe('adopting a VM left by a dead supervisor', () => {
  it('a failed adopt leaves the live VM\'s pid file, monitor socket and state in place', { timeout: 20_000 }, async () => {
    const { p, q, home } = leftBehind();
    await monitor(p, () => undefined, { greet: false }); // connects, never greets
    const st = await supervisor(p, home).start();
    expect(st.state).toBe('error');
    expect(st.error?.message).toMatch(/the VM \(QEMU pid \d+\) runs, but its monitor does not answer/);
    for (const f of [p.qemuPid, p.qmp, p.state]) expect(fs.existsSync(f), f).toBe(true);
    expect(q.exitCode).toBeNull();
    expect(q.signalCode).toBeNull();
  });

  it('a paused VM is continued and adopted, with a note', async () => {
    const { p, q, home } = leftBehind();
    let status = 'paused';
    const mon = await monitor(p, (cmd) => {
      if (cmd.execute === 'query-status') return { status, running: status === 'running' };
      if (cmd.execute === 'cont') status = 'running';
      return {};
    });
    const execs: string[] = [];
    const sup = supervisor(p, home, execs);
    Object.assign(sup, { applyGuestState: async () => undefined });
    const st = await sup.start();
    expect(st.state).toBe('running');
    expect(st.pids.qemu).toBe(q.pid);
    expect(st.adoptNote).toMatch(/found paused \(paused, no save under way\) and was continued/);
    expect(mon.received.slice(0, 4)).toEqual(['query-name', 'query-status', 'query-migrate', 'cont']);
    // It stood still: its clock is set, as after a resume.
    expect(execs.some((c) => c.startsWith('date -u -s @'))).toBe(true);
    expect(events(p).find((e) => e.kind === 'adopt-settled')).toMatchObject({ outcome: 'continued' });
    const stopped = await sup.stop({ force: true });
    expect(stopped.state).toBe('stopped');
    await exited(q);
  });

  it('a suspend cut short after QEMU wrote the state is completed: the record is written and the start resumes from it', async () => {
    const { p, q, home } = leftBehind();
    const log = new EventLog(p.events);
    log.append('state', { state: 'stopping', mode: 'suspend' });
    log.append('containers-stopped-for-suspend', { names: ['web'] });
    fs.writeFileSync(p.savedStatePartial, 'the guest memory');
    const mon = await monitor(p, (cmd, sock) => {
      if (cmd.execute === 'query-status') return { status: 'postmigrate', running: false };
      if (cmd.execute === 'query-migrate') return { status: 'completed' };
      if (cmd.execute === 'quit') {
        q.stop();
        sock.end();
      }
      return {};
    });
    const sup = supervisor(p, home);
    let atResume: { record: Record<string, unknown>; state: string } | undefined;
    // The resume way, up to its first rung: what the completed save left for it.
    const atFirstRung: Rung = {
      step: 'image',
      run: async () => {
        atResume = { record: JSON.parse(fs.readFileSync(p.savedRecord, 'utf8')) as Record<string, unknown>, state: fs.readFileSync(p.savedState, 'utf8') };
        return 'not-this-way';
      },
    };
    noBootHere(sup, { ladders: { ...LADDERS, resume: [atFirstRung] } });
    const st = await sup.start();
    expect(mon.received).toContain('quit');
    await exited(q);
    expect(atResume?.state).toBe('the guest memory');
    expect(atResume?.record).toMatchObject({ sshPort: 2222, bootId: 'b00t', accel: 'tcg', args: JSON.parse(fs.readFileSync(p.qemuArgs, 'utf8')).args, containersToRestart: [{ id: 'web', name: 'web' }] });
    expect(st.adoptNote).toMatch(/stopped in the middle of a suspend; the save was completed/);
    expect(events(p).find((e) => e.kind === 'adopt-settled')).toMatchObject({ outcome: 'suspend-finished' });
    expect(fs.existsSync(p.qemuPid)).toBe(false);
  });

  it('a resume that never finished loading is killed, its saved state discarded, and the start boots cold saying why', async () => {
    const { p, q, home } = leftBehind();
    fs.writeFileSync(p.savedState, 'the guest memory');
    fs.writeFileSync(p.savedRecord, '{}');
    const mon = await monitor(p, (cmd) => (cmd.execute === 'query-status' ? { status: 'inmigrate', running: false } : {}));
    const sup = supervisor(p, home);
    noBootHere(sup);
    const st = await sup.start();
    await exited(q);
    expect(q.signalCode).toBe('SIGKILL');
    expect(mon.received).not.toContain('cont');
    expect(fs.existsSync(p.savedState) || fs.existsSync(p.savedRecord)).toBe(false);
    expect(st.resume).toMatchObject({ resumed: false, reason: expect.stringMatching(/still loading its saved state.*boots cold/) });
    expect(st.adoptNote).toBe(st.resume?.reason);
    expect(st.error?.message).toBe('no guest image in this test'); // it went on to the cold boot
    expect(events(p).find((e) => e.kind === 'adopt-settled')).toMatchObject({ outcome: 'discarded' });
  });
});
