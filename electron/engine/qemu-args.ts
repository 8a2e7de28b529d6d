// The QEMU command line as a pure function of (host, guest arch, accelerator, settings, paths).
import type { Accel, Arch } from '../shared/status.js';

export interface QemuHost {
  os: 'darwin' | 'linux';
  /** Node's process.arch of the host */
  arch: 'arm64' | 'x64';
}

export interface QemuMount {
  tag: string;
  location: string;
  writable: boolean;
}

export interface QemuPlan {
  host: QemuHost;
  guest: Arch;
  accel: Accel;
  /** CPU model for HVF on Apple Silicon: `max` when the CPU has SME (M4 + macOS ≥ 15.2, qemu#2665) */
  hvfCpu?: 'host' | 'max';
  cpus: number;
  memoryGiB: number;
  sshPort: number;
  mounts: QemuMount[];
  files: {
    kernel: string;
    initrd: string;
    disk: string;
    seed: string;
    qmp: string;
    qmpDebug?: string;
    serialSock: string;
    /** the guest channel's host end (docs/guest-channel.md) */
    guestSock?: string;
    serialLog: string;
    pidfile: string;
  };
  name: string;
  /** extra state to restore from (suspend/resume) */
  incoming?: string;
}

export interface QemuCommand {
  binary: string;
  args: string[];
}

/** Which accelerators can even be tried for this host/guest pair, best first. */
export function accelCandidates(host: QemuHost, guest: Arch): Accel[] {
  const native = (host.arch === 'arm64' && guest === 'aarch64') || (host.arch === 'x64' && guest === 'x86_64');
  if (!native) return ['tcg'];
  return host.os === 'darwin' ? ['hvf', 'tcg'] : ['kvm', 'tcg'];
}

export function kernelCmdline(guest: Arch, accel?: Accel): string {
  const console = guest === 'aarch64' ? 'ttyAMA0' : 'ttyS0';
  return [
    'root=/dev/vda',
    'rw',
    'rootflags=discard',
    `console=${console}`,
    // Debian's kernel enables AppArmor, which makes `docker run` fail without the userspace part.
    'apparmor=0',
    'net.ifnames=0',
    'quiet',
    'loglevel=4',
    'systemd.show_status=auto',
    'systemd.log_color=0',
    'panic=-1',
    // The guest's listener watch patches no kernel text under TCG (resources/guest/agent/listeners.c).
    ...(accel ? [`berth.accel=${accel}`] : []),
  ].join(' ');
}

function machineArgs(p: QemuPlan): string[] {
  const n = p.cpus;
  const smp = ['-smp', `${n},sockets=1,cores=${n},threads=1`];
  if (p.guest === 'aarch64') {
    switch (p.accel) {
      case 'hvf':
        // The GIC pinned: left unset, QEMU picks v2 or v3 by CPU count, and a saved state loads
        // only into the same interrupt controller.
        return ['-machine', 'virt,accel=hvf,gic-version=3,highmem=on', '-cpu', p.hvfCpu ?? 'host', ...smp];
      case 'kvm':
        return ['-machine', 'virt,accel=kvm,gic-version=host', '-cpu', 'host', ...smp];
      case 'tcg':
        // Plain `-cpu max` emulates pointer authentication with QARMA: measured 76 s to Docker vs 30 s.
        return ['-machine', 'virt,gic-version=3,highmem=on', '-accel', 'tcg,thread=multi', '-cpu', 'max,pauth-impdef=on', ...smp];
    }
  }
  switch (p.accel) {
    case 'hvf':
      return ['-machine', 'q35,accel=hvf', '-cpu', 'host', ...smp];
    case 'kvm':
      return ['-machine', 'q35,accel=kvm', '-cpu', 'host', ...smp];
    case 'tcg':
      // thread=multi belongs to -accel, not -machine (QEMU refuses it there).
      return ['-machine', 'q35', '-accel', 'tcg,thread=multi', '-cpu', 'max', ...smp];
  }
}

/** QEMU option values are comma-separated; a literal comma in a path is written as ",,". */
export function qemuEscape(value: string): string {
  return value.replace(/,/g, ',,');
}

export function buildQemuCommand(p: QemuPlan): QemuCommand {
  const f = p.files;
  const e = qemuEscape;
  const binary = p.guest === 'aarch64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
  const args: string[] = [
    // process= renames the QEMU thread for ps/top; QEMU supports that on Linux only and exits on
    // macOS ("Change of process name not supported by your OS").
    '-name', p.host.os === 'linux' ? `${p.name},process=${p.name}` : p.name,
    '-nodefaults',
    '-no-user-config',
    ...machineArgs(p),
    '-m', `${Math.round(p.memoryGiB * 1024)}M`,
    '-kernel', f.kernel,
    '-initrd', f.initrd,
    '-append', kernelCmdline(p.guest, p.accel),
    // file.locking=on: QEMU's default (auto) locks only where OFD locks exist, which macOS lacks;
    // forced, a second QEMU on the same disk is refused on every host ("Failed to get "write" lock").
    '-drive', `if=none,id=root,file=${e(f.disk)},format=qcow2,file.locking=on,discard=unmap,detect-zeroes=unmap,cache=writeback`,
    '-device', 'virtio-blk-pci,drive=root',
    '-netdev', `user,id=net0,ipv6=off,hostfwd=tcp:127.0.0.1:${p.sshPort}-:22`,
    // No option ROM (direct kernel boot needs no PXE): its size changes between QEMU builds, and
    // a saved state whose ROM differs in size does not load.
    '-device', 'virtio-net-pci,netdev=net0,romfile=',
    '-device', 'virtio-rng-pci',
    '-fw_cfg', `name=opt/berth/seed,file=${e(f.seed)}`,
  ];
  for (const [i, m] of p.mounts.entries()) {
    // security_model=none: files keep their real owner and mode on the host (mapped-xattr showed them as 0600).
    args.push(
      '-fsdev', `local,id=fs${i},path=${e(m.location)},security_model=none${m.writable ? '' : ',readonly=on'}`,
      '-device', `virtio-9p-pci,fsdev=fs${i},mount_tag=${m.tag}`,
    );
  }
  args.push(
    '-chardev', `socket,id=serial0,path=${e(f.serialSock)},server=on,wait=off,logfile=${e(f.serialLog)}`,
    '-serial', 'chardev:serial0',
    '-chardev', `socket,id=qmp0,path=${e(f.qmp)},server=on,wait=off`,
    '-mon', 'chardev=qmp0,mode=control',
    // The guest channel: one virtio-serial port, its host end a unix socket only the instance's
    // owner can reach (the directory is 0700). QEMU on macOS has no vsock; virtio-serial works on both.
    ...(f.guestSock
      ? ['-device', 'virtio-serial-pci,id=vser0', '-chardev', `socket,id=guest0,path=${e(f.guestSock)},server=on,wait=off`, '-device', 'virtserialport,bus=vser0.0,chardev=guest0,name=org.berth.guest.0']
      : []),
    ...(f.qmpDebug ? ['-chardev', `socket,id=qmp1,path=${e(f.qmpDebug)},server=on,wait=off`, '-mon', 'chardev=qmp1,mode=control'] : []),
    '-rtc', 'base=utc,clock=host',
    '-display', 'none',
    '-pidfile', f.pidfile,
  );
  if (p.incoming) args.push('-incoming', p.incoming);
  return { binary, args };
}
