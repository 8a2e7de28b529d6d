// One QEMU process, launched here or found running after its supervisor died: its monitor (QMP),
// its exit, the power-off ladder, kill, save and load. Nothing else signals QEMU: a child is
// signalled directly, any other pid only after identity.ts confirmed it is still this instance's.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { STOP_PROGRESS } from '../../shared/progress.js';
import { BerthFailure } from '../errors.js';
import type { InstancePaths } from '../instance.js';
import { removeRunFiles, writeQemuArgs } from '../instance/index.js';
import type { QemuCommand } from '../qemu-args.js';
import { connectQmp, isAlive, readPid, spawnQemu, waitGone } from '../qemu-process.js';
import { QmpClient } from '../qmp.js';
import { binaryDigest } from '../suspend/binary-digest.js';
import { loadState, saveState } from '../suspend/migration.js';
import { isOurQemu, signalOurQemu } from './identity.js';
import type { IdentityOptions } from './identity.js';
import { qemuLogMark, qemuOutputSince } from './qemu-log.js';

/** How a power-off ended: the guest powered itself off, or the signal that ended QEMU. */
export type PowerOffHow = 'not running' | 'powerdown' | 'SIGTERM' | 'SIGKILL';

export interface PowerOffOptions {
  /** skip asking the guest: signals only */
  force: boolean;
  /** how long QEMU gets after SIGTERM before SIGKILL (default 2 s forced, 5 s otherwise) */
  termWaitMs?: number;
  progress?: (label: string) => void;
}

type GoneListener = (why: string, exit?: { code: number | null; signal: NodeJS.Signals | null }) => void;

export class Vm {
  qmp: QmpClient | null = null;
  private goneListeners: GoneListener[] = [];
  private goneSaid = false;
  private watch: NodeJS.Timeout | null = null;
  private constructor(
    private readonly paths: InstancePaths,
    readonly pid: number,
    /** null for a VM this process did not spawn (adopted, orphaned) */
    private readonly child: ChildProcess | null,
    /** where this launch's output begins in qemu.log */
    private readonly logMark: number,
    /** of the binary as launched: a save names the build that ran even if the file is replaced later */
    readonly binarySha256: string | undefined,
    private readonly identity: IdentityOptions = {},
    /** rejects when the spawn itself failed */
    private readonly spawnError?: Promise<never>,
  ) {
    child?.once('exit', (code, signal) => this.gone(signal ? `killed by ${signal}` : `exited with code ${code}`, { code, signal }));
  }

  /**
   * Start QEMU for this instance: its old sockets and pid file removed, a fresh serial log (the
   * kernel marker must come from this boot), the command line recorded. The monitor is connected
   * by `connect`.
   */
  static async launch(paths: InstancePaths, cmd: QemuCommand, sshPort: number, extraArgs: string[] = []): Promise<Vm> {
    removeRunFiles(paths, ['vm']);
    const prevSerial = paths.serialLog + '.1';
    if (fs.existsSync(paths.serialLog)) fs.renameSync(paths.serialLog, prevSerial);
    writeQemuArgs(paths, cmd, sshPort);
    const mark = qemuLogMark(paths.qemuLog);
    // Taken before anything can replace the file (cached, so a hash only for a new or changed binary).
    const sha256 = await binaryDigest(cmd.binary, paths.cache).catch(() => undefined);
    const child = spawnQemu({ binary: cmd.binary, args: [...cmd.args, ...extraArgs] }, paths.qemuLog);
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e) => reject(new BerthFailure('E_QEMU', `cannot run ${cmd.binary}: ${e.message}`, `Install QEMU (${cmd.binary}) or check PATH.`))),
    );
    // Handled even when nobody waits on the monitor any more.
    spawnError.catch(() => undefined);
    return new Vm(paths, child.pid ?? 0, child, mark, sha256, {}, spawnError);
  }

  /** The QEMU qemu.pid names, if it still is this instance's (identity.ts); not our child. */
  static find(paths: InstancePaths, identity: IdentityOptions = {}): Vm | null {
    const pid = readPid(paths.qemuPid);
    return isOurQemu(pid, paths, identity) ? new Vm(paths, pid, null, 0, undefined, identity) : null;
  }

  /** The process runs. */
  get up(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return isAlive(this.pid);
  }

  /** What QEMU itself printed since this launch (without our command-line header). */
  output(): string {
    return qemuOutputSince(this.paths.qemuLog, this.logMark);
  }

  /** Wait for a launched QEMU's monitor; a disk another QEMU holds is named as such. */
  async connect(timeoutMs = 15_000): Promise<QmpClient> {
    const waiting = connectQmp(this.paths.qmp, Date.now() + timeoutMs, () => this.up);
    const qmp = await (this.spawnError ? Promise.race([waiting, this.spawnError]) : waiting).catch((e: unknown) => {
      const why = this.output();
      if (/Failed to get ".*" lock/i.test(why)) {
        throw new BerthFailure('E_LOCKED', `the disk is in use by another QEMU: ${why}`, 'Another Berth VM runs on this instance; `berth status` shows it, `berth stop` stops it.');
      }
      if (e instanceof BerthFailure && e.code === 'E_QEMU' && why) throw new BerthFailure('E_QEMU', `${e.message}: ${why}`, e.hint);
      throw e;
    });
    this.qmp = qmp;
    return qmp;
  }

  /** Connect to the monitor of a VM found running (not our child). */
  async attachMonitor(timeoutMs: number): Promise<QmpClient> {
    this.qmp = await QmpClient.connect(this.paths.qmp, timeoutMs);
    return this.qmp;
  }

  /**
   * `fn` runs once, when the process is gone. A child reports its exit; for a VM found running the
   * pid is watched, and the monitor closing is the fastest sign (only QEMU's exit closes it while
   * we hold the connection, even while the process still tears down its memory and looks alive).
   */
  onGone(fn: GoneListener): void {
    this.goneListeners.push(fn);
    if (this.child || this.watch) return;
    this.watch = setInterval(() => {
      if (!isAlive(this.pid)) this.gone(`exited (adopted pid ${this.pid})`);
    }, 250);
    this.qmp?.on('close', () => this.gone(`exited (adopted pid ${this.pid}; its monitor closed)`));
  }

  private gone(why: string, exit?: { code: number | null; signal: NodeJS.Signals | null }): void {
    this.stopWatching();
    if (this.goneSaid) return;
    this.goneSaid = true;
    for (const fn of this.goneListeners) fn(why, exit);
  }

  private stopWatching(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
  }

  /** Let go of a VM left running: no more watching, the monitor closed. */
  detach(): void {
    this.stopWatching();
    this.goneSaid = true;
    this.qmp?.close();
  }

  waitGone(ms: number): Promise<boolean> {
    return waitGone(this.pid, ms, this.child ?? undefined);
  }

  /** Our child, or a found pid only while it still is our QEMU (an exited pid can be reused). */
  private signal(sig: NodeJS.Signals): void {
    if (this.child) this.child.kill(sig);
    else signalOurQemu(this.pid, this.paths, sig, this.identity);
  }

  /** The power-off ladder: ACPI powerdown → wait → SIGTERM → wait → SIGKILL. */
  async powerOff(o: PowerOffOptions): Promise<PowerOffHow> {
    if (!isAlive(this.pid)) return 'not running';
    if (!o.force && this.qmp && !this.qmp.isClosed) {
      o.progress?.(STOP_PROGRESS.powerdown);
      try {
        await this.qmp.execute('system_powerdown', undefined, 3000);
        // dockerd gives containers 10 s to stop; leave room for that and the guest's own shutdown.
        if (await this.waitGone(30_000)) return 'powerdown';
      } catch {
        // fall through to signals
      }
    }
    o.progress?.(STOP_PROGRESS.terminate);
    this.signal('SIGTERM');
    if (await this.waitGone(o.termWaitMs ?? (o.force ? 2000 : 5000))) return 'SIGTERM';
    this.signal('SIGKILL');
    await this.waitGone(5000);
    return 'SIGKILL';
  }

  /** At once, whatever the guest is doing (a launch given up, a state that would not load). */
  async kill(): Promise<void> {
    this.qmp?.close();
    if (isAlive(this.pid)) {
      this.signal('SIGKILL');
      await this.waitGone(5000);
    }
  }

  /** Pause the VM and write its state to `file`; QEMU refuses at once when something blocks a save (a mounted 9p share). */
  async save(file: string, onBytes?: (done: number, total: number) => void): Promise<void> {
    const qmp = this.monitor();
    await qmp.execute('stop');
    await saveState(qmp, file, onBytes);
  }

  /** After a failed save: let the VM run on. */
  async cont(): Promise<void> {
    await this.monitor().execute('cont');
  }

  /** Load a saved state into a QEMU launched with `-incoming defer`, then let it run. */
  async load(file: string): Promise<void> {
    await loadState(this.monitor(), file);
  }

  /** Ask QEMU to quit (it closes the disk cleanly) and wait for it to be gone. */
  async quit(ms: number): Promise<boolean> {
    await this.qmp?.execute('quit').catch(() => undefined);
    return this.waitGone(ms);
  }

  private monitor(): QmpClient {
    if (!this.qmp || this.qmp.isClosed) throw new BerthFailure('E_QEMU', 'the QEMU monitor is not connected');
    return this.qmp;
  }
}
