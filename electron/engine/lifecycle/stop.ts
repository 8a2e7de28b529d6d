// Bringing a VM down: a stop (saved to disk in suspend mode when it can be, otherwise the guest's
// disks synced and the power-off ladder) and the teardown after a failed start or a QEMU that died.
// Both end the same way: the host agent down, the run's files gone, every service's onStop.
import { shutInsteadNote } from '../../shared/progress.js';
import type { AgentHost } from '../agent-host.js';
import type { Guest } from '../guest/index.js';
import type { PortsService } from '../services/ports.js';
import type { Service, ServiceContext } from '../services/service.js';
import { isAlive } from '../qemu-process.js';
import { saveVm } from '../suspend/save.js';
import type { SaveContext } from '../suspend/save.js';
import type { Run } from '../vm/run.js';

/** What bringing the VM down needs of the engine. */
export interface StopHost {
  readonly agent: AgentHost;
  readonly guest: Guest;
  /** in the order their hooks run */
  readonly services: readonly Service[];
  readonly ports: PortsService;
  run(): Run | null;
  /** no QEMU is this supervisor's any more */
  dropRun(): void;
  saveContext(): SaveContext;
  journal: ServiceContext['journal'];
  /** a stop progress line */
  progress(label: string): void;
  cleanupFiles(): Promise<void>;
}

export interface StopOutcome {
  /** 'suspend', or the power-off ladder's rung that ended QEMU */
  how: string;
  note?: string;
  bytes?: number;
}

/** A stop's work once the state says stopping: save or power off, then the run's files and the services. */
export async function powerDown(h: StopHost, o: { mode: 'suspend' | 'shutdown'; force: boolean; was: string }): Promise<StopOutcome> {
  const out: StopOutcome = { how: '' };
  if (o.mode === 'suspend') {
    const r = await saveVm(h.saveContext(), h.run(), o.was);
    if (r.ok) {
      out.how = 'suspend';
      out.bytes = r.bytes;
      if (r.note) out.note = r.note;
    } else {
      // Suspend is an optimisation; stopping is what the user asked for. Say why in one line.
      out.note = shutInsteadNote(r.reason);
      h.journal('suspend-failed', { reason: r.reason });
    }
  }
  if (!out.how) {
    if (!o.force && h.agent.pid) await h.guest.sync(5000).catch(() => undefined);
    await h.agent.stop();
    out.how = await powerOff(h, o.force);
  }
  await h.cleanupFiles();
  for (const svc of h.services) svc.onStop?.();
  h.dropRun();
  h.ports.clear();
  return out;
}

/** The VM's power-off ladder (vm/vm.ts), its rungs shown as stop progress. */
export async function powerOff(h: StopHost, force: boolean): Promise<string> {
  const run = h.run();
  if (!run) return 'not running';
  return run.vm.powerOff({ force, progress: (label) => h.progress(label) });
}

/** After a failure: stop whatever this start brought up, in reverse order. */
export async function teardown(h: StopHost): Promise<void> {
  for (const svc of h.services) svc.onStop?.();
  await h.agent.stop();
  h.ports.clear();
  const run = h.run();
  if (run && isAlive(run.vm.pid)) {
    await powerOff(h, true).catch(() => undefined);
  }
  h.run()?.vm.detach();
  h.dropRun();
  await h.cleanupFiles();
}
