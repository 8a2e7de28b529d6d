// `berth status` from the instance directory alone: what a supervisor reports about itself starts
// from the same fields, and with no supervisor running these files and a few live checks are the
// whole truth. An inspection that finds nothing running cleans up what a crashed process left.
import fs from 'node:fs';
import type { Settings } from '../../shared/settings.js';
import { STEPS, foreignArchOf } from '../../shared/status.js';
import type { Status } from '../../shared/status.js';
import { rememberedAccelFailures } from '../accel.js';
import { loadSettings } from '../config.js';
import { EventLog } from '../event-log.js';
import type { InstancePaths } from '../instance.js';
import { readPid } from '../pid.js';
import { isOurQemu } from '../vm/identity.js';
import type { IdentityOptions } from '../vm/identity.js';
import { clearLockIfStale } from './lock.js';
import { removeRunFiles } from './run-files.js';
import { savedInfo } from './state-files.js';

export function settingsOrUndefined(p: InstancePaths): Settings | undefined {
  try {
    return loadSettings(p.settings);
  } catch {
    return undefined;
  }
}

type Live = Pick<Status, 'state' | 'steps' | 'pids' | 'restartNeeded'>;

/**
 * The fields every status has, in their order; the live ones come from whoever answers. No ports,
 * no mounts, and emulation as the settings ask, until their services fill them in.
 */
export function baseStatus(p: InstancePaths, settings: Settings | undefined, live: Live): Status {
  return {
    instance: p.name,
    state: live.state,
    arch: settings?.arch ?? 'x86_64',
    cpus: settings?.cpus ?? 0,
    memoryGiB: settings?.memoryGiB ?? 0,
    diskGiB: settings?.diskGiB ?? 0,
    dockerSocket: p.docker,
    dockerHost: `unix://${p.docker}`,
    steps: live.steps,
    pids: live.pids,
    ports: [],
    mounts: [],
    emulation: { enabled: settings?.emulation.enabled ?? false, state: 'unknown', foreignArch: foreignArchOf(settings?.arch ?? 'x86_64') },
    restartNeeded: live.restartNeeded,
    serialLog: p.serialLog,
  };
}

export function pendingSteps(): Status['steps'] {
  return STEPS.map((s) => ({ name: s.name, label: s.label, state: 'pending' }));
}

/** The truth from the instance files when no supervisor answers. Cleans stale files. */
export function offlineStatus(p: InstancePaths, identity: IdentityOptions = {}): Status {
  const settings = settingsOrUndefined(p);
  const arch = settings?.arch ?? 'x86_64';
  const base = baseStatus(p, settings, {
    state: 'stopped',
    steps: pendingSteps(),
    pids: {},
    restartNeeded: false,
  });
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
    removeRunFiles(p, ['vm', 'agent', 'control']);
    clearLockIfStale(p);
  }
  const last = [...EventLog.readLast(p.events)].reverse().find((e) => e.kind === 'state');
  if (last?.state === 'error' && last.error) return { ...base, state: 'error', error: last.error };
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
