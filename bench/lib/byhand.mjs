// The baseline: the instance's exact QEMU command line (qemu.args.json: same binary, image, disk,
// seed, flags), spawned by hand with Berth stopped, timed to the same point: an HTTP `GET /_ping`
// answered by the guest's dockerd through an SSH stream-local channel (npm ssh2, as the agent uses).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, PROBE_MS } from './berth.mjs';
import { alive, now, rawHttpOverStream, sleep, waitGone } from './util.mjs';

const { SshLink } = await import(path.join(ROOT, 'dist', 'electron', 'engine', 'agent', 'ssh-link.js'));
const { QmpClient } = await import(path.join(ROOT, 'dist', 'electron', 'engine', 'qmp.js'));

const KERNEL_MARKER = 'berth-initrd:';

/** Live by-hand VMs, so a failure anywhere still kills them (see cleanupByHand). */
const live = new Set();

export async function bootByHand(inst, { timeoutMs = 420_000 } = {}) {
  const cmd = JSON.parse(fs.readFileSync(inst.file('qemu.args.json'), 'utf8'));
  const ssh = inst.sshParams();
  const qmpPath = inst.file('qmp.sock');
  const serialLog = inst.file('serial.log');
  for (const f of [qmpPath, inst.file('serial.sock'), inst.file('qemu.pid')]) fs.rmSync(f, { force: true });
  const out = fs.openSync(inst.file('bench-qemu.log'), 'a');
  const t0 = now();
  const child = spawn(cmd.binary, cmd.args, { stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  const vm = { child, pid: child.pid, qmpPath, link: null, inst };
  live.add(vm);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  let kernelMs = null;
  let sshMs = null;
  let pingMs = null;
  const link = new SshLink(ssh.port, ssh.clientKey, ssh.hostPub);
  vm.link = link;
  try {
    while (pingMs === null) {
      if (exited()) throw new Error(`QEMU by hand exited (code ${child.exitCode}, signal ${child.signalCode}); see ${inst.file('bench-qemu.log')}`);
      if (now() - t0 > timeoutMs) throw new Error(`QEMU by hand: Docker did not answer within ${timeoutMs / 1000} s`);
      if (kernelMs === null && fileHas(serialLog, KERNEL_MARKER)) kernelMs = now() - t0;
      if (!link.isUp) {
        try {
          await link.connect(5000);
          sshMs = now() - t0;
        } catch {
          await sleep(PROBE_MS);
          continue;
        }
      }
      try {
        const ch = await link.openUnix('/var/run/docker.sock');
        const r = await rawHttpOverStream(ch, '/_ping', 1000);
        if (r.ok) {
          pingMs = now() - t0;
          break;
        }
      } catch {
        // dockerd's socket is not there yet
      }
      await sleep(PROBE_MS);
    }
  } catch (e) {
    await killByHand(vm);
    throw e;
  }
  return { vm, kernelMs, sshMs, pingMs };
}

/** ACPI powerdown over QMP, timed to QEMU's exit (what `berth stop` does minus Berth's own work). */
export async function stopByHand(vm) {
  vm.link?.close();
  const t0 = now();
  let how = 'powerdown';
  try {
    const qmp = await QmpClient.connect(vm.qmpPath, 3000);
    await qmp.execute('system_powerdown', undefined, 3000);
    const gone = await waitExit(vm.child, 30_000);
    qmp.close();
    if (!gone) throw new Error('QEMU still runs 30 s after system_powerdown');
  } catch (e) {
    how = `killed (${e.message})`;
    await killByHand(vm);
  }
  const ms = now() - t0;
  live.delete(vm);
  cleanFiles(vm);
  return { ms, how };
}

async function killByHand(vm) {
  vm.link?.close();
  if (alive(vm.pid)) {
    try {
      process.kill(vm.pid, 'SIGTERM');
    } catch {
      // gone
    }
    if (!(await waitGone(vm.pid, 3000))) {
      try {
        process.kill(vm.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await waitGone(vm.pid, 5000);
    }
  }
  live.delete(vm);
  cleanFiles(vm);
}

function cleanFiles(vm) {
  for (const f of ['qmp.sock', 'serial.sock', 'qemu.pid']) fs.rmSync(vm.inst.file(f), { force: true });
}

export async function cleanupByHand() {
  for (const vm of [...live]) await killByHand(vm);
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function fileHas(file, marker) {
  try {
    return fs.readFileSync(file, 'latin1').includes(marker);
  } catch {
    return false;
  }
}
