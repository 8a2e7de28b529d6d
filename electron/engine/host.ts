// Who runs the supervisor: this process (the app, `berth start --foreground`, the daemon) or
// another one reached over the control socket. One supervisor per instance, guarded by a lock file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STEPS, foreignArchOf } from '../shared/status.js';
import type { Status, VmError } from '../shared/status.js';
import { rememberedAccelFailures } from './accel.js';
import type { AgentForker } from './agent-host.js';
import type { Backend } from './backend.js';
import { loadSettings } from './config.js';
import { ControlClient } from './control/client.js';
import { serveControl } from './control/server.js';
import { BerthFailure } from './errors.js';
import { savedInfo } from './suspend/saved-state.js';
import { EventLog } from './event-log.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { acquirePidLock, clearStaleLock, releasePidLock } from './pid-lock.js';
import { isAlive, readPid } from './pid.js';
import { Supervisor } from './supervisor.js';
import { isOurQemu, monitorNamesUs, signalOurQemu } from './vm/identity.js';
import type { IdentityOptions } from './vm/identity.js';

/** Take the instance's supervisor lock; a lock left by a dead process is taken over (by one taker only). */
export function acquireLock(p: InstancePaths): boolean {
  return acquirePidLock(p.supervisorPid);
}

export function releaseLock(p: InstancePaths): void {
  releasePidLock(p.supervisorPid);
}

export interface Hosted {
  supervisor: Supervisor;
  server: net.Server;
  close(): Promise<void>;
}

/** Run the supervisor in this process and serve it on control.sock. Returns null if another process holds the lock. */
export async function hostSupervisor(p: InstancePaths, opts: { forker?: AgentForker; resourcesPath?: string } = {}): Promise<Hosted | null> {
  checkSocketPaths(p);
  ensureInstanceDir(p);
  if (!acquireLock(p)) return null;
  const supervisor = new Supervisor({ paths: p, ...(opts.forker ? { forker: opts.forker } : {}), ...(opts.resourcesPath ? { resourcesPath: opts.resourcesPath } : {}) });
  let server: net.Server;
  try {
    server = await serveControl(p.control, supervisor);
  } catch (e) {
    releaseLock(p);
    throw e;
  }
  return {
    supervisor,
    server,
    close: async () => {
      server.close();
      fs.rmSync(p.control, { force: true });
      await supervisor.close();
      releaseLock(p);
    },
  };
}

export async function tryAttach(p: InstancePaths): Promise<ControlClient | null> {
  try {
    return await ControlClient.connect(p.control, 2000);
  } catch {
    return null;
  }
}

function daemonEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, '..', 'cli', 'daemon.js');
  return fs.existsSync(js) ? js : path.join(here, '..', 'cli', 'daemon.ts');
}

/** Attach to the instance's supervisor, starting a detached headless one if none runs. */
export async function attachOrSpawn(p: InstancePaths): Promise<ControlClient> {
  checkSocketPaths(p);
  const existing = await tryAttach(p);
  if (existing) return existing;
  ensureInstanceDir(p);
  const entry = daemonEntry();
  const out = fs.openSync(p.supervisorLog, 'a', 0o600);
  const child = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--experimental-strip-types'] : []), entry, '--instance', p.name], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, BERTH_HOME: p.home },
  });
  fs.closeSync(out);
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const c = await tryAttach(p);
    if (c) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BerthFailure('E_INTERNAL', 'the headless supervisor did not come up', `See ${p.supervisorLog}.`);
}

/** The truth from the instance files when no supervisor answers (DESIGN §4). Cleans stale files. */
export function offlineStatus(p: InstancePaths, identity: IdentityOptions = {}): Status {
  let settings;
  try {
    settings = loadSettings(p.settings);
  } catch {
    settings = undefined;
  }
  const arch = settings?.arch ?? 'x86_64';
  const base: Status = {
    instance: p.name,
    state: 'stopped',
    arch,
    cpus: settings?.cpus ?? 0,
    memoryGiB: settings?.memoryGiB ?? 0,
    diskGiB: settings?.diskGiB ?? 0,
    dockerSocket: p.docker,
    dockerHost: `unix://${p.docker}`,
    steps: STEPS.map((s) => ({ name: s.name, label: s.label, state: 'pending' })),
    pids: {},
    ports: [],
    mounts: [],
    emulation: { enabled: settings?.emulation.enabled ?? false, state: 'unknown', foreignArch: foreignArchOf(arch) },
    restartNeeded: false,
    serialLog: p.serialLog,
  };
  const saved = savedInfo(p);
  if (saved) base.saved = saved;
  const accelMemo = rememberedAccelFailures(p.cache, { guest: arch });
  if (accelMemo.length) base.accelMemo = accelMemo;
  const qpid = readPid(p.qemuPid);
  if (isOurQemu(qpid, p, identity)) {
    return {
      ...base,
      state: 'degraded',
      pids: { qemu: qpid },
      error: {
        code: 'E_AGENT',
        message: `the VM (QEMU pid ${qpid}) runs but its supervisor is gone`,
        hint: '`berth start` re-attaches to it; `berth stop` shuts it down.',
        at: new Date().toISOString(),
      },
    };
  }
  // Nothing runs: remove what a crashed process left behind, so the next start is clean.
  if (fs.existsSync(p.dir)) {
    for (const f of [p.qemuPid, p.qmp, p.qmpDebug, p.serialSock, p.docker, p.control]) fs.rmSync(f, { force: true });
    clearStaleLock(p.supervisorPid);
  }
  const last = [...EventLog.readLast(p.events)].reverse().find((e) => e.kind === 'state');
  if (last?.state === 'error' && last.error) return { ...base, state: 'error', error: last.error as VmError };
  if (last && (last.state === 'running' || last.state === 'starting' || last.state === 'degraded')) {
    return {
      ...base,
      state: 'error',
      error: {
        code: 'E_QEMU_EXITED',
        message: `the VM is gone: the last recorded state was "${String(last.state)}" at ${last.ts} and no QEMU or supervisor runs`,
        hint: `\`berth start\` boots it again. See ${p.qemuLog} and ${p.serialLog}.`,
        at: last.ts,
      },
    };
  }
  return base;
}

export type { Backend };

/** Stop a VM whose supervisor died: QMP powerdown, then signals (the same ladder, by pid, each time re-checked). */
export async function stopOrphan(p: InstancePaths, force = false, identity: IdentityOptions = {}): Promise<string> {
  const pid = readPid(p.qemuPid);
  if (!isOurQemu(pid, p, identity)) return 'not running';
  const { QmpClient } = await import('./qmp.js');
  const { waitGone } = await import('./qemu-process.js');
  let how = 'SIGTERM';
  try {
    const qmp = await QmpClient.connect(p.qmp, 3000);
    try {
      // A monitor that answers with another name is not our VM's, whatever the command line says.
      if (!(await monitorNamesUs(qmp, p)).ok) return 'not running';
      if (!force) {
        await qmp.execute('system_powerdown', undefined, 3000);
        if (await waitGone(pid, 30_000)) how = 'powerdown';
      }
    } finally {
      qmp.close();
    }
  } catch {
    // no monitor: the command line was the check
  }
  if (isAlive(pid)) {
    signalOurQemu(pid, p, 'SIGTERM', identity);
    if (!(await waitGone(pid, 5000))) {
      signalOurQemu(pid, p, 'SIGKILL', identity);
      await waitGone(pid, 5000);
      how = 'SIGKILL';
    }
  }
  for (const f of [p.qemuPid, p.qmp, p.qmpDebug, p.serialSock, p.docker, p.state]) fs.rmSync(f, { force: true });
  new EventLog(p.events).append('state', { state: 'stopped', how, orphan: true });
  return how;
}
