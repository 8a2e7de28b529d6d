import type { LIMITS as SharedLimits } from '../../../electron/shared/settings.js';
import type { Status, VmState } from '../../../electron/shared/status.js';

/**
 * The renderer may only `import type` from shared/, so the limits are repeated here — typed as
 * `typeof LIMITS`, whose literal types make tsc fail if the two ever differ.
 */
export const LIMITS: typeof SharedLimits = {
  cpus: { min: 1, max: 64 },
  memoryGiB: { min: 1, max: 256 },
  diskGiB: { min: 8, max: 4096 },
};

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const STATE_LABEL: Record<VmState, string> = {
  stopped: 'Stopped',
  starting: 'Starting',
  running: 'Running',
  stopping: 'Stopping',
  error: 'Error',
  degraded: 'Running with problems',
};

/** The VM runs (maybe with problems): Docker is, or is about to be, usable. */
export function isUpState(s: VmState | null | undefined): boolean {
  return s === 'running' || s === 'degraded';
}

export function isUp(s: Status | null): boolean {
  return isUpState(s?.state);
}

export function archName(arch: string): string {
  return arch === 'x86_64' ? 'x86-64 (amd64)' : 'ARM64 (aarch64)';
}

export function accelName(accel: string | undefined): string {
  switch (accel) {
    case 'hvf':
      return 'Hypervisor.framework';
    case 'kvm':
      return 'KVM';
    case 'tcg':
      return 'QEMU TCG (emulated CPU)';
    default:
      return '—';
  }
}

/** A moment the user will recognise: the time today, else the date and time. */
export function formatWhen(iso: string | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return `today at ${time}`;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} at ${time}`;
}
