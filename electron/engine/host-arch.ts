// The machine's own CPU architecture, not the process's: an x64 Node (an Intel build, or one
// installed under Rosetta) on an Apple Silicon Mac reports process.arch 'x64', yet the VM must be
// the arm64 guest under HVF, not an x86_64 guest under slow TCG.
import { execFileSync } from 'node:child_process';

/** `sysctl -n <key>` → its value, or undefined for an unknown key (exit 1). */
export type SysctlRunner = (key: string) => string | undefined;

export const runSysctl: SysctlRunner = (key) => {
  try {
    return execFileSync('/usr/sbin/sysctl', ['-n', key], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
};

export interface HostArchOptions {
  platform?: NodeJS.Platform;
  arch?: string;
  sysctl?: SysctlRunner;
}

let cached: string | undefined;

/**
 * 'arm64' when this process runs translated by Rosetta (`sysctl.proc_translated` = 1) or the
 * hardware says arm64 (`hw.optional.arm64` = 1: a sysctl child may run natively and so not be
 * translated itself); otherwise process.arch.
 */
export function nativeArch(opts: HostArchOptions = {}): string {
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  if (platform !== 'darwin' || arch !== 'x64') return arch;
  // This process's own answer cannot change while it runs: ask once.
  const ownProcess = opts.platform === undefined && opts.arch === undefined && opts.sysctl === undefined;
  if (ownProcess && cached) return cached;
  const sysctl = opts.sysctl ?? runSysctl;
  const result = sysctl('sysctl.proc_translated') === '1' || sysctl('hw.optional.arm64') === '1' ? 'arm64' : arch;
  if (ownProcess) cached = result;
  return result;
}
