// Finding the external commands Berth runs (docker, qemu-img). An app opened from the Finder gets
// launchd's PATH, /usr/bin:/bin:/usr/sbin:/sbin, which holds neither Homebrew's folders nor Docker
// Desktop's, so a bare `docker` or `qemu-img` is not found there even though the user's terminal
// finds it. The search path is what a login shell would use: the process's own PATH, then (on macOS)
// the login shell's PATH, read once per process, then the folders these tools usually live in.
// Commands that macOS ships in /usr/bin or /usr/sbin (ssh, ssh-keygen, sysctl) need none of this.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthFailure } from './errors.js';

/** Runs `shell` as a login shell and returns the PATH it ends up with (undefined when that fails). */
export type LoginShellRunner = (shell: string, env: NodeJS.ProcessEnv) => Promise<string | undefined>;

export interface ToolSearchOptions {
  /** default process.env (or what configureTools set) */
  env?: NodeJS.ProcessEnv;
  /** default process.platform */
  platform?: NodeJS.Platform;
  /** default os.homedir() */
  home?: string;
  /** default runs `$SHELL -l -c 'printf …"$PATH"'` with a timeout */
  loginShell?: LoginShellRunner;
  /** the install folders tried after PATH; default usualToolDirs(platform, home) */
  prefixes?: string[];
}

const LOGIN_SHELL_TIMEOUT_MS = 5000;
const MARK = '__berth_path__';

/** The default runner: markers around the value, because profiles may print banners of their own. */
export const runLoginShell: LoginShellRunner = (shell, env) =>
  new Promise((resolve) => {
    let out = '';
    const child = spawn(shell, ['-l', '-c', `printf '${MARK}%s${MARK}' "$PATH"`], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), LOGIN_SHELL_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (out.length < 1 << 16) out += d;
    });
    child.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.on('close', () => {
      clearTimeout(timer);
      const m = new RegExp(`${MARK}(.*)${MARK}`, 's').exec(out);
      resolve(m ? m[1] : undefined);
    });
  });

/** Where docker and qemu-img are usually installed when they are not on launchd's PATH. */
export function usualToolDirs(platform: NodeJS.Platform, home: string): string[] {
  const system = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  if (platform !== 'darwin') return system;
  return [
    '/opt/homebrew/bin', // Homebrew on Apple Silicon
    '/usr/local/bin', // Homebrew on Intel, Docker Desktop's symlinks
    '/opt/local/bin', // MacPorts
    '/Applications/Docker.app/Contents/Resources/bin',
    path.join(home, '.docker', 'bin'), // Docker Desktop without admin rights
    path.join(home, '.rd', 'bin'), // Rancher Desktop
    path.join(home, '.orbstack', 'bin'),
    '/Applications/OrbStack.app/Contents/MacOS/xbin',
    ...system.slice(1),
  ];
}

// One read per (runner, shell) for the life of the process: a login shell can take a second.
const shellPaths = new WeakMap<LoginShellRunner, Map<string, Promise<string | undefined>>>();

function loginShellPath(runner: LoginShellRunner, shell: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  let byShell = shellPaths.get(runner);
  if (!byShell) shellPaths.set(runner, (byShell = new Map()));
  let p = byShell.get(shell);
  if (!p) {
    p = runner(shell, env).catch(() => undefined);
    byShell.set(shell, p);
  }
  return p;
}

type ToolDefaults = ToolSearchOptions & { resourcesPath?: string };
let defaults: ToolDefaults = {};

/**
 * Process-wide defaults, set by the supervisor: its environment, and Electron's resourcesPath, where
 * the app's own QEMU (and qemu-img) live. (Tests also set the platform and the search folders.)
 */
export function configureTools(d: ToolDefaults): void {
  defaults = { ...d };
}

function splitPath(value: string | undefined): string[] {
  return (value ?? '').split(path.delimiter).filter((d) => d && path.isAbsolute(d));
}

/** The folders searched for a tool, in order, without duplicates. */
export async function toolDirs(opts: ToolSearchOptions = {}): Promise<string[]> {
  const env = opts.env ?? defaults.env ?? process.env;
  const platform = opts.platform ?? defaults.platform ?? process.platform;
  const home = opts.home ?? defaults.home ?? env.HOME ?? os.homedir();
  const dirs = [...splitPath(env.PATH)];
  if (platform === 'darwin') {
    const shell = env.SHELL && path.isAbsolute(env.SHELL) ? env.SHELL : '/bin/zsh';
    dirs.push(...splitPath(await loginShellPath(opts.loginShell ?? defaults.loginShell ?? runLoginShell, shell, env)));
  }
  dirs.push(...(opts.prefixes ?? defaults.prefixes ?? usualToolDirs(platform, home)));
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

/** The same folders as a PATH value, for findQemu and for child processes that run tools themselves. */
export async function toolPath(opts: ToolSearchOptions = {}): Promise<string> {
  return (await toolDirs(opts)).join(path.delimiter);
}

function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class ToolMissing extends BerthFailure {
  constructor(
    readonly tool: string,
    readonly looked: string[],
    hint?: string,
  ) {
    super('E_TOOL_MISSING', `${tool} not found (looked in ${looked.join(', ')})`, hint);
    this.name = 'ToolMissing';
  }
}

export interface ResolveToolOptions extends ToolSearchOptions {
  /** folders tried before the search path (e.g. beside the QEMU Berth runs) */
  first?: string[];
  hint?: string;
}

/** The absolute path of `name`, or a ToolMissing (E_TOOL_MISSING) that lists every folder looked in. */
export async function resolveTool(name: string, opts: ResolveToolOptions = {}): Promise<string> {
  const dirs = [...new Set([...(opts.first ?? []).map((d) => path.resolve(d)), ...(await toolDirs(opts))])];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  throw new ToolMissing(name, dirs, opts.hint);
}

export interface QemuImgOptions extends ToolSearchOptions {
  /** Electron's process.resourcesPath (default: what configureTools set) */
  resourcesPath?: string;
  /** the qemu-system binary chosen (BERTH_QEMU by default): its qemu-img comes from the same build */
  qemuSystem?: string;
}

/**
 * qemu-img from the same QEMU Berth runs: beside BERTH_QEMU when set, then the app's bundled copy,
 * then the search path.
 */
export function resolveQemuImg(opts: QemuImgOptions = {}): Promise<string> {
  const env = opts.env ?? defaults.env ?? process.env;
  const platform = opts.platform ?? defaults.platform ?? process.platform;
  const resources = opts.resourcesPath ?? defaults.resourcesPath;
  const system = opts.qemuSystem ?? env.BERTH_QEMU;
  const first = [...(system ? [path.dirname(path.resolve(system))] : []), ...(resources ? [path.join(resources, 'qemu', 'bin')] : [])];
  const hint =
    platform === 'darwin'
      ? 'Berth.app bundles qemu-img: reinstall Berth from the dmg. Running from source, `brew install qemu`.'
      : 'Install qemu-img: `sudo apt-get install qemu-utils` (Debian/Ubuntu) or your distribution’s package.';
  return resolveTool('qemu-img', { ...opts, env, platform, first, hint });
}

/** The docker CLI (only its client is needed: Berth's VM runs the engine). */
export function resolveDocker(opts: ToolSearchOptions = {}): Promise<string> {
  const platform = opts.platform ?? defaults.platform ?? process.platform;
  const hint =
    platform === 'darwin'
      ? 'Install the Docker CLI (`brew install docker`); Berth needs only the client. Until then use DOCKER_HOST as `berth status` prints it.'
      : 'Install the Docker CLI (e.g. `sudo apt-get install docker.io`, or docker-ce-cli); until then use DOCKER_HOST as `berth status` prints it.';
  return resolveTool('docker', { ...opts, hint });
}
