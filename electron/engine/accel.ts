// Which accelerator works on this host. KVM can exist yet be unusable (FACTS: a nested kvm-pvm
// hangs in the kernel decompressor), so the supervisor probes it by watching for the first serial
// output and remembers a failure per (host kernel, QEMU binary) so later starts go straight to TCG.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Accel, Arch } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';
import { accelCandidates } from './qemu-args.js';
import type { QemuHost } from './qemu-args.js';

interface AccelMemo {
  [key: string]: { usable: boolean; reason: string; at: string };
}

export function hostOfProcess(): QemuHost {
  return { os: process.platform === 'darwin' ? 'darwin' : 'linux', arch: process.arch === 'arm64' ? 'arm64' : 'x64' };
}

function memoKey(accel: Accel, guest: Arch): string {
  return `${accel}/${guest}/${os.release()}`;
}

function readMemo(file: string): AccelMemo {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as AccelMemo;
  } catch {
    return {};
  }
}

export function rememberAccel(cacheDir: string, accel: Accel, guest: Arch, usable: boolean, reason: string): void {
  const file = path.join(cacheDir, 'accel.json');
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const memo = readMemo(file);
  memo[memoKey(accel, guest)] = { usable, reason, at: new Date().toISOString() };
  writeFileAtomic(file, JSON.stringify(memo, null, 2));
}

export interface AccelChoice {
  accel: Accel;
  /** true when this accelerator has not been seen to work yet: the boot doubles as the probe */
  probe: boolean;
  note?: string;
}

/** Pick the accelerator: hardware if available and not known bad, else TCG (with the reason). */
export function chooseAccel(host: QemuHost, guest: Arch, cacheDir: string, env: NodeJS.ProcessEnv = process.env): AccelChoice {
  const forced = env.BERTH_ACCEL as Accel | undefined;
  if (forced === 'tcg' || forced === 'kvm' || forced === 'hvf') return { accel: forced, probe: false, note: `forced by BERTH_ACCEL=${forced}` };
  const memo = readMemo(path.join(cacheDir, 'accel.json'));
  const notes: string[] = [];
  for (const a of accelCandidates(host, guest)) {
    if (a === 'tcg') return { accel: 'tcg', probe: false, ...(notes.length ? { note: notes.join('; ') } : guestNote(host, guest)) };
    if (a === 'kvm') {
      try {
        fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
      } catch {
        notes.push('no usable /dev/kvm; using TCG (software emulation, several times slower)');
        continue;
      }
    }
    const m = memo[memoKey(a, guest)];
    if (m && !m.usable) {
      notes.push(`${a.toUpperCase()} unusable here (${m.reason}); using TCG`);
      continue;
    }
    return { accel: a, probe: !m };
  }
  return { accel: 'tcg', probe: false };
}

function guestNote(host: QemuHost, guest: Arch): { note?: string } {
  const native = (host.arch === 'arm64' && guest === 'aarch64') || (host.arch === 'x64' && guest === 'x86_64');
  return native ? {} : { note: `${guest} guest on a ${host.arch} host: TCG (software emulation)` };
}
