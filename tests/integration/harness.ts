// Shared helpers for the VM suites: the real CLI, the real docker CLI, tiny images made offline.
import { execa } from 'execa';
import type { Options, Result } from 'execa';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  const dockerConfig = path.join(home, 'docker-config');
  fs.mkdirSync(dockerConfig);
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_HOME: home, DOCKER_CONFIG: dockerConfig };
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
  await new Promise((r) => setTimeout(r, 3500)); // the headless supervisor exits after a grace period
  fs.rmSync(inst.home, { recursive: true, force: true });
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
  if (opts.image) {
    const imp = await docker(inst, ['import', busyboxTar('/bin/busybox'), opts.image]);
    if (imp.exitCode !== 0) throw new Error(`docker import: ${imp.stderr}`);
  }
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
