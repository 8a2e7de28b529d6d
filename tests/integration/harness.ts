// Shared helpers for the VM suites: the real CLI, the real docker CLI, tiny images made offline.
import { execa } from 'execa';
import type { Options, Result } from 'execa';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import type { Status } from '../../electron/shared/status.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BERTH = path.join(ROOT, 'bin', 'berth.mjs');

export interface Instance {
  home: string;
  name: string;
  env: NodeJS.ProcessEnv;
  dockerEnv: NodeJS.ProcessEnv;
  dir: string;
}

/** A fresh BERTH_HOME with a short path (socket paths must stay under 104 bytes). */
export function newInstance(tag: string, name = 'default'): Instance {
  const home = fs.mkdtempSync(path.join('/tmp', `b${tag}-`));
  fs.mkdirSync(path.join(home, 'docker-config'));
  return instanceAt(home, name);
}

/** The instance `name` in an existing BERTH_HOME made by newInstance (e.g. the shared VM's). */
export function instanceAt(home: string, name = 'default'): Instance {
  const dockerConfig = path.join(home, 'docker-config');
  // HOME too: what Berth writes into the user's home (~/.testcontainers.properties) stays in the
  // test's folder. The guest images stay where they are (their cache follows HOME otherwise).
  const imageCache = process.env.BERTH_IMAGE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'berth', 'images');
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_HOME: home, DOCKER_CONFIG: dockerConfig, HOME: home, BERTH_IMAGE_CACHE: imageCache };
  delete env.DOCKER_HOST;
  delete env.DOCKER_CONTEXT;
  return {
    home,
    name,
    env,
    dir: path.join(home, name),
    dockerEnv: { ...env, DOCKER_HOST: `unix://${path.join(home, name, 'docker.sock')}` },
  };
}

export function berth(inst: Instance, args: string[], opts: Options = {}): Promise<Result> {
  return execa('node', [BERTH, ...args, ...(inst.name !== 'default' ? ['--instance', inst.name] : [])], { env: inst.env, extendEnv: false, reject: false, timeout: 600_000, ...opts }) as Promise<Result>;
}

export function docker(inst: Instance, args: string[], opts: Options = {}): Promise<Result> {
  return execa('docker', args, { env: inst.dockerEnv, extendEnv: false, reject: false, timeout: 120_000, ...opts }) as Promise<Result>;
}

/** A busybox root filesystem as a tar stream (for `docker import`), from a static busybox binary. */
export function busyboxTar(busybox: string, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-'))): string {
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'cat', 'echo', 'uname', 'sleep', 'ls', 'sha256sum', 'wc', 'head', 'seq', 'date', 'wget', 'nc', 'httpd', 'sync', 'dd', 'true', 'touch', 'mkdir', 'stat', 'id', 'rm', 'ln', 'readlink']) {
    fs.symlinkSync('busybox', path.join(root, 'bin', a));
  }
  fs.mkdirSync(path.join(root, 'tmp'));
  const tar = path.join(dir, 'rootfs.tar');
  const r = spawnSync('tar', ['-C', root, '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return tar;
}

/** `docker import` of a busybox root filesystem as `image` (its temporary tar removed afterwards). */
export async function importBusybox(inst: Instance, image: string): Promise<void> {
  const tar = busyboxTar('/bin/busybox');
  try {
    const imp = await docker(inst, ['import', tar, image]);
    if (imp.exitCode !== 0) throw new Error(`docker import: ${imp.stderr}`);
  } finally {
    fs.rmSync(path.dirname(tar), { recursive: true, force: true });
  }
}

export function listQemuPids(home: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(home)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

export function listProcsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const env = fs.readFileSync(`/proc/${d}/environ`, 'utf8');
      if (cmd.includes(needle) || env.includes(needle)) out.push(Number(d));
    } catch {
      // gone or not ours
    }
  }
  return out.filter((p) => p !== process.pid);
}

/** Stop the VM, keep its logs as test artifacts, and remove the instance (disks are large). */
export async function finish(inst: Instance): Promise<void> {
  await berth(inst, ['stop', '--force']);
  const keep = path.join(ROOT, 'tests', 'artifacts', 'instances', path.basename(inst.home));
  fs.mkdirSync(keep, { recursive: true });
  for (const f of ['events.jsonl', 'serial.log', 'serial.log.1', 'agent.log', 'supervisor.log', 'qemu.log', 'qemu.args.json', 'berth.yaml']) {
    const src = path.join(inst.dir, f);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(keep, f));
  }
  await supervisorGone(inst); // it exits a moment after its VM stopped; then nothing holds the directory
  fs.rmSync(inst.home, { recursive: true, force: true });
}

/** Wait until the instance's headless supervisor (supervisor.pid) has exited; false after `ms`. */
export async function supervisorGone(inst: Instance, ms = 15_000): Promise<boolean> {
  const pidFile = path.join(inst.dir, 'supervisor.pid');
  for (const deadline = Date.now() + ms; ; ) {
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) return true;
      process.kill(pid, 0);
    } catch {
      return true; // no pid file, or its process is gone
    }
    if (fs.existsSync(`/proc/${pid}/stat`) && /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true; // a zombie
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The usual suite start: a small VM (2 CPUs, 2 GiB; `extraYaml` adds settings, default no mounts),
 * booted with the real CLI, with a busybox image imported under `image` when given.
 */
export async function boot(inst: Instance, opts: { yaml?: string; image?: string } = {}): Promise<void> {
  fs.mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), `cpus: 2\nmemoryGiB: 2\n${opts.yaml ?? 'mounts: []\n'}`);
  const r = await berth(inst, ['start']);
  if (r.exitCode !== 0) throw new Error(`berth start failed (${r.exitCode}):\n${r.stderr}`);
  if (opts.image) await importBusybox(inst, opts.image);
}

/** Poll `fn` until it returns a value (not undefined); fail after `ms` naming what was awaited. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms: number, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** `berth status --json`, parsed. */
export async function statusOf(inst: Instance): Promise<Status> {
  return JSON.parse(String((await berth(inst, ['status', '--json'])).stdout)) as Status;
}

/**
 * The VM that the suites testing no boot behaviour (ports, mounts, emulation) share: booted once by
 * tests/integration/shared-vm.setup.ts for the `shared-vm` project, with these settings. Each suite
 * joins it in its beforeAll and removes its containers in its afterAll.
 */
export const SHARED_VM = {
  /** the writable and the read-only shared folder, under the shared BERTH_HOME */
  share: 'share',
  readonly: 'readonly',
  yaml: (home: string) =>
    `mounts:\n  - location: ${path.join(home, 'share')}\n    writable: true\n  - location: ${path.join(home, 'readonly')}\n    writable: false\nports:\n  ignore: [23456]\n`,
};

export interface SharedVmHandle {
  home: string;
  /** why the shared VM did not boot: each suite that joins fails with it (the other suites still run) */
  error?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    sharedVm: SharedVmHandle;
  }
}

/** The shared VM's instance (see SHARED_VM); call joinSharedVm in beforeAll before using it. */
export function sharedInstance(): Instance {
  const handle = inject('sharedVm');
  if (!handle) throw new Error('no shared VM: run this suite in the shared-vm project of tests/vitest.integration.mts');
  return instanceAt(handle.home);
}

/** In a suite's beforeAll: fail with the boot error if the shared VM did not come up; import `image`. */
export async function joinSharedVm(inst: Instance, image?: string): Promise<void> {
  const { error } = inject('sharedVm');
  if (error) throw new Error(`the shared VM did not boot: ${error}`);
  const s = await statusOf(inst);
  if (s.state !== 'running') throw new Error(`the shared VM is ${s.state}${s.error ? `: ${s.error.message}` : ''}`);
  if (image) await importBusybox(inst, image);
}

/** In a suite's afterAll: remove every container, so the next suite finds the VM as it was. */
export async function leaveSharedVm(inst: Instance): Promise<void> {
  const ids = String((await docker(inst, ['ps', '-aq'])).stdout).split('\n').filter(Boolean);
  if (ids.length) await docker(inst, ['rm', '-f', ...ids]);
}
