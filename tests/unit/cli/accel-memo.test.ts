// `berth status` shows a remembered accelerator failure and how to clear it.
import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../../electron/cli/format.js';
import { STEPS } from '../../../electron/shared/status.js';
import type { Status } from '../../../electron/shared/status.js';

const base: Status = {
  instance: 'default',
  state: 'running',
  arch: 'aarch64',
  accel: 'tcg',
  accelNote: 'HVF unusable here (QEMU failed to start with hvf: Error: HV_UNSUPPORTED); using TCG',
  cpus: 4,
  memoryGiB: 4,
  diskGiB: 64,
  dockerSocket: '/Users/u/.berth/default/docker.sock',
  dockerHost: 'unix:///Users/u/.berth/default/docker.sock',
  steps: STEPS.map((s) => ({ name: s.name, label: s.label, state: 'done' })),
  pids: {},
  ports: [],
  mounts: [],
  emulation: { enabled: false, state: 'disabled', foreignArch: 'x86_64' },
  restartNeeded: false,
  serialLog: '/Users/u/.berth/default/serial.log',
};

describe('berth status and the accelerator memo', () => {
  it('shows the remembered failure, its QEMU, its expiry and the way to retry', () => {
    const text = formatStatus({
      ...base,
      accelMemo: [{ accel: 'hvf', guest: 'aarch64', qemuVersion: 'QEMU emulator version 9.2.2', reason: 'Error: HV_UNSUPPORTED', at: '2026-12-01T12:00:00.000Z', expires: '2026-12-08T12:00:00.000Z' }],
    });
    expect(text).toContain('HVF remembered as unusable with QEMU emulator version 9.2.2 (Error: HV_UNSUPPORTED) until 2026-12-08; `berth start --retry-accel` tries it again');
  });
  it('says nothing when nothing is remembered', () => {
    expect(formatStatus(base)).not.toContain('remembered');
  });
});
