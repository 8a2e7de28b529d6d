// Finding QEMU at run time: an explicit path (BERTH_QEMU) first, then the copy bundled in the app
// (<resources>/qemu/bin/qemu-system-<arch>, made by build/mac/bundle-qemu.sh), then PATH. Each
// candidate is run with --version and must meet the minimum for this host; the first that does
// wins, and the ones passed over are reported as notes. Also: the CPU model for HVF on Apple
// Silicon (the M4/SME case) and the host probe behind it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Arch } from '../shared/status.js';
import { BerthFailure } from './errors.js';

export type ExecFn = (file: string, args: string[]) => Promise<{ stdout: string; stderr: string }>;

/** child_process.execFile with a timeout, as a promise. */
export const defaultExec: ExecFn = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000, encoding: 'utf8', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });

export class QemuError extends BerthFailure {
  constructor(message: string, hint?: string) {
    super('E_QEMU', message, hint);
    this.name = 'QemuError';
  }
}

// ---------------------------------------------------------------------------------------------
// Versions

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
  /** the first line of `--version`, e.g. "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)" */
  text: string;
}

/** Parse `qemu-system-* --version` (or `qemu-img --version`) output; null when it is not QEMU's. */
export function parseQemuVersion(output: string): QemuVersion | null {
  const m = /(?:QEMU emulator|qemu-img) version (\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return null;
  const line = output.split(/\r?\n/).find((l) => l.includes(m[0])) ?? m[0];
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0), text: line.trim() };
}

export function formatVersion(v: Pick<QemuVersion, 'major' | 'minor' | 'micro'>): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

/** Compare dotted versions ("8.2.1", or parsed objects): negative, zero or positive. */
export function compareVersions(a: string | Pick<QemuVersion, 'major' | 'minor' | 'micro'>, b: string | Pick<QemuVersion, 'major' | 'minor' | 'micro'>): number {
  const parts = (v: typeof a): number[] => (typeof v === 'string' ? v.split('.').map((n) => Number(n) || 0) : [v.major, v.minor, v.micro]);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface MinimumVersion {
  version: string;
  why: string;
}

/**
 * The oldest QEMU Berth accepts on this host.
 * - macOS: 8.2.1, Lima's floor on Apple Silicon. The edk2 firmware shipped with QEMU 8.2.0 does
 *   not boot under HVF (QEMU issue #1990, fixed in 8.2.1; Lima carried a forked edk2 until then,
 *   lima-vm/lima#2170). Berth boots the kernel directly, so that firmware bug would not hit the
 *   default path; sharing Lima's floor keeps us on versions many users run under HVF and keeps
 *   the supported matrix small. The bundled QEMU is newer anyway: the floor only matters when
 *   BERTH_QEMU or a QEMU on PATH (Homebrew, MacPorts) is used. x86_64 guests on a Mac (TCG) get
 *   the same floor: one rule per OS.
 * - Linux: 7.2. Debian 12 ships 7.2, which boots our direct-kernel guests under KVM and TCG
 *   (measured on Debian 12) and has everything we use (hostfwd_add over QMP, virtio-9p,
 *   -accel tcg,thread=multi, pauth-impdef).
 */
export function minimumQemuVersion(platform: NodeJS.Platform): MinimumVersion {
  if (platform === 'darwin') {
    return { version: '8.2.1', why: 'the minimum on macOS (Lima’s floor: QEMU 8.2.0’s edk2 firmware does not boot under HVF, qemu#1990)' };
  }
  return { version: '7.2.0', why: 'the minimum on Linux (Debian 12’s QEMU, which Berth is tested with)' };
}

// ---------------------------------------------------------------------------------------------
// Finding the binary

export type QemuSource = 'env' | 'bundled' | 'path';

export interface QemuBinary {
  arch: Arch;
  /** absolute path of qemu-system-<arch> */
  path: string;
  source: QemuSource;
  version: QemuVersion;
  /** qemu-img next to it, or on PATH (undefined when neither exists) */
  qemuImg?: string;
  /** share/qemu of the bundle (firmware, option ROMs); undefined for a system QEMU, which knows its own */
  dataDir?: string;
  /** candidates passed over, and why */
  notes: string[];
}

export interface FindQemuOptions {
  arch: Arch;
  /** Electron's process.resourcesPath (the bundled QEMU is at <resourcesPath>/qemu/bin/); omit outside the app */
  resourcesPath?: string;
  /** default process.env.PATH */
  envPath?: string;
  /** an explicit binary (default process.env.BERTH_QEMU) */
  explicit?: string;
  /** default process.platform */
  platform?: NodeJS.Platform;
  exec?: ExecFn;
}

export function qemuSystemName(arch: Arch): string {
  return `qemu-system-${arch}`;
}

/** <resources>/qemu/bin/qemu-system-<arch> */
export function bundledQemuPath(resourcesPath: string, arch: Arch): string {
  return path.join(resourcesPath, 'qemu', 'bin', qemuSystemName(arch));
}

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every executable `name` on a PATH string, in order, without duplicates. */
export function searchPath(name: string, envPath: string | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.resolve(dir, name);
    if (seen.has(file)) continue;
    seen.add(file);
    if (isExecutable(file)) out.push(file);
  }
  return out;
}

function installHint(platform: NodeJS.Platform, arch: Arch): string {
  if (platform === 'darwin') {
    return 'Berth.app bundles QEMU: reinstall Berth from the dmg. Running from source, `brew install qemu` (or `brew upgrade qemu`) or set BERTH_QEMU to a qemu-system binary.';
  }
  const pkg = arch === 'aarch64' ? 'qemu-system-arm' : 'qemu-system-x86';
  return `Install QEMU: \`sudo apt-get install ${pkg} qemu-utils\` (Debian/Ubuntu) or your distribution’s package, or set BERTH_QEMU to a qemu-system binary.`;
}

/**
 * Find a usable qemu-system-<arch>: BERTH_QEMU, then the bundle, then PATH. Throws a QemuError
 * (E_QEMU, with a hint) naming every candidate and why it was refused.
 */
export async function findQemu(opts: FindQemuOptions): Promise<QemuBinary> {
  const platform = opts.platform ?? process.platform;
  const exec = opts.exec ?? defaultExec;
  const name = qemuSystemName(opts.arch);
  const envPath = opts.envPath ?? process.env.PATH;
  const explicit = opts.explicit ?? process.env.BERTH_QEMU;
  const min = minimumQemuVersion(platform);

  const candidates: { file: string; source: QemuSource }[] = [];
  if (explicit) candidates.push({ file: path.resolve(explicit), source: 'env' });
  if (opts.resourcesPath) candidates.push({ file: bundledQemuPath(opts.resourcesPath, opts.arch), source: 'bundled' });
  for (const file of searchPath(name, envPath)) candidates.push({ file, source: 'path' });

  const notes: string[] = [];
  let found = 0;
  for (const c of candidates) {
    const label = c.source === 'env' ? `BERTH_QEMU=${c.file}` : c.source === 'bundled' ? `bundled ${c.file}` : c.file;
    const refuse = (why: string): void => {
      // An explicit choice is never silently replaced by another binary.
      if (c.source === 'env') throw new QemuError(`${label}: ${why}`, 'Fix or unset BERTH_QEMU.');
      notes.push(`${label}: ${why}`);
    };
    if (!isExecutable(c.file)) {
      if (c.source === 'env' || fs.existsSync(c.file)) refuse('not found or not executable');
      continue;
    }
    found++;
    let out: string;
    try {
      const r = await exec(c.file, ['--version']);
      out = `${r.stdout}\n${r.stderr}`;
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { signal?: string; stderr?: string };
      const why = err.signal ? `killed by ${err.signal}` : (err.stderr?.trim().split('\n')[0] || err.message);
      refuse(`failed to run (${why})${c.source === 'bundled' && platform === 'darwin' ? '; check its signature with `codesign --verify --verbose`' : ''}`);
      continue;
    }
    const version = parseQemuVersion(out);
    if (!version) {
      refuse(`not QEMU (\`--version\` printed ${JSON.stringify(out.trim().slice(0, 80))})`);
      continue;
    }
    if (compareVersions(version, min.version) < 0) {
      refuse(`QEMU ${formatVersion(version)} is older than ${min.version}, ${min.why}`);
      continue;
    }
    const dir = path.dirname(c.file);
    const sibling = path.join(dir, 'qemu-img');
    const qemuImg = isExecutable(sibling) ? sibling : searchPath('qemu-img', envPath)[0];
    const dataDir = c.source === 'bundled' ? path.normalize(path.join(dir, '..', 'share', 'qemu')) : undefined;
    return {
      arch: opts.arch,
      path: c.file,
      source: c.source,
      version,
      ...(qemuImg ? { qemuImg } : {}),
      ...(dataDir && fs.existsSync(dataDir) ? { dataDir } : {}),
      notes,
    };
  }

  const looked = [opts.resourcesPath ? bundledQemuPath(opts.resourcesPath, opts.arch) : undefined, 'PATH'].filter((x): x is string => !!x);
  const tooOld = notes.some((n) => n.includes('is older than'));
  const message = found === 0 && notes.length === 0 ? `${name} not found (looked in ${looked.join(' and ')})` : `no usable ${name}: ${notes.join('; ')}`;
  const hint =
    tooOld && platform === 'darwin'
      ? `Upgrade QEMU to ${min.version} or later (\`brew upgrade qemu\`), or reinstall Berth, which bundles a recent QEMU.`
      : installHint(platform, opts.arch);
  throw new QemuError(message, hint);
}

// ---------------------------------------------------------------------------------------------
// HVF and the M4 / SME case

/**
 * The CPU model to give QEMU under HVF. On M4 Macs with macOS ≥ 15.2 the host CPU reports SME
 * (FEAT_SME), which QEMU's `-cpu host` passes through but HVF cannot run: the guest kernel dies
 * early (qemu#2665). `-cpu max` masks SME. Rancher Desktop ships a QEMU patched to mask SME;
 * Lima switches to `max` the same way we do.
 */
export function hvfCpuModel(host: { sme: boolean }): 'host' | 'max' {
  return host.sme ? 'max' : 'host';
}

export interface HvfHostInfo {
  /** `sysctl kern.hv_support` = 1: Hypervisor.framework usable (false off macOS) */
  hvSupport: boolean;
  /** `sysctl hw.optional.arm.FEAT_SME` = 1 (an unknown key — older macOS, Intel — means no SME) */
  sme: boolean;
  cpuModel: 'host' | 'max';
  notes: string[];
}

async function sysctl(exec: ExecFn, key: string): Promise<string | undefined> {
  try {
    const { stdout } = await exec('/usr/sbin/sysctl', ['-n', key]);
    return stdout.trim();
  } catch {
    return undefined; // "sysctl: unknown oid '…'" exits 1
  }
}

/** Probe HVF support and SME on macOS; elsewhere returns hvSupport false without running anything. */
export async function probeHvfHost(opts: { platform?: NodeJS.Platform; exec?: ExecFn } = {}): Promise<HvfHostInfo> {
  const platform = opts.platform ?? process.platform;
  if (platform !== 'darwin') return { hvSupport: false, sme: false, cpuModel: 'host', notes: [] };
  const exec = opts.exec ?? defaultExec;
  const [hv, sme] = await Promise.all([sysctl(exec, 'kern.hv_support'), sysctl(exec, 'hw.optional.arm.FEAT_SME')]);
  const info: HvfHostInfo = { hvSupport: hv === '1', sme: sme === '1', cpuModel: 'host', notes: [] };
  info.cpuModel = hvfCpuModel(info);
  if (!info.hvSupport) {
    info.notes.push(hv === undefined ? 'cannot read kern.hv_support: assuming no HVF' : 'kern.hv_support is 0: this Mac (or VM) has no Hypervisor.framework support; using TCG');
  }
  if (info.sme) info.notes.push('this CPU has SME (M4 or later): using -cpu max instead of -cpu host (qemu#2665)');
  return info;
}
