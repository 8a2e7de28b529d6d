// The words a start and a stop show the user (progress lines, step details, stop and resume notes).
// The engine prints them and the UI tests' fake backend (tests/fixtures/fake-backend.ts) shows them
// from this one place, so the fake cannot show wording the engine never prints. Imports nothing
// outside shared/.
import { STEPS } from './status.js';
import type { Progress, StepName, StepState } from './status.js';

/** The `stop` task's progress lines, in the order a stop can show them. */
export const STOP_PROGRESS = {
  /** the stop begins (the state says stopping) */
  begin: 'Stopping Docker',
  /** suspend: QEMU writes the VM's memory to saved.vmstate (with a fraction) */
  save: 'Saving the VM to disk',
  /** shutdown, the power-off ladder (vm/vm.ts): ACPI powerdown first… */
  powerdown: 'Asking the guest to power off',
  /** …then signals */
  terminate: 'Terminating QEMU',
} as const;

/** suspend: containers that bind a shared folder are stopped before the save */
export function stoppingHoldersLabel(count: number): string {
  return `Stopping ${count} container(s) that use shared folders`;
}

/** The `boot` task's progress event for one readiness step's change: the step's own label. */
export function stepProgress(name: StepName, state: StepState): Progress {
  const idx = STEPS.findIndex((s) => s.name === name);
  const done = state === 'done' ? idx + 1 : idx;
  return { task: 'boot', step: name, label: STEPS[idx]!.label, done, total: STEPS.length, fraction: done / STEPS.length };
}

/** The details a resume (suspend/resume.ts) writes on its steps. */
export const RESUME_DETAIL = {
  checking: 'checking the saved state',
  launching: 'resuming',
  loading: 'loading the saved state',
  savedAt: (at: string) => `saved state of ${at}`,
  diskUnchanged: (generation: number) => `unchanged since the save (generation ${generation})`,
  resumedIn: (ms: number) => `resumed in ${ms} ms`,
} as const;

/** lastStop.note when a stop asked to suspend powered off instead */
export function shutInsteadNote(reason: string): string {
  return `shut down instead of suspending: ${reason}`;
}

/** why a save was refused: the VM was starting, stopping, degraded… */
export function notRunningReason(state: string): string {
  return `the VM was ${state}, not running`;
}

/** lastStop.note of `stop --shutdown` on a stopped VM with a saved state */
export const SAVED_DISCARDED_NOTE = 'the saved state was discarded; the next start boots cold';

/** resume.reason when a setting the saved state depends on changed: "settings changed since the save: cpus 4 → 6" */
export function settingsChangedReason(changes: ReadonlyArray<{ key: string; from: unknown; to: unknown }>): string {
  const one = ({ key, from, to }: { key: string; from: unknown; to: unknown }) => (typeof from === 'object' || typeof to === 'object' ? `${key} changed` : `${key} ${String(from)} → ${String(to)}`);
  return `settings changed since the save: ${changes.map(one).join(', ')}`;
}

/** A failed start's hint when the failure brought none of its own: the step's hint and where the boot console is. */
export function failedStepHint(step: StepName, serialLog: string): string {
  return `${STEPS.find((s) => s.name === step)!.hint} Serial log: ${serialLog}`;
}

/** The `image` task's progress lines while the start's image step fetches or builds the guest image. */
export const IMAGE_PROGRESS = {
  building: (arch: string, what: string) => `Building the ${arch} guest image: ${what}`,
  downloading: (arch: string) => `Downloading the ${arch} guest image`,
} as const;
