// docker.defaultSocket: /var/run/docker.sock as a symlink to this instance's socket while it runs,
// for tools that look only there (as Docker Desktop's "Allow the default Docker socket to be
// used" does). A socket, file or link that is not ours belongs to another Docker (a host dockerd,
// Docker Desktop's own link) and is never replaced: the status says so.
//
// /var/run is root's. As root the link is made directly; on Linux without root the status gives
// the exact command; on macOS the standard administrator prompt makes it (osascript's `with
// administrator privileges`, the system's own authorization dialog, no helper to install). macOS
// clears /var/run at every boot, so that prompt comes once per boot of the Mac: a link Berth cannot
// remove without root is left dangling at stop (clients treat a dangling link like no socket) and
// found again as ours at the next start.
import fs from 'node:fs';
import { execa } from 'execa';
import type { Settings } from '../../shared/settings.js';
import type { SocketsStatus, Status } from '../../shared/status.js';
import { shellQuote } from '../guest/index.js';
import type { Service, ServiceContext } from './service.js';

export const SYSTEM_SOCKET = '/var/run/docker.sock';

export type DefaultSocketInfo = NonNullable<SocketsStatus['defaultSocket']>;

/** What is at the system socket path now. */
export type Found = { kind: 'none' } | { kind: 'ours' } | { kind: 'link'; target: string } | { kind: 'socket' } | { kind: 'other' };

export function inspectSystemSocket(systemSocket: string, ours: string): Found {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(systemSocket);
  } catch {
    return { kind: 'none' };
  }
  if (st.isSymbolicLink()) {
    const target = fs.readlinkSync(systemSocket);
    return target === ours ? { kind: 'ours' } : { kind: 'link', target };
  }
  return st.isSocket() ? { kind: 'socket' } : { kind: 'other' };
}

export type Plan =
  | { do: 'nothing'; info?: DefaultSocketInfo }
  | { do: 'link'; how: 'direct' | 'prompt' }
  | { do: 'tell'; info: DefaultSocketInfo }
  | { do: 'unlink' };

/** The shell command that makes the link, refusing (ln without -f) if anything appeared meanwhile. */
export function linkCommand(ours: string, systemSocket = SYSTEM_SOCKET): string {
  return `ln -s ${shellQuote(ours)} ${systemSocket}`;
}

/** What to do at ready, from the setting, what is there, and who we are. Pure. */
export function planDefaultSocket(opts: { enabled: boolean; found: Found; platform: 'darwin' | 'linux'; isRoot: boolean; ours: string; systemSocket: string; promptedThisRun: boolean }): Plan {
  const { found, systemSocket } = opts;
  if (!opts.enabled) return found.kind === 'ours' ? { do: 'unlink' } : { do: 'nothing' };
  switch (found.kind) {
    case 'ours':
      return { do: 'nothing', info: { state: 'linked', note: `${systemSocket} → this instance` } };
    case 'link':
      return { do: 'nothing', info: { state: 'taken', note: `${systemSocket} links to ${found.target} (another Docker's): left alone; use the berth context or DOCKER_HOST` } };
    case 'socket':
      return { do: 'nothing', info: { state: 'taken', note: `${systemSocket} is another Docker's socket (a Docker engine on this machine): left alone; use the berth context or DOCKER_HOST` } };
    case 'other':
      return { do: 'nothing', info: { state: 'taken', note: `${systemSocket} exists and is not a socket or link: left alone` } };
    case 'none':
      break;
  }
  if (opts.isRoot) return { do: 'link', how: 'direct' };
  if (opts.platform === 'darwin') {
    // Asked once per start at most: a cancelled prompt is not repeated until the next start.
    if (opts.promptedThisRun) return { do: 'tell', info: { state: 'action', note: `${systemSocket} is not linked: the administrator prompt was cancelled; Stop and Start to be asked again` } };
    return { do: 'link', how: 'prompt' };
  }
  const command = `sudo ${linkCommand(opts.ours, systemSocket)}`;
  return { do: 'tell', info: { state: 'action', note: `${systemSocket} needs root to link: run \`${command}\``, command } };
}

/** Runs one shell command as root after the system's authorization prompt; resolves with its error text on failure. */
export type PrivilegedRunner = (shellCommand: string) => Promise<{ ok: true } | { ok: false; error: string }>;

/** AppleScript string literal: backslashes and double quotes escaped. */
export function appleScriptString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export const osascriptRunner: PrivilegedRunner = async (shellCommand) => {
  const r = await execa('osascript', ['-e', `do shell script ${appleScriptString(shellCommand)} with administrator privileges`], { reject: false, timeout: 10 * 60_000 });
  return r.exitCode === 0 ? { ok: true } : { ok: false, error: String(r.stderr).trim() || `osascript exited with ${r.exitCode}` };
};

export interface DefaultSocketOptions {
  platform: 'darwin' | 'linux';
  /** the effective uid (0: root) */
  uid?: number;
  systemSocket?: string;
  runPrivileged?: PrivilegedRunner;
}

export class DefaultSocketService implements Service {
  readonly name = 'default-socket';
  private info: DefaultSocketInfo | undefined;
  private prompted = false;
  private readonly systemSocket: string;
  private readonly uid: number;
  private readonly runPrivileged: PrivilegedRunner;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly opts: DefaultSocketOptions,
  ) {
    this.systemSocket = opts.systemSocket ?? SYSTEM_SOCKET;
    this.uid = opts.uid ?? process.getuid?.() ?? -1;
    this.runPrivileged = opts.runPrivileged ?? osascriptRunner;
  }

  onStart(): void {
    this.info = undefined;
    this.prompted = false;
  }

  async onReady(settings: Settings): Promise<void> {
    const ours = this.ctx.paths.docker;
    const plan = planDefaultSocket({
      enabled: settings.docker.defaultSocket,
      found: inspectSystemSocket(this.systemSocket, ours),
      platform: this.opts.platform,
      isRoot: this.uid === 0,
      ours,
      systemSocket: this.systemSocket,
      promptedThisRun: this.prompted,
    });
    this.info = await this.carryOut(plan, ours);
    this.ctx.statusChanged();
  }

  private async carryOut(plan: Plan, ours: string): Promise<DefaultSocketInfo | undefined> {
    switch (plan.do) {
      case 'nothing':
        return plan.info;
      case 'tell':
        return plan.info;
      case 'unlink':
        this.unlinkIfOurs();
        return undefined;
      case 'link':
        break;
    }
    const linked = { state: 'linked' as const, note: `${this.systemSocket} → this instance` };
    if (plan.how === 'direct') {
      try {
        fs.symlinkSync(ours, this.systemSocket);
        return linked;
      } catch (e) {
        return { state: 'failed', note: `${this.systemSocket} could not be linked: ${(e as Error).message}` };
      }
    }
    this.prompted = true;
    const r = await this.runPrivileged(linkCommand(ours, this.systemSocket));
    if (r.ok) return linked;
    if (/-128|cancel/i.test(r.error)) return { state: 'action', note: `${this.systemSocket} is not linked: the administrator prompt was cancelled; Stop and Start to be asked again` };
    return { state: 'failed', note: `${this.systemSocket} could not be linked: ${r.error}` };
  }

  /** Our link goes (when this process may remove it); anything else stays. */
  private unlinkIfOurs(): void {
    if (inspectSystemSocket(this.systemSocket, this.ctx.paths.docker).kind !== 'ours') return;
    try {
      fs.unlinkSync(this.systemSocket);
    } catch {
      // /var/run needs root: the link stays, dangling, until the next start finds it as ours
    }
  }

  onStop(): void {
    this.unlinkIfOurs();
    this.info = undefined;
  }

  status(st: Status): void {
    if (this.info) st.sockets = { ...st.sockets, defaultSocket: this.info };
  }
}
