// What one run of the VM was started with: its QEMU process, the guest's SSH port and boot id,
// the accelerator, image, settings and SSH keys. A save records all of it; an adopt reads it back.
import type { Settings } from '../../shared/settings.js';
import type { Accel } from '../../shared/status.js';
import type { GuestImage } from '../image/local.js';
import type { QemuCommand } from '../qemu-args.js';
import type { SshMaterial } from '../ssh-keys.js';
import type { Vm } from './vm.js';

export interface Run {
  vm: Vm;
  sshPort: number;
  bootId: string;
  accel: Accel;
  image: GuestImage;
  settings: Settings;
  ssh: SshMaterial;
  /** the command line QEMU was started with (without -incoming) and the binary's version: a save records both */
  cmd?: QemuCommand;
  qemuVersion?: string;
}
