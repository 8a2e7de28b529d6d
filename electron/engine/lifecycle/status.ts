// The status of a live instance: the instance directory's part (instance/status.ts, also what
// `berth status` shows with no supervisor), then what only the running supervisor knows — the run,
// the start's notes, the last stop, why it is degraded — and each service's slice.
import fs from 'node:fs';
import type { Settings } from '../../shared/settings.js';
import type { GuestLinkStatus, Status, StepRecord, StopInfo, VmError, VmState } from '../../shared/status.js';
import { rememberedAccelFailures } from '../accel.js';
import type { InstancePaths } from '../instance.js';
import { baseStatus } from '../instance/index.js';
import type { Service } from '../services/service.js';
import { savedInfo } from '../suspend/saved-state.js';
import type { Run } from '../vm/run.js';
import type { StartNotes } from './ladder.js';

/** What the supervisor knows now. */
export interface LiveFacts {
  paths: InstancePaths;
  /** the run's settings, or berth.yaml's with no run */
  settings: Settings | undefined;
  state: VmState;
  steps: StepRecord[];
  run: Run | null;
  agentPid: number | undefined;
  restartNeeded: boolean;
  services: readonly Service[];
  notes: StartNotes;
  error: VmError | undefined;
  startedAt: string | undefined;
  readyMs: number | undefined;
  lastStop: StopInfo | undefined;
  degradedReason: string | undefined;
  guestLink?: GuestLinkStatus | undefined;
}

export function liveStatus(f: LiveFacts): Status {
  const s = f.settings;
  const arch = s?.arch ?? 'x86_64';
  const st = baseStatus(f.paths, s, {
    state: f.state,
    steps: f.steps,
    pids: {
      supervisor: process.pid,
      ...(f.run ? { qemu: f.run.vm.pid } : {}),
      ...(f.agentPid ? { agent: f.agentPid } : {}),
    },
    restartNeeded: f.restartNeeded,
  });
  for (const svc of f.services) svc.status?.(st);
  if (f.run) st.accel = f.run.accel;
  try {
    const d = fs.statSync(f.paths.disk);
    st.diskUsage = { fileBytes: d.blocks * 512, virtualBytes: (s?.diskGiB ?? 0) * 2 ** 30 };
  } catch {
    // no disk yet
  }
  if (f.notes.accel) st.accelNote = f.notes.accel;
  const accelMemo = rememberedAccelFailures(f.paths.cache, { guest: arch });
  if (accelMemo.length) st.accelMemo = accelMemo;
  if (f.error) st.error = f.error;
  if (f.startedAt) st.startedAt = f.startedAt;
  if (f.readyMs !== undefined) st.readyMs = f.readyMs;
  const saved = f.run ? undefined : savedInfo(f.paths);
  if (saved) st.saved = saved;
  if (f.notes.resume) st.resume = f.notes.resume;
  if (f.notes.adopt) st.adoptNote = f.notes.adopt;
  if (f.lastStop) st.lastStop = f.lastStop;
  if (f.guestLink && f.run) st.guestLink = f.guestLink;
  if (f.degradedReason && f.state === 'degraded' && !st.error) {
    st.error = { code: 'E_AGENT', message: f.degradedReason, hint: 'See agent.log in the instance directory.', at: new Date().toISOString() };
  }
  return st;
}
