// Which QEMU runs this VM, under which accelerator, and the command line it gets: the bundled QEMU
// first, then BERTH_QEMU / PATH, each version-checked; HVF, KVM or TCG by what the host offers and
// what failed here before (accel.ts).
import type { Settings } from '../../shared/settings.js';
import type { Accel } from '../../shared/status.js';
import { chooseAccel } from '../accel.js';
import type { GuestImage } from '../image/local.js';
import type { InstancePaths } from '../instance.js';
import { buildQemuCommand } from '../qemu-args.js';
import type { QemuCommand, QemuHost } from '../qemu-args.js';
import { findQemu, probeHvfHost } from '../qemu-binary.js';
import type { QemuSource } from '../qemu-binary.js';
import { toolPath } from '../tools.js';
import { qemuName } from './identity.js';

export type QemuChoice = { qemu: { path: string; version: string }; bin: { path: string; dataDir: string | undefined; hvfCpu: 'host' | 'max' }; accel: Accel; probe: boolean };

export interface ChoiceEnv {
  host: QemuHost;
  paths: InstancePaths;
  env: NodeJS.ProcessEnv;
  resourcesPath: string | undefined;
}

/** The QEMU and accelerator for this start; `note` says why the accelerator is not the best one. */
export async function chooseQemu(
  e: ChoiceEnv,
  settings: Settings,
): Promise<{ choice: QemuChoice; note?: string; found: { path: string; source: QemuSource; version: string; notes: string[] } }> {
  const qemu = await findQemu({ arch: settings.arch, ...(e.resourcesPath ? { resourcesPath: e.resourcesPath } : {}), envPath: await toolPath({ env: e.env }) });
  const hvf = await probeHvfHost();
  let choice = chooseAccel(e.host, settings.arch, e.paths.cache, { env: e.env, qemuVersion: qemu.version.text });
  if (choice.accel === 'hvf' && !hvf.hvSupport) choice = { accel: 'tcg', probe: false, note: hvf.notes.join('; ') };
  return {
    choice: { qemu: { path: qemu.path, version: qemu.version.text }, bin: { path: qemu.path, dataDir: qemu.dataDir, hvfCpu: hvf.cpuModel }, accel: choice.accel, probe: choice.probe },
    ...(choice.note ? { note: choice.note } : {}),
    found: { path: qemu.path, source: qemu.source, version: qemu.version.text, notes: qemu.notes },
  };
}

/** The full command line for this instance's VM. */
export function vmCommand(
  e: Pick<ChoiceEnv, 'host' | 'paths'>,
  settings: Settings,
  image: GuestImage,
  accel: Accel,
  sshPort: number,
  mounts: { tag: string; location: string; writable: boolean }[],
  qemuBin: QemuChoice['bin'],
): QemuCommand {
  const { paths } = e;
  const cmd = buildQemuCommand({
    host: e.host,
    guest: settings.arch,
    accel,
    hvfCpu: qemuBin.hvfCpu,
    cpus: settings.cpus,
    memoryGiB: settings.memoryGiB,
    sshPort,
    mounts,
    name: qemuName(paths),
    files: {
      kernel: image.kernel,
      initrd: image.initrd,
      disk: paths.disk,
      seed: paths.seed,
      qmp: paths.qmp,
      qmpDebug: paths.qmpDebug,
      serialSock: paths.serialSock,
      guestSock: paths.guestSock,
      serialLog: paths.serialLog,
      pidfile: paths.qemuPid,
    },
  });
  cmd.binary = qemuBin.path;
  if (qemuBin.dataDir) cmd.args.unshift('-L', qemuBin.dataDir);
  return cmd;
}
