import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { accelCandidates, buildQemuCommand, qemuEscape } from '../../../electron/engine/qemu-args.js';
import type { QemuPlan } from '../../../electron/engine/qemu-args.js';

const files = {
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd',
  disk: '/h/default/disk.qcow2',
  seed: '/h/default/seed.env',
  qmp: '/h/default/qmp.sock',
  serialSock: '/h/default/serial.sock',
  serialLog: '/h/default/serial.log',
  pidfile: '/h/default/qemu.pid',
};

function plan(over: Partial<QemuPlan>): QemuPlan {
  return { host: { os: 'linux', arch: 'x64' }, guest: 'x86_64', accel: 'tcg', cpus: 2, memoryGiB: 2, sshPort: 2222, mounts: [], files, name: 'berth-default', ...over };
}

const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
const allAfter = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));

describe('accelerator candidates', () => {
  it('Apple Silicon + aarch64 guest tries HVF first', () => expect(accelCandidates({ os: 'darwin', arch: 'arm64' }, 'aarch64')).toEqual(['hvf', 'tcg']));
  it('Linux x86_64 + x86_64 guest tries KVM first', () => expect(accelCandidates({ os: 'linux', arch: 'x64' }, 'x86_64')).toEqual(['kvm', 'tcg']));
  it('a foreign guest is TCG only', () => {
    expect(accelCandidates({ os: 'linux', arch: 'x64' }, 'aarch64')).toEqual(['tcg']);
    expect(accelCandidates({ os: 'darwin', arch: 'arm64' }, 'x86_64')).toEqual(['tcg']);
  });
});

describe('QEMU command line', () => {
  it('macOS arm64 → qemu-system-aarch64 with HVF, a pinned GICv3 and -cpu host', () => {
    const c = buildQemuCommand(plan({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel: 'hvf' }));
    expect(c.binary).toBe('qemu-system-aarch64');
    expect(argAfter(c.args, '-machine')).toBe('virt,accel=hvf,gic-version=3,highmem=on');
    expect(argAfter(c.args, '-cpu')).toBe('host');
    expect(c.args).not.toContain('-accel');
    expect(argAfter(c.args, '-append')).toContain('console=ttyAMA0');
  });
  it('macOS arm64 with SME (M4) → -cpu max', () => {
    const c = buildQemuCommand(plan({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel: 'hvf', hvfCpu: 'max' }));
    expect(argAfter(c.args, '-cpu')).toBe('max');
  });
  it('Linux x86_64 with KVM → q35,accel=kvm and -cpu host', () => {
    const c = buildQemuCommand(plan({ accel: 'kvm' }));
    expect(c.binary).toBe('qemu-system-x86_64');
    expect(argAfter(c.args, '-machine')).toBe('q35,accel=kvm');
    expect(argAfter(c.args, '-cpu')).toBe('host');
    expect(argAfter(c.args, '-append')).toContain('console=ttyS0');
  });
  it('Linux x86_64 under TCG → multi-threaded TCG in -accel, not -machine', () => {
    const c = buildQemuCommand(plan({ accel: 'tcg' }));
    expect(argAfter(c.args, '-machine')).toBe('q35');
    expect(argAfter(c.args, '-accel')).toBe('tcg,thread=multi');
    expect(argAfter(c.args, '-cpu')).toBe('max');
  });
  it('aarch64 guest on an x86_64 host → TCG with pointer auth made cheap', () => {
    const c = buildQemuCommand(plan({ guest: 'aarch64', accel: 'tcg' }));
    expect(c.binary).toBe('qemu-system-aarch64');
    expect(argAfter(c.args, '-machine')).toBe('virt,gic-version=3,highmem=on');
    expect(argAfter(c.args, '-cpu')).toBe('max,pauth-impdef=on');
    expect(argAfter(c.args, '-accel')).toBe('tcg,thread=multi');
  });
  it('has no display, discards, serial socket with a log, QMP socket and a pidfile', () => {
    const c = buildQemuCommand(plan({}));
    expect(argAfter(c.args, '-display')).toBe('none');
    expect(argAfter(c.args, '-drive')).toContain('discard=unmap');
    const chardevs = allAfter(c.args, '-chardev');
    expect(chardevs).toContain('socket,id=serial0,path=/h/default/serial.sock,server=on,wait=off,logfile=/h/default/serial.log');
    expect(chardevs).toContain('socket,id=qmp0,path=/h/default/qmp.sock,server=on,wait=off');
    expect(argAfter(c.args, '-mon')).toBe('chardev=qmp0,mode=control');
    expect(argAfter(c.args, '-pidfile')).toBe('/h/default/qemu.pid');
    expect(argAfter(c.args, '-smp')).toBe('2,sockets=1,cores=2,threads=1');
    expect(argAfter(c.args, '-m')).toBe('2048M');
  });
  it('forwards SSH on loopback only', () => {
    const c = buildQemuCommand(plan({ sshPort: 40123 }));
    expect(argAfter(c.args, '-netdev')).toContain('hostfwd=tcp:127.0.0.1:40123-:22');
  });
  it('hands the seed in through fw_cfg', () => {
    expect(argAfter(buildQemuCommand(plan({})).args, '-fw_cfg')).toBe('name=opt/berth/seed,file=/h/default/seed.env');
  });
  it('adds a 9p device per mount, read-only when not writable, escaping commas', () => {
    const c = buildQemuCommand(plan({ mounts: [{ tag: 'berth0', location: '/Users/a,b', writable: true }, { tag: 'berth1', location: '/tmp', writable: false }] }));
    const fsdevs = allAfter(c.args, '-fsdev');
    expect(fsdevs[0]).toBe('local,id=fs0,path=/Users/a,,b,security_model=none');
    expect(fsdevs[1]).toBe('local,id=fs1,path=/tmp,security_model=none,readonly=on');
    expect(allAfter(c.args, '-device')).toContain('virtio-9p-pci,fsdev=fs1,mount_tag=berth1');
  });
  it('escapes commas', () => expect(qemuEscape('a,b,,c')).toBe('a,,b,,,,c'));
  it('adds -incoming only for a resume', () => {
    expect(buildQemuCommand(plan({})).args).not.toContain('-incoming');
    expect(argAfter(buildQemuCommand(plan({ incoming: 'exec:cat /x' })).args, '-incoming')).toBe('exec:cat /x');
  });
  it('names the QEMU process only on Linux: QEMU on macOS exits on process=', () => {
    expect(argAfter(buildQemuCommand(plan({})).args, '-name')).toBe('berth-default,process=berth-default');
    for (const accel of ['hvf', 'tcg'] as const) {
      const c = buildQemuCommand(plan({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel }));
      expect(argAfter(c.args, '-name')).toBe('berth-default');
      expect(c.args.join(' ')).not.toContain('process=');
    }
  });
  it('a stand-in macOS QEMU that refuses process= accepts the macOS command line', () => {
    // QEMU's os_set_proc_name is Linux-only: elsewhere `-name …,process=…` ends the process.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-macqemu-'));
    const fake = path.join(dir, 'qemu-system-aarch64');
    fs.writeFileSync(
      fake,
      '#!/bin/sh\nfor a in "$@"; do case "$a" in *process=*) echo "qemu-system-aarch64: -name $a: Change of process name not supported by your OS" >&2; exit 1;; esac; done\necho started\n',
      { mode: 0o755 },
    );
    const run = (args: string[]) => {
      try {
        return { code: 0, out: execFileSync(fake, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
      } catch (e) {
        return { code: (e as { status: number }).status, out: String((e as { stderr: string }).stderr) };
      }
    };
    try {
      const mac = buildQemuCommand(plan({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel: 'hvf' }));
      expect(run(mac.args)).toEqual({ code: 0, out: 'started\n' });
      // The stand-in does refuse what Linux gets, so the check above means something.
      expect(run(buildQemuCommand(plan({})).args)).toMatchObject({ code: 1, out: expect.stringContaining('Change of process name not supported by your OS') });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('forces disk locking on both hosts (macOS has no OFD locks, so QEMU’s default would not lock)', () => {
    for (const host of [{ os: 'darwin', arch: 'arm64' }, { os: 'linux', arch: 'x64' }] as const) {
      const c = buildQemuCommand(plan({ host, guest: host.arch === 'arm64' ? 'aarch64' : 'x86_64', accel: host.os === 'darwin' ? 'hvf' : 'kvm' }));
      expect(argAfter(c.args, '-drive')!.split(',')).toContain('file.locking=on');
    }
  });
  it('gives the guest channel one virtio-serial port whose host end is the instance’s guest.sock, and real QEMU takes it on both guests', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-chan-'));
    try {
      for (const guest of ['x86_64', 'aarch64'] as const) {
        const guestSock = path.join(dir, `${guest}.sock`);
        const c = buildQemuCommand(plan({ guest, files: { ...files, guestSock } }));
        const at = c.args.indexOf('virtio-serial-pci,id=vser0');
        expect(at).toBeGreaterThan(0);
        const channel = c.args.slice(at - 1, at + 5);
        expect(channel).toEqual(['-device', 'virtio-serial-pci,id=vser0', '-chardev', `socket,id=guest0,path=${guestSock},server=on,wait=off`, '-device', 'virtserialport,bus=vser0.0,chardev=guest0,name=org.berth.guest.0']);
        // Only the channel's options, on a machine QEMU can start paused: it must create the socket and accept on it.
        const machine = guest === 'aarch64' ? ['-machine', 'virt', '-cpu', 'max'] : ['-machine', 'q35'];
        const q = spawn(c.binary, ['-nodefaults', '-display', 'none', '-S', ...machine, '-accel', 'tcg', ...channel], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        q.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        try {
          const deadline = Date.now() + 10_000;
          while (!fs.existsSync(guestSock) && Date.now() < deadline && q.exitCode === null) await new Promise((r) => setTimeout(r, 50));
          expect(stderr).toBe('');
          await new Promise<void>((resolve, reject) => {
            const s = net.connect(guestSock, () => (s.destroy(), resolve()));
            s.on('error', reject);
          });
        } finally {
          q.kill('SIGKILL');
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('tells the guest which accelerator it runs under (berth.accel=, read by its listener watch: no kernel text patching under TCG)', () => {
    expect(argAfter(buildQemuCommand(plan({ accel: 'tcg' })).args, '-append')!.split(' ')).toContain('berth.accel=tcg');
    expect(argAfter(buildQemuCommand(plan({ accel: 'kvm' })).args, '-append')!.split(' ')).toContain('berth.accel=kvm');
    expect(argAfter(buildQemuCommand(plan({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel: 'hvf' })).args, '-append')!.split(' ')).toContain('berth.accel=hvf');
  });
  it('has no channel device when there is no guest.sock (a command line an older instance was saved with)', () => {
    expect(buildQemuCommand(plan({})).args.join(' ')).not.toContain('virtio-serial');
  });
  it('loads no NIC option ROM, so a saved state does not depend on the ROM file of a QEMU build', () => {
    for (const guest of ['x86_64', 'aarch64'] as const) {
      expect(allAfter(buildQemuCommand(plan({ guest })).args, '-device')).toContain('virtio-net-pci,netdev=net0,romfile=');
    }
  });
});
