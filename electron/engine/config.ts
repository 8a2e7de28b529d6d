// berth.yaml: defaults, validation that names the bad key and its line, atomic writes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML, { LineCounter, isMap, isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { LIMITS } from '../shared/settings.js';
import type { MountSetting, Settings } from '../shared/settings.js';
import type { Arch } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';
import { BerthFailure } from './errors.js';
import { nativeArch } from './host-arch.js';
import { noProxyProblem, proxyUrlProblem } from './proxy.js';

export interface HostInfo {
  platform: NodeJS.Platform;
  arch: string;
  cpus: number;
  memoryBytes: number;
  home: string;
}

/** This machine; `arch` is the hardware's (an x64 Node under Rosetta still gets the arm64 guest). */
export function currentHost(): HostInfo {
  return { platform: process.platform, arch: nativeArch(), cpus: os.cpus().length, memoryBytes: os.totalmem(), home: os.homedir() };
}

export function hostGuestArch(host: HostInfo): Arch {
  return host.arch === 'arm64' ? 'aarch64' : 'x86_64';
}

export function defaultSettings(host: HostInfo = currentHost()): Settings {
  return {
    arch: hostGuestArch(host),
    cpus: Math.max(1, Math.min(4, host.cpus)),
    memoryGiB: Math.max(1, Math.min(4, Math.floor(host.memoryBytes / 2 ** 30 / 2))),
    diskGiB: 64,
    mounts: defaultMounts(host.platform),
    emulation: { enabled: false },
    ports: { ignore: [], map: {} },
    stopMode: 'suspend',
    suspendOnSleep: false,
    keepRunningOnQuit: false,
    docker: { context: true, defaultSocket: false },
    caCertificates: [],
    guestTransport: 'channel',
  };
}

/**
 * The home folder, and on macOS the per-user temp folders: `mktemp -d` and $TMPDIR give
 * /var/folders/…, which is /private/var/folders/… once symlinks are resolved (`pwd -P`, realpath),
 * and `docker run -v "$(mktemp -d)":/x` must see the same files, as with Docker Desktop.
 */
export function defaultMounts(platform: NodeJS.Platform): MountSetting[] {
  const home: MountSetting = { location: '~', writable: true };
  if (platform !== 'darwin') return [home];
  return [home, { location: '/private/var/folders', guestPath: '/var/folders', writable: true }, { location: '/private/var/folders', writable: true }];
}

type Problem = { key: string; message: string; node?: YamlNode | null };

const KNOWN: Record<string, 'number' | 'boolean' | 'string' | 'object' | 'array'> = {
  version: 'number',
  arch: 'string',
  cpus: 'number',
  memoryGiB: 'number',
  diskGiB: 'number',
  mounts: 'array',
  emulation: 'object',
  ports: 'object',
  stopMode: 'string',
  suspendOnSleep: 'boolean',
  keepRunningOnQuit: 'boolean',
  docker: 'object',
  proxy: 'object',
  caCertificates: 'array',
  guestTransport: 'string',
};

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

export function expandHome(p: string, home: string): string {
  return p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p;
}

/** Guest folders a mount must not cover: the VM's own system. */
export const RESERVED_GUEST_PATHS = ['/', '/bin', '/boot', '/dev', '/etc', '/lib', '/proc', '/run', '/sbin', '/sys', '/usr', '/var'];
/** Inside those, folders the VM never uses: macOS's per-user temp folders. */
export const ALLOWED_UNDER_RESERVED = ['/var/folders'];

const within = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : dir + '/');

/** `/mnt/../etc/` → `/etc`: the reserved check must see the folder the path names. */
function normalizePath(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** The first control character (newline, tab, NUL, DEL…) in a path, as U+XXXX. */
export function controlCharIn(p: string): string | undefined {
  const m = /[\u0000-\u001f\u007f-\u009f]/.exec(p);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** Read one entry of a folder: fails where the folder is missing, or unreadable (macOS privacy, permissions). */
export type FolderProbe = (dir: string) => void;

export const probeFolder: FolderProbe = (dir) => {
  if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: 'ENOTDIR' });
  const d = fs.opendirSync(dir);
  try {
    d.readSync();
  } finally {
    d.closeSync();
  }
};

function folderFailure(key: string, loc: string, e: NodeJS.ErrnoException, platform: NodeJS.Platform): BerthFailure {
  if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
    return new BerthFailure('E_CONFIG', `${key}: folder ${loc} does not exist`, 'Create the folder or remove the mount from berth.yaml.');
  }
  if (e.code === 'EPERM' && platform === 'darwin') {
    // Documents, Desktop, Downloads, iCloud Drive and removable volumes are behind macOS's privacy
    // controls: a denied prompt (or no grant) gives EPERM, also to QEMU sharing the folder.
    return new BerthFailure(
      'E_MOUNT',
      `macOS denied Berth access to ${loc}`,
      'Allow it in System Settings → Privacy & Security → Files and Folders (or Full Disk Access) for Berth, then start again; or remove the mount from berth.yaml.',
    );
  }
  return new BerthFailure('E_MOUNT', `${key}: cannot read ${loc} (${e.code ?? e.message})`, 'Check the folder’s permissions, or remove the mount from berth.yaml.');
}

/** Resolved mount list: absolute host path, guest path, writable. Throws on a bad list. */
export function resolveMounts(mounts: MountSetting[], host: HostInfo, checkExists = true, probe: FolderProbe = probeFolder): Required<MountSetting>[] {
  const out: Required<MountSetting>[] = [];
  mounts.forEach((m, i) => {
    const key = `mounts[${i}].location`;
    for (const [k, v] of [[key, m.location], [`mounts[${i}].guestPath`, m.guestPath ?? '']] as const) {
      const c = controlCharIn(v);
      if (c) throw new BerthFailure('E_CONFIG', `${k}: ${JSON.stringify(v)} contains a control character (${c})`, 'Use a path without newlines, tabs or other control characters.');
    }
    const raw = expandHome(m.location, host.home);
    if (!path.posix.isAbsolute(raw)) {
      throw new BerthFailure('E_CONFIG', `${key}: ${JSON.stringify(m.location)} is a relative path`, 'Use an absolute path or one starting with ~/.');
    }
    const rawGuest = m.guestPath ? expandHome(m.guestPath, host.home) : raw;
    if (!path.posix.isAbsolute(rawGuest)) {
      throw new BerthFailure('E_CONFIG', `mounts[${i}].guestPath: ${JSON.stringify(m.guestPath)} is a relative path`, 'Use an absolute guest path.');
    }
    const loc = normalizePath(raw);
    const guest = normalizePath(rawGuest);
    const reserved = RESERVED_GUEST_PATHS.find((r) => (r === '/' ? guest === '/' : within(guest, r)));
    if (reserved && !ALLOWED_UNDER_RESERVED.some((a) => within(guest, a))) {
      throw new BerthFailure('E_CONFIG', `mounts[${i}]: guest path ${guest} would hide the VM's own ${reserved}`, 'Mount it somewhere else with guestPath, e.g. /mnt/host.');
    }
    if (checkExists) {
      try {
        probe(loc);
      } catch (e) {
        throw folderFailure(key, loc, e as NodeJS.ErrnoException, host.platform);
      }
    }
    out.push({ location: loc, guestPath: guest, writable: m.writable });
  });
  for (let i = 0; i < out.length; i++) {
    for (let j = i + 1; j < out.length; j++) {
      const [a, b] = [out[i]!.guestPath, out[j]!.guestPath];
      if (within(a, b) || within(b, a)) {
        throw new BerthFailure('E_CONFIG', `mounts[${i}] and mounts[${j}] overlap (${a} and ${b})`, 'Keep only the outer folder, or give one a different guestPath.');
      }
    }
  }
  return out;
}

/** Validate a plain object (from YAML, or a settings.set patch merged onto the current settings). */
export function validateSettings(raw: unknown, host: HostInfo = currentHost(), where: (key: string) => YamlNode | null = () => null): Settings {
  const problems: Problem[] = [];
  const add = (key: string, message: string) => problems.push({ key, message, node: where(key) });
  const base = defaultSettings(host);
  if (raw === null || raw === undefined) return base;
  if (typeOf(raw) !== 'object') {
    throw new BerthFailure('E_CONFIG', 'berth.yaml must be a mapping of settings (key: value)', 'Fix berth.yaml (nothing was changed or started); the README has an example.');
  }
  const r = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(r)) {
    const want = KNOWN[k];
    if (!want) add(k, `unknown key (known keys: ${Object.keys(KNOWN).join(', ')})`);
    else if (typeOf(v) !== want) add(k, `must be a ${want}, got ${typeOf(v)}`);
  }
  const s: Settings = { ...base };
  if (typeof r.arch === 'string') {
    if (r.arch === 'x86_64' || r.arch === 'aarch64') s.arch = r.arch;
    else add('arch', `must be x86_64 or aarch64, got ${JSON.stringify(r.arch)}`);
  }
  const numberIn = (key: 'cpus' | 'memoryGiB' | 'diskGiB', integer: boolean) => {
    const v = r[key];
    if (typeof v !== 'number') return;
    const { min, max } = LIMITS[key];
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      add(key, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${v}`);
    } else s[key] = v;
  };
  numberIn('cpus', true);
  numberIn('memoryGiB', false);
  numberIn('diskGiB', true);
  if (typeof r.cpus === 'number' && r.cpus > host.cpus && Number.isInteger(r.cpus) && r.cpus <= LIMITS.cpus.max) {
    add('cpus', `${r.cpus} is more than this machine's ${host.cpus} cores`);
  }
  if (typeof r.memoryGiB === 'number' && r.memoryGiB * 2 ** 30 > host.memoryBytes) {
    add('memoryGiB', `${r.memoryGiB} GiB is more than this machine's ${(host.memoryBytes / 2 ** 30).toFixed(1)} GiB`);
  }
  if (Array.isArray(r.mounts)) {
    const mounts: MountSetting[] = [];
    r.mounts.forEach((m, i) => {
      if (typeOf(m) !== 'object') return add(`mounts[${i}]`, 'must be a mapping with location and writable');
      const mm = m as Record<string, unknown>;
      for (const k of Object.keys(mm)) if (!['location', 'writable', 'guestPath'].includes(k)) add(`mounts[${i}].${k}`, 'unknown key (known: location, writable, guestPath)');
      if (typeof mm.location !== 'string' || !mm.location) return add(`mounts[${i}].location`, 'must be a folder path');
      if (mm.writable !== undefined && typeof mm.writable !== 'boolean') return add(`mounts[${i}].writable`, 'must be true or false');
      if (mm.guestPath !== undefined && typeof mm.guestPath !== 'string') return add(`mounts[${i}].guestPath`, 'must be a path');
      for (const k of ['location', 'guestPath'] as const) {
        const c = typeof mm[k] === 'string' ? controlCharIn(mm[k] as string) : undefined;
        if (c) return add(`mounts[${i}].${k}`, `contains a control character (${c}); use a path without newlines or tabs`);
      }
      mounts.push({ location: mm.location, writable: mm.writable === true, ...(mm.guestPath ? { guestPath: mm.guestPath as string } : {}) });
    });
    s.mounts = mounts;
  }
  if (typeOf(r.emulation) === 'object') {
    const e = r.emulation as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (k === 'cpu') add('emulation.cpu', 'not supported: binfmt_misc cannot pass a CPU model to the interpreter; use `docker run -e QEMU_CPU=<model>` per container');
      else if (k !== 'enabled') add(`emulation.${k}`, 'unknown key (known: enabled)');
    }
    if (e.enabled !== undefined && typeof e.enabled !== 'boolean') add('emulation.enabled', 'must be true or false');
    s.emulation = { enabled: e.enabled === true };
  }
  if (typeOf(r.ports) === 'object') {
    const p = r.ports as Record<string, unknown>;
    for (const k of Object.keys(p)) if (!['ignore', 'map'].includes(k)) add(`ports.${k}`, 'unknown key (known: ignore, map)');
    const isPort = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
    const ignore: number[] = [];
    if (p.ignore !== undefined) {
      if (!Array.isArray(p.ignore)) add('ports.ignore', 'must be a list of port numbers');
      else p.ignore.forEach((n, i) => (isPort(n) ? ignore.push(n as number) : add(`ports.ignore[${i}]`, `must be a port number 1–65535, got ${JSON.stringify(n)}`)));
    }
    const map: Record<string, number> = {};
    if (p.map !== undefined) {
      if (typeOf(p.map) !== 'object') add('ports.map', 'must map guest ports to host ports, e.g. {80: 8080}');
      else
        for (const [g, h] of Object.entries(p.map as Record<string, unknown>)) {
          if (!isPort(Number(g)) || !isPort(h)) add(`ports.map.${g}`, 'guest and host ports must be numbers 1–65535');
          else map[String(Number(g))] = h as number;
        }
    }
    s.ports = { ignore, map };
  }
  if (typeof r.stopMode === 'string') {
    if (r.stopMode === 'shutdown' || r.stopMode === 'suspend') s.stopMode = r.stopMode;
    else add('stopMode', `must be shutdown or suspend, got ${JSON.stringify(r.stopMode)}`);
  }
  if (typeof r.guestTransport === 'string') {
    if (r.guestTransport === 'channel' || r.guestTransport === 'ssh') s.guestTransport = r.guestTransport;
    else add('guestTransport', `must be channel or ssh, got ${JSON.stringify(r.guestTransport)}`);
  }
  if (typeof r.keepRunningOnQuit === 'boolean') s.keepRunningOnQuit = r.keepRunningOnQuit;
  if (typeof r.suspendOnSleep === 'boolean') s.suspendOnSleep = r.suspendOnSleep;
  if (typeOf(r.docker) === 'object') {
    const d = r.docker as Record<string, unknown>;
    for (const k of Object.keys(d)) if (k !== 'context' && k !== 'defaultSocket') add(`docker.${k}`, 'unknown key (known: context, defaultSocket)');
    if (d.context !== undefined && typeof d.context !== 'boolean') add('docker.context', 'must be true or false');
    if (d.defaultSocket !== undefined && typeof d.defaultSocket !== 'boolean') add('docker.defaultSocket', `must be true or false, got ${JSON.stringify(d.defaultSocket)}`);
    s.docker = { context: d.context !== false, defaultSocket: d.defaultSocket === true };
  }
  if (typeOf(r.proxy) === 'object') {
    const p = r.proxy as Record<string, unknown>;
    const proxy: NonNullable<Settings['proxy']> = {};
    for (const [k, v] of Object.entries(p)) {
      if (k !== 'http' && k !== 'https' && k !== 'noProxy') add(`proxy.${k}`, 'unknown key (known: http, https, noProxy)');
      else if (v === undefined || v === null) continue;
      else if (typeof v !== 'string') add(`proxy.${k}`, `must be a string, got ${typeOf(v)}`);
      else {
        const bad = k === 'noProxy' ? noProxyProblem(v) : proxyUrlProblem(v.trim());
        if (bad) add(`proxy.${k}`, bad);
        else proxy[k] = k === 'noProxy' ? v : v.trim();
      }
    }
    s.proxy = proxy;
  }
  if (Array.isArray(r.caCertificates)) {
    const files: string[] = [];
    r.caCertificates.forEach((f, i) => {
      if (typeof f !== 'string' || !f) return add(`caCertificates[${i}]`, 'must be the path of a PEM file');
      const c = controlCharIn(f);
      if (c) return add(`caCertificates[${i}]`, `contains a control character (${c}); use a path without newlines or tabs`);
      files.push(f);
    });
    s.caCertificates = files;
  }
  if (problems.length) throw problemsToFailure(problems);
  return s;
}

let currentLines: LineCounter | null = null;
function problemsToFailure(problems: Problem[]): BerthFailure {
  const lines = problems.map((p) => {
    const at = p.node?.range && currentLines ? ` (line ${currentLines.linePos(p.node.range[0]).line})` : '';
    return `${p.key}${at}: ${p.message}`;
  });
  return new BerthFailure('E_CONFIG', `invalid settings: ${lines.join('; ')}`, 'Fix berth.yaml (nothing was changed or started), or delete it to get the defaults.');
}

function nodeAt(doc: YAML.Document, key: string): YamlNode | null {
  const parts = key.split(/\.|\[(\d+)\]/).filter((x) => x !== undefined && x !== '');
  let node: unknown = doc.contents;
  for (const part of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === part);
      if (!pair) return (node as YamlNode) ?? null;
      node = pair.value ?? pair.key;
    } else if (isSeq(node)) {
      node = node.items[Number(part)];
    } else break;
  }
  return (node as YamlNode) ?? null;
}

export function parseSettings(text: string, file: string, host: HostInfo = currentHost()): Settings {
  const lc = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new BerthFailure(
      'E_CONFIG',
      `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`,
      'Fix the YAML (nothing was changed or started), or delete the file to get the defaults.',
    );
  }
  currentLines = lc;
  try {
    return validateSettings(doc.toJS(), host, (key) => nodeAt(doc, key));
  } catch (e) {
    if (e instanceof BerthFailure && e.code === 'E_CONFIG') throw new BerthFailure('E_CONFIG', `${file}: ${e.message}`, e.hint);
    throw e;
  } finally {
    currentLines = null;
  }
}

export function loadSettings(file: string, host: HostInfo = currentHost()): Settings {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings(host);
    throw new BerthFailure('E_CONFIG', `cannot read ${file}: ${(e as Error).message}`, 'Check the file permissions.');
  }
  return parseSettings(text, file, host);
}

export function saveSettings(file: string, s: Settings): void {
  const header = '# Berth instance settings. Edit while stopped, or through the app / `berth` CLI.\n';
  writeFileAtomic(file, header + YAML.stringify(s), 0o600);
}

/** Merge a partial patch onto the current settings and validate the result. */
export function applyPatch(current: Settings, patch: Partial<Settings>, host: HostInfo = currentHost()): Settings {
  return validateSettings({ ...current, ...patch }, host);
}
