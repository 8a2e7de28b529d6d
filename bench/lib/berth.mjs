// A Berth instance driven through the real CLI (`node bin/berth.mjs …`), in its own BERTH_HOME.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastStop, stepTimes } from './journal.mjs';
import { alive, log, now, rawHttp, readPid, run, sleep, waitGone } from './util.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BERTH = path.join(ROOT, 'bin', 'berth.mjs');

/** How often both sides poll "does Docker answer?" while timing a start (same for both). */
export const PROBE_MS = 100;

export class BenchInstance {
  constructor({ home, name = 'default', imageDir }) {
    this.home = home;
    this.name = name;
    this.dir = path.join(home, name);
    this.sock = path.join(this.dir, 'docker.sock');
    const dockerConfig = path.join(home, 'docker-config');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(dockerConfig, { recursive: true });
    this.env = { ...process.env, BERTH_HOME: home, DOCKER_CONFIG: dockerConfig };
    if (imageDir) this.env.BERTH_IMAGE_DIR = imageDir;
    delete this.env.DOCKER_HOST;
    delete this.env.DOCKER_CONTEXT;
    this.dockerEnv = { ...this.env, DOCKER_HOST: `unix://${this.sock}` };
    this.booted = false;
  }

  file(name) {
    return path.join(this.dir, name);
  }

  /**
   * berth.yaml: no mounts (nothing host-specific), no docker context (the host's ~/.docker is left
   * alone), and Stop = power off, so every start is a cold boot comparable with QEMU by hand (the
   * resume benchmark asks for a suspend with `stop({ suspend: true })`).
   */
  writeConfig({ cpus = 2, memoryGiB = 2, stopMode = 'shutdown' } = {}) {
    fs.writeFileSync(this.file('berth.yaml'), `cpus: ${cpus}\nmemoryGiB: ${memoryGiB}\nmounts: []\ndocker: {context: false}\nstopMode: ${stopMode}\n`);
    this.stopMode = stopMode;
    this.cpus = cpus;
  }

  berth(args, opts = {}) {
    return run(process.execPath, [BERTH, ...args, ...(this.name !== 'default' ? ['--instance', this.name] : [])], { env: this.env, cwd: ROOT, ...opts });
  }

  async status() {
    const r = await this.berth(['status', '--json'], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`berth status failed: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  /**
   * `berth start`, timed from the spawn of the CLI to (a) the first HTTP `GET /_ping` through the
   * forwarded docker.sock that answers 200 (polled every PROBE_MS) and (b) the CLI's exit.
   */
  async start({ timeoutMs = 420_000 } = {}) {
    fs.rmSync(this.sock, { force: true });
    const wall0 = Date.now();
    const t0 = now();
    const cli = this.berth(['start'], { timeoutMs });
    let exited = null;
    cli.then((r) => (exited = r));
    let pingMs = null;
    while (pingMs === null) {
      if (exited && exited.code !== 0) break;
      if (exited && now() - t0 > exited.ms + 10_000) break;
      const r = await rawHttp({ path: this.sock }, '/_ping', 1000);
      if (r.ok) pingMs = now() - t0;
      else await sleep(PROBE_MS);
    }
    const res = await cli;
    if (res.code !== 0 || pingMs === null) {
      throw new Error(`berth start failed (exit ${res.code}${res.timedOut ? ', timed out' : ''}): ${res.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    }
    this.booted = true;
    const st = await this.status();
    const steps = Object.fromEntries(st.steps.map((s) => [s.name, s.durationMs ?? null]));
    const at = stepTimes(this.file('events.jsonl'), wall0);
    return { pingMs, exitMs: res.ms, readyMs: st.readyMs ?? null, steps, doneAtMs: at.done, runningAtMs: at.running, status: st };
  }

  /** `berth stop`, timed to the CLI's exit; then waits for the headless supervisor to exit too. */
  async stop({ force = false, suspend = false, timeoutMs = 90_000 } = {}) {
    const sup = readPid(this.file('supervisor.pid'));
    const qemu = readPid(this.file('qemu.pid'));
    const cfg = this.file('berth.yaml');
    if (suspend) fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/stopMode: \w+/, 'stopMode: suspend'));
    const r = await this.berth(['stop', ...(force ? ['--force'] : [])], { timeoutMs }).finally(() => {
      if (suspend) fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/stopMode: \w+/, `stopMode: ${this.stopMode}`));
    });
    if (r.code !== 0) throw new Error(`berth stop failed (exit ${r.code}): ${r.stderr.trim()}`);
    const ms = r.ms;
    if (qemu && !(await waitGone(qemu, 10_000))) throw new Error(`QEMU pid ${qemu} still runs after berth stop`);
    // The daemon lingers ~3 s so clients get the final status; the next measurement waits for it.
    if (sup && !(await waitGone(sup, 15_000))) log(`warning: supervisor pid ${sup} still runs 15 s after stop`);
    const { how, bytes } = lastStop(this.file('events.jsonl'));
    return { ms, how, bytes };
  }

  /** Best effort, for cleanup paths: never throws. */
  async forceStop() {
    try {
      const qemu = readPid(this.file('qemu.pid'));
      if (qemu && alive(qemu)) log(`cleanup: stopping the VM of ${this.home} (berth stop --force)`);
      await this.berth(['stop', '--force'], { timeoutMs: 60_000 });
      if (qemu && alive(qemu) && /qemu-system/.test(safeRead(`/proc/${qemu}/cmdline`))) {
        process.kill(qemu, 'SIGKILL');
        await waitGone(qemu, 5000);
      }
      const sup = readPid(this.file('supervisor.pid'));
      if (sup) await waitGone(sup, 10_000);
    } catch (e) {
      log(`cleanup of ${this.home} failed: ${e.message}`);
    }
  }

  /** The guest's SSH port and keys of the current (or last) boot. */
  sshParams() {
    // qemu.args.json records the port it forwards to the guest's sshd (instance/state-files.ts).
    const { sshPort } = JSON.parse(fs.readFileSync(this.file('qemu.args.json'), 'utf8'));
    if (!Number.isInteger(sshPort)) throw new Error('no sshPort in qemu.args.json');
    return {
      port: sshPort,
      clientKey: fs.readFileSync(this.file('ssh/id_ed25519'), 'utf8'),
      hostPub: fs.readFileSync(this.file('ssh/host_ed25519.pub'), 'utf8'),
    };
  }
}

function safeRead(f) {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}
