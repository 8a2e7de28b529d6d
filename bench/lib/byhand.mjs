// The baseline: the instance's exact QEMU command line (qemu.args.json: same binary, image, disk,
// seed, flags), spawned by hand with Berth stopped, timed to the same point: an HTTP `GET /_ping`
// answered by the guest's dockerd through an SSH stream-local channel (npm ssh2, as the agent uses;
// pinned host key, the instance's client key).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ssh2 from 'ssh2';
import { ROOT, PROBE_MS } from './berth.mjs';
import { alive, now, rawHttpOverStream, sleep, waitGone } from './util.mjs';

const { QmpClient } = await import(path.join(ROOT, 'dist', 'electron', 'engine', 'qmp.js'));

const KERNEL_MARKER = 'berth-initrd:';

/** Live by-hand VMs, so a failure anywhere still kills them (see cleanupByHand). */
const live = new Set();

/**
 * `cmd` and `ssh` default to the instance's own (qemu.args.json, its keys); the image benchmark
 * passes a stock image's command line and keys instead.
 */
export async function bootByHand(inst, { timeoutMs = 420_000, cmd = instanceCommand(inst), ssh = inst.sshParams() } = {}) {
  const qmpPath = inst.file('qmp.sock');
  const serialLog = inst.file('serial.log');
  for (const f of [qmpPath, inst.file('serial.sock'), inst.file('qemu.pid')]) fs.rmSync(f, { force: true });
  // a fresh serial log, so the kernel marker found is this boot's (as the supervisor does)
  if (fs.existsSync(serialLog)) fs.renameSync(serialLog, serialLog + '.1');
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
  const probe = new SshProbe(ssh);
  vm.link = probe;
  try {
    while (pingMs === null) {
      if (exited()) throw new Error(`QEMU by hand exited (code ${child.exitCode}, signal ${child.signalCode}); see ${inst.file('bench-qemu.log')}`);
      if (now() - t0 > timeoutMs) throw new Error(`QEMU by hand: Docker did not answer within ${timeoutMs / 1000} s`);
      if (kernelMs === null && fileHas(serialLog, KERNEL_MARKER)) kernelMs = now() - t0;
      if (!probe.client) {
        probe.tick();
        await sleep(PROBE_MS);
        continue;
      }
      sshMs ??= probe.readyAt - t0;
      try {
        const ch = await probe.openUnix('/var/run/docker.sock');
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
  return { vm, kernelMs, sshMs, pingMs, sshAttempts: probe.attempts };
}

export function instanceCommand(inst) {
  return JSON.parse(fs.readFileSync(inst.file('qemu.args.json'), 'utf8'));
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

/**
 * SSH for the baseline, connected as early as the guest allows while disturbing it little.
 * While the guest's network is not up, QEMU's user-mode network accepts the host side of a
 * connection and holds it, so one attempt can hang for its whole timeout. So: plain TCP probes
 * for sshd's banner (a new one every PROBE_MS, at most 4 pending, each given up after 1.5 s, a
 * limit that grows by 1 s per 10 s of probing in case sshd is merely slow); at the first banner,
 * all probes close and one ssh2 connection (pinned host key) is made.
 */
class SshProbe {
  constructor({ port, clientKey, hostPub }) {
    this.port = port;
    this.clientKey = clientKey;
    this.pinned = Buffer.from(hostPub.trim().split(/\s+/)[1] ?? '', 'base64');
    this.probes = new Set();
    this.connecting = null;
    this.client = null;
    this.readyAt = null;
    this.attempts = { tcpProbes: 0, ssh: 0, sshFailed: 0 };
  }

  tick() {
    if (this.client || this.connecting) return;
    if (this.probes.size >= 4) return;
    this.firstProbe ??= now();
    const sock = net.connect({ host: '127.0.0.1', port: this.port });
    this.probes.add(sock);
    this.attempts.tcpProbes++;
    const drop = () => {
      sock.destroy();
      this.probes.delete(sock);
    };
    const timer = setTimeout(drop, Math.min(10_000, 1500 + (now() - this.firstProbe) / 10));
    sock.on('data', (d) => {
      clearTimeout(timer);
      drop();
      if (d.toString('latin1').startsWith('SSH-') && !this.connecting && !this.client) {
        for (const o of this.probes) o.destroy();
        this.probes.clear();
        this.sshConnect();
      }
    });
    sock.on('error', () => {
      clearTimeout(timer);
      drop();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      this.probes.delete(sock);
    });
  }

  sshConnect() {
    const c = new ssh2.Client();
    this.connecting = c;
    this.attempts.ssh++;
    let failed = false;
    c.on('ready', () => {
      c.setNoDelay(true); // as the agent does
      this.connecting = null;
      this.client = c;
      this.readyAt = now();
    });
    c.on('error', () => {
      if (failed) return;
      failed = true;
      this.attempts.sshFailed++;
      if (this.connecting === c) this.connecting = null;
    });
    c.on('close', () => {
      if (this.connecting === c) this.connecting = null;
    });
    c.connect({
      host: '127.0.0.1',
      port: this.port,
      username: 'root',
      privateKey: this.clientKey,
      readyTimeout: 30_000,
      hostVerifier: (key) => key.equals(this.pinned),
    });
  }

  openUnix(p) {
    return new Promise((resolve, reject) => this.client.openssh_forwardOutStreamLocal(p, (err, ch) => (err ? reject(err) : resolve(ch))));
  }

  /** A command in the guest on this connection; resolves its stdout, rejects on a non-zero exit. */
  exec(cmd) {
    return new Promise((resolve, reject) =>
      this.client.exec(cmd, (err, ch) => {
        if (err) return reject(err);
        let out = '';
        ch.on('data', (d) => (out += d));
        ch.stderr.resume();
        ch.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`\`${cmd}\` exited ${code} in the guest`))));
      }),
    );
  }

  close() {
    for (const o of this.probes) o.destroy();
    this.probes.clear();
    this.connecting?.end();
    this.connecting = null;
    this.client?.end();
    this.client = null;
  }
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
