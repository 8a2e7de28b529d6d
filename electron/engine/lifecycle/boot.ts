// The cold boot's own rungs: the image, the disk on it, QEMU launched (under a hardware
// accelerator when one is offered, with a fallback to TCG), and the kernel's first marker.
import { randomBytes } from 'node:crypto';
import type { Settings } from '../../shared/settings.js';
import { noteAccelFailure, rememberAccel } from '../accel.js';
import { ensureDisk } from '../disk.js';
import { BerthFailure } from '../errors.js';
import { writeImageMemo } from '../instance/index.js';
import { freePort, waitSerial } from '../qemu-process.js';
import { ensureSshMaterial, writeSshConfig } from '../ssh-keys.js';
import { chooseQemu, vmCommand } from '../vm/choice.js';
import type { QemuChoice } from '../vm/choice.js';
import { checkAbort } from './ladder.js';
import type { Rung, Start, StartHost } from './ladder.js';

/** The marker the guest's initrd prints first: the kernel is up and running our code. */
const KERNEL_MARKER = 'berth-initrd:';
/** How long a never-before-seen hardware accelerator gets to show serial output. */
const ACCEL_PROBE_MS = 8000;

/** QEMU and the accelerator for this start (vm/choice.ts), noted in the status and the journal. */
export async function pickQemu(host: StartHost, settings: Settings): Promise<QemuChoice> {
  const { choice, note, found } = await chooseQemu(host.choiceEnv(), settings);
  if (note) host.notes().accel = note;
  host.journal('qemu-binary', found);
  return choice;
}

/**
 * The first boot under a hardware accelerator failed: say so and retry under TCG. Remembered (so
 * later starts skip the probe) only when the failure is the accelerator's; anything else would
 * keep this host on TCG for no reason.
 */
async function fallBackToTcg(host: StartHost, choice: QemuChoice, guest: Settings['arch'], failure: { output: string; reason: string; args: string[] }): Promise<QemuChoice> {
  const name = choice.accel.toUpperCase();
  const { reason } = failure;
  const remember = noteAccelFailure(host.paths.cache, { accel: choice.accel, guest, qemuVersion: choice.qemu.version }, failure);
  host.notes().accel = remember ? `${name} unusable here (${reason}); using TCG` : `${name} failed on this start (${reason}); using TCG this time, ${name} again on the next start`;
  host.journal('accel-fallback', { from: choice.accel, reason, remembered: remember });
  await host.kill();
  host.steps.update('qemu', 'running', 'retrying with TCG');
  return { ...choice, accel: 'tcg', probe: false };
}

const image: Rung = {
  step: 'image',
  async run(s) {
    const { host } = s;
    host.steps.update('image', 'running');
    const img = await host.imageFor(s.settings);
    host.steps.update('image', 'done', `${img.manifest.arch} ${img.manifest.recipeHash}`);
    checkAbort(s);
    s.boot = { image: img } as Start['boot'];
  },
};

const disk: Rung = {
  step: 'disk',
  async run(s) {
    const { host } = s;
    const img = s.boot!.image;
    host.steps.update('disk', 'running');
    const d = await ensureDisk(host.paths.disk, img, s.settings.diskGiB);
    writeImageMemo(host.paths, { dir: img.dir, recipeHash: img.manifest.recipeHash });
    host.steps.update('disk', 'done', d.created ? 'created' : d.note ?? 'reused');
    checkAbort(s);
  },
};

const qemu: Rung = {
  step: 'qemu',
  async run(s) {
    const { host, settings } = s;
    const b = s.boot!;
    if (!b.ssh) {
      host.steps.update('qemu', 'running');
      b.ssh = await ensureSshMaterial(host.paths);
      b.bootId = randomBytes(8).toString('hex');
      b.tags = s.mounts.map((m, i) => ({ ...m, tag: `berth${i}` }));
      host.mounts.expect(b.tags);
      host.writeSeed(settings, b.bootId, b.ssh, b.tags);
      b.choice = await pickQemu(host, settings);
    }
    for (;;) {
      const sshPort = await freePort();
      writeSshConfig(host.paths, b.ssh, sshPort);
      b.cmd = vmCommand(host.choiceEnv(), settings, b.image, b.choice.accel, sshPort, b.tags, b.choice.bin);
      try {
        await host.launch(b.cmd, { settings, image: b.image, accel: b.choice.accel, sshPort, bootId: b.bootId, ssh: b.ssh, qemuVersion: b.choice.qemu.version });
      } catch (e) {
        if (!b.choice.probe || (e instanceof BerthFailure && e.code === 'E_LOCKED')) throw e;
        const output = host.qemuOutput();
        const reason = `QEMU failed to start with ${b.choice.accel}: ${output || (e as Error).message}`;
        b.choice = await fallBackToTcg(host, b.choice, settings.arch, { output, reason, args: b.cmd.args });
        continue;
      }
      host.steps.update('qemu', 'done', `${b.choice.accel} pid ${host.run()!.vm.pid}`);
      checkAbort(s);
      return;
    }
  },
};

const kernel: Rung = {
  step: 'kernel',
  async run(s) {
    const { host, settings } = s;
    const b = s.boot!;
    const { choice } = b;
    host.steps.update('kernel', 'running');
    const probeMs = choice.probe ? ACCEL_PROBE_MS : host.startTimeoutMs;
    const stillOk = () => host.qemuUp() && !host.aborted();
    const ok = await waitSerial(host.paths.serialLog, choice.probe ? '' : KERNEL_MARKER, Date.now() + probeMs, stillOk);
    checkAbort(s);
    if (!ok && choice.probe) {
      // The hardware accelerator produced nothing: boot again under TCG.
      const up = host.qemuUp();
      const output = up ? '' : host.qemuOutput();
      const reason = up ? `no serial output within ${ACCEL_PROBE_MS / 1000} s` : `QEMU exited: ${output}`;
      // Blamed only once TCG boots the very same VM.
      if (up) b.silent = { accel: choice.accel, reason };
      b.choice = await fallBackToTcg(host, choice, settings.arch, { output, reason, args: b.cmd!.args });
      return { back: 'qemu' };
    }
    if (!ok) throw new BerthFailure(host.qemuUp() ? 'E_BOOT_TIMEOUT' : 'E_QEMU_EXITED', host.qemuUp() ? 'the kernel did not start' : `QEMU exited during boot: ${host.qemuOutput()}`);
    const key = { guest: settings.arch, qemuVersion: choice.qemu.version };
    if (choice.probe) {
      await waitSerial(host.paths.serialLog, KERNEL_MARKER, Date.now() + host.startTimeoutMs, stillOk);
      rememberAccel(host.paths.cache, { ...key, accel: choice.accel }, true, 'booted');
    }
    if (b.silent) {
      rememberAccel(host.paths.cache, { ...key, accel: b.silent.accel }, false, `${b.silent.reason}, while TCG booted the same VM`);
      host.notes().accel = `${b.silent.accel.toUpperCase()} unusable here (${b.silent.reason}); using TCG`;
      host.journal('accel-remembered', { accel: b.silent.accel, reason: b.silent.reason });
    }
    host.steps.update('kernel', 'done', choice.accel);
    checkAbort(s);
  },
};

export const bootRungs = { image, disk, qemu, kernel };
