// Whole starts against a stand-in QEMU (helpers/stand-in-qemu.mjs: QMP, pid file, serial marker,
// exec: save and load, no VM) and a host agent with no guest behind it: a saved state that does not
// load falls back to a cold boot and says so; the host agent dying in the ladder fails the start.
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentForker, AgentProcess } from '../../../electron/engine/agent-host.js';
import type { ToAgent } from '../../../electron/engine/agent/protocol.js';
import { formatStatus } from '../../../electron/cli/format.js';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { ensureInstanceDir, instancePaths, runFiles, writeImageMemo } from '../../../electron/engine/instance/index.js';
import type { InstancePaths } from '../../../electron/engine/instance/index.js';
import { isAlive } from '../../../electron/engine/pid.js';
import { Supervisor } from '../../../electron/engine/supervisor.js';
import { fakeAgent, fakeImage, removeScratch, scratch } from './helpers/stand-ins.js';

const STAND_IN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'stand-in-qemu.mjs');
const saved = { qemu: process.env.BERTH_QEMU, load: process.env.STAND_IN_LOAD, start: process.env.STAND_IN_START, marker: process.env.STAND_IN_MARKER };
beforeAll(() => {
  // findQemu reads BERTH_QEMU from the process; the stand-in reads STAND_IN_LOAD from its own.
  process.env.BERTH_QEMU = STAND_IN;
});
afterAll(() => {
  for (const [k, v] of [['BERTH_QEMU', saved.qemu], ['STAND_IN_LOAD', saved.load], ['STAND_IN_START', saved.start], ['STAND_IN_MARKER', saved.marker]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  removeScratch();
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  delete process.env.STAND_IN_LOAD;
  delete process.env.STAND_IN_START;
  delete process.env.STAND_IN_MARKER;
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An instance with a disk (standalone qcow2, so no base to check) made from a stand-in image. */
function instance(stopMode: 'suspend' | 'shutdown'): { p: InstancePaths; home: string } {
  const home = scratch('berth-res-');
  const p = instancePaths('res', home);
  ensureInstanceDir(p);
  const settings = { ...defaultSettings(), mounts: [], docker: { ...defaultSettings().docker, context: false }, stopMode };
  saveSettings(p.settings, settings);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', p.disk, `${settings.diskGiB}G`]);
  writeImageMemo(p, { dir: fakeImage(path.join(home, 'image')), recipeHash: 'test-recipe' });
  return { p, home };
}

function supervisor(p: InstancePaths, home: string, forker: AgentForker = fakeAgent(), startTimeoutMs = 20_000): Supervisor {
  const sup = new Supervisor({ paths: p, forker, env: { ...process.env, HOME: home, BERTH_ACCEL: 'tcg' }, startTimeoutMs });
  // No guest behind the stand-in: the apply step has nothing to ask.
  Object.assign(sup, { applyGuestState: async () => undefined });
  cleanups.push(async () => {
    await sup.stop({ force: true });
    await sup.close();
  });
  return sup;
}

const journal = (p: InstancePaths) => EventLog.readLast(p.events);

describe('supervisor starts against a stand-in QEMU (no VM)', () => {
  it('QEMU refusing to start fails the qemu step with what QEMU said, and leaves no run file', { timeout: 30_000 }, async () => {
    process.env.STAND_IN_START = 'fail';
    const { p, home } = instance('shutdown');
    const st = await supervisor(p, home).start();
    expect(st.state).toBe('error');
    expect(st.error?.step).toBe('qemu');
    expect(st.error?.message).toContain('stand-in refuses to start');
    for (const s of ['image', 'disk']) expect(st.steps.find((x) => x.name === s)?.state).toBe('done');
    expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
  });

  it('a kernel that never boots fails the start at the kernel step with the serial log as the hint, and the QEMU it launched is gone', { timeout: 30_000 }, async () => {
    process.env.STAND_IN_MARKER = 'none';
    const { p, home } = instance('shutdown');
    const st = await supervisor(p, home, fakeAgent(), 4000).start();
    expect(st.state).toBe('error');
    expect(st.error?.step).toBe('kernel');
    expect(st.error?.hint).toContain('serial.log');
    const qemuPid = journal(p).map((e) => (e.kind === 'step' && e.step === 'qemu' ? /pid (\d+)/.exec(String(e.detail ?? ''))?.[1] : undefined)).filter(Boolean).pop();
    expect(isAlive(Number(qemuPid))).toBe(false);
    expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
  });

  it('a saved state that does not load: the VM boots cold, and the status says why', { timeout: 30_000 }, async () => {
    const { p, home } = instance('suspend');
    const sup = supervisor(p, home);
    expect((await sup.start()).state).toBe('running');
    const stopped = await sup.stop({});
    expect(stopped.lastStop).toMatchObject({ how: 'suspend' });
    expect(fs.existsSync(p.savedState) && fs.existsSync(p.savedRecord)).toBe(true);

    process.env.STAND_IN_LOAD = 'fail';
    const st = await sup.start();
    expect(st.state).toBe('running');
    expect(st.resume).toEqual({ resumed: false, reason: 'QEMU could not resume it: qemu-system-x86_64: load of migration failed: Invalid argument' });
    expect(formatStatus(st)).toContain('last start: booted cold: QEMU could not resume it: qemu-system-x86_64: load of migration failed: Invalid argument');
    // Used once: a state that did not load is gone, and this boot's steps are the cold boot's.
    expect(fs.existsSync(p.savedState) || fs.existsSync(p.savedRecord)).toBe(false);
    expect(st.steps.find((s) => s.name === 'kernel')?.detail).toBe('tcg');
    expect(journal(p).filter((e) => e.kind === 'resume-skipped')).toHaveLength(1);
    expect(journal(p).filter((e) => e.kind === 'state').pop()).toMatchObject({ state: 'running' });
  });

  it('a saved state that loads: the VM resumes from it', { timeout: 30_000 }, async () => {
    const { p, home } = instance('suspend');
    const sup = supervisor(p, home);
    await sup.start();
    await sup.stop({});
    const st = await sup.start();
    expect(st.state).toBe('running');
    expect(st.resume).toMatchObject({ resumed: true });
    expect(st.steps.find((s) => s.name === 'kernel')?.detail).toMatch(/^resumed in \d+ ms$/);
    expect(formatStatus(st)).toMatch(/last start: resumed from a saved state \(loaded in \d+\.\d s\)/);
  });

  it('the host agent dying during the ladder fails the start at once, naming it, and takes down the QEMU this start launched', { timeout: 30_000 }, async () => {
    const { p, home } = instance('shutdown');
    // An agent that gets SSH up, then dies.
    const dying: AgentForker = () => {
      const ee = new EventEmitter();
      const proc: AgentProcess = {
        pid: 3_000_000,
        send(m: ToAgent) {
          if (m.type !== 'init') return;
          setImmediate(() => ee.emit('message', { type: 'step', name: 'ssh', state: 'done' }));
          setTimeout(() => ee.emit('exit', 1, null), 50);
        },
        kill: () => undefined,
        on: ((e: string, fn: (...a: unknown[]) => void) => ee.on(e, fn)) as AgentProcess['on'],
      };
      return proc;
    };
    const sup = supervisor(p, home, dying);
    const t0 = Date.now();
    const st = await sup.start();
    expect(Date.now() - t0).toBeLessThan(10_000); // not the start's timeout
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ code: 'E_AGENT', step: 'boot-marker', message: 'the host agent exited with code 1 during the start', hint: `See ${p.agentLog}.` });
    const qemuPid = journal(p).map((e) => (e.kind === 'step' && e.step === 'qemu' ? /pid (\d+)/.exec(String(e.detail ?? ''))?.[1] : undefined)).filter(Boolean).pop();
    expect(isAlive(Number(qemuPid))).toBe(false);
    expect(runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f))).toEqual([]);
  });
});
