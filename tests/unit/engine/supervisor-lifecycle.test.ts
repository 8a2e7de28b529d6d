// The supervisor's stop modes, restart-needed, a stop during a start and a failed start's teardown,
// against a stand-in QEMU (a live process whose command line opens the instance's disk), a scripted
// QMP monitor and a host agent with no guest behind it. No VM.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AgentForker } from '../../../electron/engine/agent-host.js';
import { STEPS } from '../../../electron/shared/status.js';
import { writeFileAtomic } from '../../../electron/engine/atomic.js';
import { defaultSettings, loadSettings, saveSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { ensureInstanceDir, instancePaths, runFiles } from '../../../electron/engine/instance/index.js';
import type { InstancePaths } from '../../../electron/engine/instance/index.js';
import { Supervisor } from '../../../electron/engine/supervisor.js';
import { qemuName } from '../../../electron/engine/vm/identity.js';
import { ofKind } from '../../../electron/shared/journal.js';
import { agentStandIn, exited, fakeAgent, fakeImage, fakeMonitor, qemuLookalike, removeScratch, scratch, silentAgent } from './helpers/stand-ins.js';
import type { QmpScript } from './helpers/stand-ins.js';

afterAll(removeScratch);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A running VM (a stand-in) whose supervisor is gone: the next start adopts it. */
async function runningVm(script: (q: ReturnType<typeof qemuLookalike>) => QmpScript = () => () => ({})) {
  const home = scratch('berth-life-');
  const p = instancePaths('life', home);
  ensureInstanceDir(p);
  saveSettings(p.settings, { ...defaultSettings(), mounts: [], docker: { context: false, defaultSocket: false }, stopMode: 'shutdown' });
  const settings = loadSettings(p.settings);
  const imageDir = fakeImage(path.join(home, 'image'));
  fs.writeFileSync(p.disk, 'disk');
  const q = qemuLookalike(p.disk, qemuName(p));
  cleanups.push(() => q.stop());
  fs.writeFileSync(p.qemuPid, String(q.pid));
  writeFileAtomic(p.state, JSON.stringify({ pid: q.pid, sshPort: 2222, bootId: 'b00t', accel: 'tcg', imageDir, settings, qemuVersion: '7.2.0', startedAt: new Date().toISOString() }));
  fs.writeFileSync(p.qemuArgs, JSON.stringify({ binary: '/bin/true', args: ['-name', `${qemuName(p)},process=${qemuName(p)}`], sshPort: 2222 }));
  const inner = script(q);
  const mon = await fakeMonitor(p.qmp, (cmd, sock) => {
    if (cmd.execute === 'query-name') return { name: qemuName(p) };
    if (cmd.execute === 'query-status') return { status: 'running', running: true };
    return inner(cmd, sock);
  });
  cleanups.push(() => mon.close());
  return { p, q, home, mon };
}

function supervisor(p: InstancePaths, home: string, forker: AgentForker = fakeAgent()): Supervisor {
  const sup = new Supervisor({ paths: p, forker, env: { ...process.env, HOME: home }, startTimeoutMs: 20_000 });
  // No guest behind the stand-in: the apply step has nothing to ask.
  Object.assign(sup, { applyGuestState: async () => undefined });
  cleanups.push(() => sup.close());
  return sup;
}

const journal = (p: InstancePaths) => EventLog.readLast(p.events);

describe('supervisor lifecycle (no VM)', () => {
  it('stop (shutdown mode) asks the guest to power off, and the VM going is a powerdown; its run files go with it', async () => {
    const { p, q, home, mon } = await runningVm((q) => (cmd) => {
      if (cmd.execute === 'system_powerdown') setTimeout(() => q.stop(), 50);
      return {};
    });
    const sup = supervisor(p, home);
    expect((await sup.start()).state).toBe('running');
    const st = await sup.stop({});
    await exited(q);
    expect(st.state).toBe('stopped');
    expect(st.lastStop).toMatchObject({ how: 'shutdown' });
    expect(mon.received).toContain('system_powerdown');
    expect(journal(p).filter(ofKind('state')).pop()).toMatchObject({ state: 'stopped', how: 'powerdown' });
    expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
  });

  it('stop --force skips the powerdown: SIGTERM', async () => {
    const { p, q, home, mon } = await runningVm();
    const sup = supervisor(p, home);
    await sup.start();
    const st = await sup.stop({ force: true });
    await exited(q);
    expect(st.state).toBe('stopped');
    expect(q.signalCode).toBe('SIGTERM');
    expect(mon.received).not.toContain('system_powerdown');
    expect(journal(p).filter(ofKind('state')).find((e) => e.state === 'stopping')).toMatchObject({ force: true, mode: 'shutdown' });
    expect(journal(p).filter(ofKind('state')).pop()).toMatchObject({ state: 'stopped', how: 'SIGTERM' });
  });

  it('suspend mode when a save could not be resumed (settings changed) shuts down instead, and says why in one line', async () => {
    const { p, q, home } = await runningVm((q) => (cmd) => {
      if (cmd.execute === 'system_powerdown') setTimeout(() => q.stop(), 50);
      return {};
    });
    saveSettings(p.settings, { ...loadSettings(p.settings), stopMode: 'suspend' });
    const sup = supervisor(p, home);
    await sup.start();
    // Settings changed since the start: a save could not be resumed into them.
    await sup.invoke('settings.set', { patch: { cpus: loadSettings(p.settings).cpus === 1 ? 2 : 1 } });
    const st = await sup.stop({});
    await exited(q);
    expect(st.lastStop).toMatchObject({ how: 'shutdown', note: 'shut down instead of suspending: settings changed since the VM started; they apply at this fresh boot' });
    expect(journal(p).find((e) => e.kind === 'suspend-failed')).toMatchObject({ reason: expect.stringContaining('settings changed') });
    expect(fs.existsSync(p.savedState) || fs.existsSync(p.savedRecord)).toBe(false);
  });

  it('a changed cpu count says a restart is needed; a live setting does not', async () => {
    const { p, home } = await runningVm();
    const sup = supervisor(p, home);
    await sup.start();
    expect(sup.status().restartNeeded).toBe(false);
    const live = await sup.invoke('settings.set', { patch: { stopMode: 'shutdown' } });
    expect(live).toMatchObject({ ok: true, value: { restartNeeded: false } });
    const r = await sup.invoke('settings.set', { patch: { cpus: loadSettings(p.settings).cpus === 1 ? 2 : 1 } });
    expect(r).toMatchObject({ ok: true, value: { restartNeeded: true } });
    expect(sup.status().restartNeeded).toBe(true);
    await sup.stop({ force: true });
  });

  it('a stop during the start cancels it at the next check: stopped, the cancel journaled with its step, the VM gone', async () => {
    const { p, q, home } = await runningVm();
    const sup = supervisor(p, home, silentAgent);
    const starting = sup.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.status().state).toBe('starting');
    const stopped = await sup.stop({ force: true });
    const st = await starting;
    await exited(q);
    expect(st.state).toBe('stopped');
    expect(stopped.state).toBe('stopped');
    expect(journal(p).find((e) => e.kind === 'start-cancelled')).toMatchObject({ step: 'ssh' });
    expect(journal(p).filter(ofKind('state')).some((e) => e.state === 'stopped' && e.cancelled)).toBe(true);
  });

  // Each of the agent's steps failing, as the agent reports it: the start names that step and its
  // code, keeps the steps before it done, and tears down everything it brought up.
  for (const [i, step] of STEPS.slice(4, 8).entries()) {
    it(`a start whose agent fails at ${step.name} names the step and its code, tears the VM down and leaves no run file`, async () => {
      const { p, q, home } = await runningVm();
      const failing = agentStandIn(3_000_000 + i, (reply) => {
        for (const s of STEPS.slice(4, 4 + i)) reply({ type: 'step', name: s.name, state: 'done' });
        reply({ type: 'step', name: step.name, state: 'running' });
        reply({ type: 'step', name: step.name, state: 'failed', detail: `${step.name} broke here` });
      });
      const st = await supervisor(p, home, failing).start();
      await exited(q);
      expect(st.state).toBe('error');
      expect(st.error).toMatchObject({ step: step.name, code: step.name === 'docker' ? 'E_DOCKER' : step.name === 'socket' ? 'E_SOCKET' : 'E_SSH', message: `${step.name} broke here` });
      expect(st.steps.find((s) => s.name === step.name)?.state).toBe('failed');
      for (const before of STEPS.slice(4, 4 + i)) expect(st.steps.find((s) => s.name === before.name)?.state).toBe('done');
      expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
    });
  }

  it('a start that fails in the apply step names that step, tears the VM down and leaves no run file', async () => {
    const { p, q, home } = await runningVm();
    const sup = supervisor(p, home);
    Object.assign(sup, {
      applyGuestState: async () => {
        throw new Error('the guest would not answer');
      },
    });
    const st = await sup.start();
    await exited(q);
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ step: 'apply', message: 'the guest would not answer' });
    expect(st.steps.find((s) => s.name === 'apply')?.state).toBe('failed');
    expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
  });
});
