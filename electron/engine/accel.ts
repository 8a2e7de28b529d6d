// Which accelerator works on this host. KVM can exist yet be unusable (a nested kvm-pvm hangs in the
// kernel decompressor), and HVF can be refused (a Mac VM without nested virtualisation), so the
// supervisor probes the hardware accelerator on its first boot and falls back to TCG. A failure is
// remembered, so later starts go straight to TCG, only when it is the accelerator's: QEMU's own
// output names it, or the guest ran nothing under it yet booted under TCG. Anything else (a bad
// mount, a refused QEMU option, a slow QMP socket) fails TCG just the same and is not the
// accelerator's fault. An entry holds for one host kernel and one QEMU build, for a week at most.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Accel, AccelMemoInfo, Arch } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';
import { nativeArch } from './host-arch.js';
import type { HostArchOptions } from './host-arch.js';
import { accelCandidates } from './qemu-args.js';
import type { QemuHost } from './qemu-args.js';

/** How long a verdict holds: a QEMU or macOS fix should not wait for the next version bump. */
export const ACCEL_MEMO_TTL_MS = 7 * 24 * 3600 * 1000;

/** How to make Berth try the hardware accelerator again (shown by `berth status`). */
export const ACCEL_RETRY = '`berth start --retry-accel` (or delete ~/.berth/_cache/accel.json)';

interface MemoEntry {
  usable: boolean;
  reason: string;
  at: string;
  accel: Accel;
  guest: Arch;
  osRelease: string;
  qemuVersion: string;
}

type AccelMemo = Record<string, MemoEntry>;

export interface AccelKey {
  accel: Accel;
  guest: Arch;
  /** the first line of `qemu-system-* --version` */
  qemuVersion: string;
  /** default os.release() */
  osRelease?: string;
}

export function hostOfProcess(opts: HostArchOptions = {}): QemuHost {
  const platform = opts.platform ?? process.platform;
  return { os: platform === 'darwin' ? 'darwin' : 'linux', arch: nativeArch(opts) === 'arm64' ? 'arm64' : 'x64' };
}

export function accelMemoFile(cacheDir: string): string {
  return path.join(cacheDir, 'accel.json');
}

function memoKey(k: AccelKey): string {
  return `${k.accel}/${k.guest}/${k.osRelease ?? os.release()}/${k.qemuVersion}`;
}

function isEntry(v: unknown): v is MemoEntry {
  const e = v as MemoEntry;
  return !!e && typeof e === 'object' && typeof e.usable === 'boolean' && typeof e.at === 'string' && typeof e.qemuVersion === 'string' && typeof e.osRelease === 'string';
}

/** The memo without malformed entries (older Berth versions keyed by kernel only: those are dropped). */
function readMemo(file: string): AccelMemo {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
  const memo: AccelMemo = {};
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) if (isEntry(v)) memo[k] = v;
  return memo;
}

function expired(e: MemoEntry, now: Date): boolean {
  const at = Date.parse(e.at);
  return !Number.isFinite(at) || now.getTime() - at > ACCEL_MEMO_TTL_MS || at > now.getTime() + 60_000;
}

function writeMemo(cacheDir: string, memo: AccelMemo, now: Date): void {
  for (const [k, e] of Object.entries(memo)) if (expired(e, now)) delete memo[k];
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  writeFileAtomic(accelMemoFile(cacheDir), JSON.stringify(memo, null, 2));
}

export function rememberAccel(cacheDir: string, key: AccelKey, usable: boolean, reason: string, now = new Date()): void {
  const memo = readMemo(accelMemoFile(cacheDir));
  memo[memoKey(key)] = { usable, reason, at: now.toISOString(), accel: key.accel, guest: key.guest, osRelease: key.osRelease ?? os.release(), qemuVersion: key.qemuVersion };
  writeMemo(cacheDir, memo, now);
}

/** Forget every remembered failure (`berth start --retry-accel`); returns how many there were. */
export function forgetAccelFailures(cacheDir: string, now = new Date()): number {
  const memo = readMemo(accelMemoFile(cacheDir));
  let n = 0;
  for (const [k, e] of Object.entries(memo)) {
    if (!e.usable) {
      delete memo[k];
      if (!expired(e, now)) n++;
    }
  }
  if (fs.existsSync(accelMemoFile(cacheDir))) writeMemo(cacheDir, memo, now);
  return n;
}

/** The failures that still send starts on this host kernel to TCG (for `berth status`). */
export function rememberedAccelFailures(cacheDir: string, opts: { guest?: Arch; now?: Date; osRelease?: string } = {}): AccelMemoInfo[] {
  const now = opts.now ?? new Date();
  const release = opts.osRelease ?? os.release();
  return Object.values(readMemo(accelMemoFile(cacheDir)))
    .filter((e) => !e.usable && !expired(e, now) && e.osRelease === release && (!opts.guest || e.guest === opts.guest))
    .map((e) => ({ accel: e.accel, guest: e.guest, qemuVersion: e.qemuVersion, reason: e.reason, at: e.at, expires: new Date(Date.parse(e.at) + ACCEL_MEMO_TTL_MS).toISOString() }));
}

const NAMES: Record<Accel, RegExp> = {
  // HV_ERROR, HV_DENIED, HV_UNSUPPORTED… are Hypervisor.framework's return codes as QEMU prints them.
  hvf: /\bhvf\b|\bHV_[A-Z_]+\b|\bhv_[a-z_]+\b|hypervisor\.framework|kern\.hv_support/i,
  kvm: /\bkvm\b|\/dev\/kvm/i,
  tcg: /\btcg\b/i,
};

/**
 * Does QEMU's output blame the accelerator ("failed to initialize kvm", "Could not access KVM kernel
 * module", "-accel hvf: Error: HV_UNSUPPORTED", "invalid accelerator hvf")? Text QEMU merely echoes
 * from our own command line (an option it rejects, a path that happens to contain "kvm") is removed
 * first, so `-machine virt,accel=hvf,highmem=on: <another problem>` does not count.
 */
export function namesAccelerator(output: string, accel: Accel, args: readonly string[] = []): boolean {
  // Whole arguments (QEMU prefixes an option's error with it) and the paths inside them (QEMU
  // quotes a path it cannot open on its own).
  const paths = args.flatMap((a) => a.split(/(?<!,),(?!,)/).map((p) => p.slice(p.indexOf('=') + 1).replace(/,,/g, ',')).filter((p) => p.startsWith('/')));
  let text = output;
  for (const a of [...args, ...paths].sort((x, y) => y.length - x.length)) if (a.length > 2) text = text.split(a).join(' ');
  return NAMES[accel].test(text) || /\baccelerator\b/i.test(text);
}

/**
 * A first boot under `key.accel` failed with `output` from QEMU: remembered (the reason kept) only
 * when that output blames the accelerator. Returns whether it was remembered.
 */
export function noteAccelFailure(cacheDir: string, key: AccelKey, f: { output: string; reason: string; args: readonly string[] }, now = new Date()): boolean {
  const blamed = namesAccelerator(f.output, key.accel, f.args);
  if (blamed) rememberAccel(cacheDir, key, false, f.reason, now);
  return blamed;
}

export interface AccelChoice {
  accel: Accel;
  /** true when this accelerator has not been seen to work yet: the boot doubles as the probe */
  probe: boolean;
  note?: string;
}

export interface ChooseAccelOptions {
  /** the QEMU that will run (first line of --version): a verdict for another build does not apply */
  qemuVersion: string;
  env?: NodeJS.ProcessEnv;
  now?: Date;
  osRelease?: string;
}

/** Pick the accelerator: hardware if available and not known bad, else TCG (with the reason). */
export function chooseAccel(host: QemuHost, guest: Arch, cacheDir: string, opts: ChooseAccelOptions): AccelChoice {
  const env = opts.env ?? process.env;
  const now = opts.now ?? new Date();
  const forced = env.BERTH_ACCEL as Accel | undefined;
  if (forced === 'tcg' || forced === 'kvm' || forced === 'hvf') return { accel: forced, probe: false, note: `forced by BERTH_ACCEL=${forced}` };
  const memo = readMemo(accelMemoFile(cacheDir));
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
    const found = memo[memoKey({ accel: a, guest, qemuVersion: opts.qemuVersion, ...(opts.osRelease ? { osRelease: opts.osRelease } : {}) })];
    const m = found && !expired(found, now) ? found : undefined;
    if (m && !m.usable) {
      notes.push(`${a.toUpperCase()} unusable here (${m.reason}); using TCG until ${new Date(Date.parse(m.at) + ACCEL_MEMO_TTL_MS).toISOString().slice(0, 10)}, or ${ACCEL_RETRY}`);
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
