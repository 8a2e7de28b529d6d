// The supervisor: owns one instance. Runs the state machine and the readiness ladder (docs/architecture.md),
// spawns QEMU and the host agent, writes the event log, and answers the contract. No Electron here.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { validateRequest } from '../shared/contract.js';
import type { EventName, Events, Envelope, Method, Params, Result } from '../shared/contract.js';
import type { JournalEvents } from '../shared/journal.js';
import { RESTART_KEYS } from '../shared/settings.js';
import type { Settings } from '../shared/settings.js';
import { STEPS } from '../shared/status.js';
import type { Accel, ResumeInfo, StepName, StepRecord, Status, StopInfo, VmError, VmState } from '../shared/status.js';
import { hostOfProcess, noteAccelFailure, rememberAccel, rememberedAccelFailures } from './accel.js';
import { AgentHost, nodeForker } from './agent-host.js';
import type { AgentForker } from './agent-host.js';
import type { AgentInit, FromAgent } from './agent/protocol.js';
import type { Backend } from './backend.js';
import { applyPatch, currentHost, loadSettings, resolveMounts, saveSettings } from './config.js';
import { checkDiskBase, ensureDisk } from './disk.js';
import { BerthFailure, toBerthError } from './errors.js';
import { EventLog, tailFile } from './event-log.js';
import { readImageDir, resolveImage } from './image/local.js';
import type { GuestImage } from './image/local.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { baseStatus, readImageMemo, readQemuArgs, readVmState, removeRunFiles, settingsOrUndefined, writeImageMemo, writeVmState } from './instance/index.js';
import type { QemuHost } from './qemu-args.js';
import { configureTools } from './tools.js';
import { freePort, isAlive, waitSerial } from './qemu-process.js';
import { containersHeldBySuspend, settleAdopted } from './vm/adopt.js';
import { chooseQemu, vmCommand } from './vm/choice.js';
import type { ChoiceEnv, QemuChoice } from './vm/choice.js';
import { monitorNamesUs, qemuName } from './vm/identity.js';
import { Vm } from './vm/vm.js';
import type { QmpClient } from './qmp.js';
import { writeSeed } from './seed.js';
import { ensureSshMaterial, writeSshConfig } from './ssh-keys.js';
import type { SshMaterial } from './ssh-keys.js';
import type { QemuCommand } from './qemu-args.js';
import { commitSave, restartHeld, saveVm } from './suspend/save.js';
import type { SaveContext } from './suspend/save.js';
import type { Run } from './vm/run.js';
import { DockerService } from './docker/service.js';
import { Guest } from './guest/index.js';
import { StepTracker } from './lifecycle/steps.js';
import { ClockService } from './services/clock.js';
import { DockerContextService } from './services/docker-context.js';
import { MountsService } from './services/mounts.js';
import { PortsService } from './services/ports.js';
import { EmulationService } from './services/emulation.js';
import type { Service, ServiceContext } from './services/service.js';
import { binaryDigest } from './suspend/binary-digest.js';
import { bumpGeneration, discardSaved, readSaved, savedInfo, verifyStateFile, whyNotResume } from './suspend/saved-state.js';

export interface SupervisorOptions {
  paths: InstancePaths;
  forker?: AgentForker;
  host?: QemuHost;
  env?: NodeJS.ProcessEnv;
  /** how long the whole start may take before it is called failed */
  startTimeoutMs?: number;
  /** Electron's process.resourcesPath: the bundled QEMU lives under <resources>/qemu/ */
  resourcesPath?: string;
}

/** The marker the guest's initrd prints first: the kernel is up and running our code. */
const KERNEL_MARKER = 'berth-initrd:';
/** How long a never-before-seen hardware accelerator gets to show serial output. */
const ACCEL_PROBE_MS = 8000;



class Aborted extends Error {}

export class Supervisor implements Backend {
  readonly paths: InstancePaths;
  private readonly bus = new EventEmitter();
  private readonly log: EventLog;
  private readonly forker: AgentForker;
  private readonly host: QemuHost;
  private readonly env: NodeJS.ProcessEnv;
  private readonly startTimeoutMs: number;
  private readonly resourcesPath: string | undefined;

  private state: VmState = 'stopped';
  private readonly steps = new StepTracker({ journal: (k, d) => void this.log.append(k, d), progress: (p) => void this.bus.emit('progress', p), changed: () => this.emitStatus() });
  private error: VmError | undefined;
  private accelNote: string | undefined;
  private degradedReason: string | undefined;
  /** When the agent last reported SSH lost: a QEMU exit right after it was the cause, not a symptom. */
  private sshLostAt = 0;
  private readyMs: number | undefined;
  private startedAt: string | undefined;
  private run: Run | null = null;
  private agent: AgentHost;
  /** the guest's typed operations, over the agent's SSH exec */
  private readonly guest: Guest;
  private starting: Promise<Status> | null = null;
  private tearingDown: Promise<void> | null = null;
  private stopping: Promise<Status> | null = null;
  private abortStart = false;
  private readonly ports: PortsService;
  /** the services, in the order their hooks run */
  private readonly services: Service[] = [];
  private readonly clock: ClockService;
  private readonly emulation: EmulationService;
  private readonly mounts: MountsService;
  private agentRestarts = 0;
  private resumeInfo: ResumeInfo | undefined;
  /** what the last start did with a VM it found paused, saving or loading */
  private adoptNote: string | undefined;
  private lastStop: StopInfo | undefined;
  /** containers a suspend stopped (they held a shared folder), started again once the VM resumed */
  private restartAfterResume: { id: string; name: string }[] = [];
  /** containers, images, volumes, disk: the Docker Engine API on the forwarded socket */
  private readonly docker: DockerService;

  constructor(opts: SupervisorOptions) {
    this.paths = opts.paths;
    this.forker = opts.forker ?? nodeForker;
    this.host = opts.host ?? hostOfProcess();
    this.env = opts.env ?? process.env;
    this.startTimeoutMs = opts.startTimeoutMs ?? 5 * 60_000;
    this.resourcesPath = opts.resourcesPath;
    configureTools({ env: this.env, ...(this.resourcesPath ? { resourcesPath: this.resourcesPath } : {}) });
    ensureInstanceDir(this.paths);
    this.log = new EventLog(this.paths.events);
    this.agent = new AgentHost(this.forker, this.paths.agentLog);
    this.guest = new Guest(this.agent);
    this.agent.on('message', (m) => this.onAgentMessage(m));
    this.agent.on('exit', (why) => this.onAgentExit(why));
    const s = this.safeSettings();
    const ctx = this.serviceContext();
    this.clock = this.register(new ClockService(ctx));
    this.emulation = this.register(new EmulationService(ctx, s));
    this.mounts = this.register(new MountsService(ctx));
    this.register(new DockerContextService(ctx));
    this.ports = this.register(new PortsService(ctx));
    this.docker = new DockerService({ socketPath: this.paths.docker, diskFile: this.paths.disk, status: () => this.status(), emit: (e, p) => this.bus.emit(e, p), onStatus: (l) => this.on('status', l) });
  }

  private register<S extends Service>(service: S): S {
    this.services.push(service);
    return service;
  }

  /** What a service may see and do: the guest, the journal, the state, its status slice. */
  private serviceContext(): ServiceContext {
    return {
      paths: this.paths,
      guest: this.guest,
      env: this.env,
      resourcesPath: this.resourcesPath,
      vmState: () => this.state,
      guestReachable: () => !!this.agent.pid,
      journal: (kind, data) => void this.log.append(kind, data),
      emit: (event, payload) => void this.bus.emit(event, payload),
      statusChanged: () => this.emitStatus(),
    };
  }

  /** What a save (suspend/save.ts) needs of the engine. */
  private saveContext(): SaveContext {
    return {
      paths: this.paths,
      journal: (kind, data) => void this.log.append(kind, data),
      progress: (label, fraction) => void this.bus.emit('progress', { task: 'stop', label, ...(fraction !== undefined ? { fraction } : {}) }),
      services: this.services,
      shares: () => this.mounts.mounted(),
      guest: this.guest,
      guestReachable: () => !!this.agent.pid,
      stopAgent: async () => {
        await this.agent.stop();
        this.ports.clear();
      },
      restartNeeded: () => this.restartNeeded(),
    };
  }

  // ---- Backend ----

  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    this.bus.on(event, listener);
    return () => this.bus.off(event, listener);
  }

  async invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
    const bad = validateRequest(method, params);
    if (bad) return { ok: false, error: bad };
    try {
      const value = await this.dispatch(method, (params ?? {}) as Params<M>);
      return { ok: true, value: value as Result<M> };
    } catch (e) {
      return { ok: false, error: toBerthError(e) };
    }
  }

  async close(): Promise<void> {
    this.docker.close();
    this.bus.removeAllListeners();
  }

  private async dispatch(method: Method, params: unknown): Promise<unknown> {
    switch (method) {
      case 'vm.start':
        return this.start(params as Params<'vm.start'>);
      case 'vm.stop':
        return this.stop(params as Params<'vm.stop'>);
      case 'vm.restart':
        // Restart means a fresh boot (to apply settings, to clear a wedged guest), not a resume.
        await this.stop({ shutdown: true });
        return this.start({});
      case 'vm.status':
        return this.status();
      case 'vm.wake':
        if (this.state === 'running' || this.state === 'degraded') await this.clock.sync('host woke');
        return this.status();
      case 'emulation.set':
        return this.emulation.set((params as Params<'emulation.set'>).enabled);
      case 'emulation.status':
        return this.emulation.get();
      case 'ports.list':
        return this.status().ports;
      case 'mounts.list':
        return this.status().mounts;
      case 'settings.get':
        return loadSettings(this.paths.settings);
      case 'settings.set':
        return this.setSettings((params as Params<'settings.set'>).patch);
      case 'logs.tail': {
        const p = params as Params<'logs.tail'>;
        const file = { events: this.paths.events, serial: this.paths.serialLog, agent: this.paths.agentLog, supervisor: this.paths.supervisorLog }[p.source];
        return { lines: tailFile(file, p.lines ?? 200), path: file };
      }
      case 'console.open':
      case 'console.write':
      case 'console.resize':
      case 'console.close':
      case 'console.show':
      case 'console.target':
        throw new BerthFailure('E_UNKNOWN_METHOD', `${method} is served by the app, not by a headless supervisor`, 'Use `berth shell` in a terminal.');
      case 'containers.list':
      case 'containers.stats':
      case 'containers.start':
      case 'containers.stop':
      case 'containers.restart':
      case 'containers.remove':
      case 'containers.logs':
      case 'containers.logsClose':
      case 'images.list':
      case 'images.remove':
      case 'images.prune':
      case 'volumes.list':
      case 'volumes.remove':
      case 'volumes.prune':
      case 'disk.usage':
      case 'disk.reclaim':
        return this.docker.handle(method, params as never);
    }
  }

  // ---- status ----

  status(): Status {
    const s = this.run?.settings ?? this.safeSettings();
    const arch = s?.arch ?? 'x86_64';
    const st = baseStatus(this.paths, s, {
      state: this.state,
      steps: this.steps.snapshot(),
      pids: {
        supervisor: process.pid,
        ...(this.run ? { qemu: this.run.vm.pid } : {}),
        ...(this.agent.pid ? { agent: this.agent.pid } : {}),
      },
      restartNeeded: this.restartNeeded(),
    });
    for (const svc of this.services) svc.status?.(st);
    if (this.run) st.accel = this.run.accel;
    try {
      const d = fs.statSync(this.paths.disk);
      st.diskUsage = { fileBytes: d.blocks * 512, virtualBytes: (s?.diskGiB ?? 0) * 2 ** 30 };
    } catch {
      // no disk yet
    }
    if (this.accelNote) st.accelNote = this.accelNote;
    const accelMemo = rememberedAccelFailures(this.paths.cache, { guest: arch });
    if (accelMemo.length) st.accelMemo = accelMemo;
    if (this.error) st.error = this.error;
    if (this.startedAt) st.startedAt = this.startedAt;
    if (this.readyMs !== undefined) st.readyMs = this.readyMs;
    const saved = this.run ? undefined : savedInfo(this.paths);
    if (saved) st.saved = saved;
    if (this.resumeInfo) st.resume = this.resumeInfo;
    if (this.adoptNote) st.adoptNote = this.adoptNote;
    if (this.lastStop) st.lastStop = this.lastStop;
    if (this.degradedReason && this.state === 'degraded' && !st.error) {
      st.error = { code: 'E_AGENT', message: this.degradedReason, hint: 'See agent.log in the instance directory.', at: new Date().toISOString() };
    }
    return st;
  }

  private safeSettings(): Settings | undefined {
    return settingsOrUndefined(this.paths);
  }

  private restartNeeded(): boolean {
    if (!this.run) return false;
    const cur = this.safeSettings();
    if (!cur) return false;
    return RESTART_KEYS.some((k) => JSON.stringify(cur[k]) !== JSON.stringify(this.run!.settings[k]));
  }

  private setState(state: VmState, extra: Omit<JournalEvents['state'], 'state'> = {}): void {
    this.state = state;
    this.log.append('state', { state, ...extra });
    this.emitStatus();
  }

  private emitStatus(): void {
    this.bus.emit('status', this.status());
  }

  private stepUpdate(name: StepName, state: StepRecord['state'], detail?: string): void {
    this.steps.update(name, state, detail);
  }

  private checkAbort(): void {
    if (this.abortStart) throw new Aborted('start cancelled by stop');
  }

  // ---- start ----

  async start(params: Params<'vm.start'> = {}): Promise<Status> {
    if (this.state === 'running' || this.state === 'degraded') return this.status();
    if (this.starting) return this.starting;
    if (this.stopping) await this.stopping;
    if (this.tearingDown) await this.tearingDown;
    this.starting = this.doStart(params).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(params: Params<'vm.start'>): Promise<Status> {
    this.steps.begin();
    this.error = undefined;
    this.readyMs = undefined;
    this.abortStart = false;
    this.accelNote = undefined;
    this.degradedReason = undefined;
    this.agentRestarts = 0;
    this.resumeInfo = undefined;
    this.adoptNote = undefined;
    this.restartAfterResume = [];
    let current: StepName = 'image';
    try {
      // Validate everything before anything starts: a bad config starts nothing and changes nothing.
      let settings = loadSettings(this.paths.settings);
      const overrides = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Partial<Settings>;
      if (Object.keys(overrides).length) {
        settings = applyPatch(settings, overrides);
        saveSettings(this.paths.settings, settings);
      } else if (!fs.existsSync(this.paths.settings)) {
        saveSettings(this.paths.settings, settings);
      }
      const mounts = resolveMounts(settings.mounts, currentHost());
      checkSocketPaths(this.paths);
      for (const svc of this.services) svc.onStart?.(settings);
      this.setState('starting', { arch: settings.arch });

      // Every way up ends the same: the agent's steps (SSH → boot marker → dockerd → socket), then
      // the guest state applied, then running.
      const finish = async (s: Settings, extra: Omit<JournalEvents['state'], 'state'>, beforeApply?: () => Promise<void>): Promise<Status> => {
        this.checkAbort();
        current = 'ssh';
        await this.runAgentLadder(Math.max(10_000, this.startTimeoutMs - this.steps.elapsedMs()), (step) => (current = step));
        this.checkAbort();
        current = 'apply';
        this.stepUpdate('apply', 'running');
        await beforeApply?.();
        await this.applyGuestState(s);
        this.stepUpdate('apply', 'done');
        this.readyMs = this.steps.elapsedMs();
        this.startedAt = new Date().toISOString();
        this.setState('running', { readyMs: this.readyMs, accel: this.run?.accel, ...extra });
        return this.status();
      };

      const adopted = await this.tryAdopt();
      if (adopted) {
        // A VM that was paused stood still (clock) and may have had its shares unmounted for a save.
        const st = await finish(this.run!.settings, { adopted: true }, adopted === 'woken' ? () => this.afterResume() : undefined);
        void this.restartHeldContainers();
        return st;
      }

      if (await this.tryResume(settings, mounts)) {
        const st = await finish(settings, { resumed: true, loadMs: (this.resumeInfo as ResumeInfo | undefined)?.loadMs }, () => this.afterResume());
        void this.restartHeldContainers();
        return st;
      }

      this.stepUpdate('image', 'running');
      const image = await this.imageFor(settings);
      this.stepUpdate('image', 'done', `${image.manifest.arch} ${image.manifest.recipeHash}`);
      this.checkAbort();

      current = 'disk';
      this.stepUpdate('disk', 'running');
      const disk = await ensureDisk(this.paths.disk, image, settings.diskGiB);
      writeImageMemo(this.paths, { dir: image.dir, recipeHash: image.manifest.recipeHash });
      this.stepUpdate('disk', 'done', disk.created ? 'created' : disk.note ?? 'reused');
      this.checkAbort();

      current = 'qemu';
      this.stepUpdate('qemu', 'running');
      const ssh = await ensureSshMaterial(this.paths);
      const bootId = randomBytes(8).toString('hex');
      const tags = mounts.map((m, i) => ({ ...m, tag: `berth${i}` }));
      this.mounts.expect(tags);
      writeSeed(this.paths.seed, {
        hostname: 'berth',
        bootId,
        authorizedKey: ssh.clientPub,
        hostKey: ssh.hostKey,
        hostKeyPub: ssh.hostPub,
        mounts: tags.map((m) => ({ tag: m.tag, guestPath: m.guestPath, writable: m.writable })),
        emulation: settings.emulation.enabled,
        guestArch: settings.arch,
      });
      let choice = await this.pickQemu(settings);
      // A hardware accelerator that ran nothing is blamed only once TCG boots the very same VM.
      let silent: { accel: Accel; reason: string } | undefined;
      for (;;) {
        const sshPort = await freePort();
        writeSshConfig(this.paths, ssh, sshPort);
        const cmd = this.qemuCommand(settings, image, choice.accel, sshPort, tags, choice.bin);
        try {
          await this.launchQemu(cmd, { settings, image, accel: choice.accel, sshPort, bootId, ssh, qemuVersion: choice.qemu.version });
        } catch (e) {
          if (!choice.probe || (e instanceof BerthFailure && e.code === 'E_LOCKED')) throw e;
          const output = this.qemuOutput();
          const reason = `QEMU failed to start with ${choice.accel}: ${output || (e as Error).message}`;
          await this.fallBackToTcg(choice, settings.arch, { output, reason, args: cmd.args });
          choice = { ...choice, accel: 'tcg', probe: false };
          continue;
        }
        this.stepUpdate('qemu', 'done', `${choice.accel} pid ${this.run!.vm.pid}`);
        this.checkAbort();

        current = 'kernel';
        this.stepUpdate('kernel', 'running');
        const probeMs = choice.probe ? ACCEL_PROBE_MS : this.startTimeoutMs;
        const ok = await waitSerial(this.paths.serialLog, choice.probe ? '' : KERNEL_MARKER, Date.now() + probeMs, () => this.qemuUp() && !this.abortStart);
        this.checkAbort();
        if (!ok && choice.probe) {
          // The hardware accelerator produced nothing: boot again under TCG.
          const up = this.qemuUp();
          const output = up ? '' : this.qemuOutput();
          const reason = up ? `no serial output within ${ACCEL_PROBE_MS / 1000} s` : `QEMU exited: ${output}`;
          if (up) silent = { accel: choice.accel, reason };
          await this.fallBackToTcg(choice, settings.arch, { output, reason, args: cmd.args });
          choice = { ...choice, accel: 'tcg', probe: false };
          current = 'qemu';
          continue;
        }
        if (!ok) throw new BerthFailure(this.qemuUp() ? 'E_BOOT_TIMEOUT' : 'E_QEMU_EXITED', this.qemuUp() ? 'the kernel did not start' : `QEMU exited during boot: ${this.qemuOutput()}`);
        const key = { guest: settings.arch, qemuVersion: choice.qemu.version };
        if (choice.probe) {
          await waitSerial(this.paths.serialLog, KERNEL_MARKER, Date.now() + this.startTimeoutMs, () => this.qemuUp() && !this.abortStart);
          rememberAccel(this.paths.cache, { ...key, accel: choice.accel }, true, 'booted');
        }
        if (silent) {
          rememberAccel(this.paths.cache, { ...key, accel: silent.accel }, false, `${silent.reason}, while TCG booted the same VM`);
          this.accelNote = `${silent.accel.toUpperCase()} unusable here (${silent.reason}); using TCG`;
          this.log.append('accel-remembered', { accel: silent.accel, reason: silent.reason });
        }
        this.stepUpdate('kernel', 'done', choice.accel);
        break;
      }
      this.checkAbort();

      return await finish(settings, {});
    } catch (e) {
      if (e instanceof Aborted) {
        // A stop arrived mid-start: undo what this start brought up and end in a defined state.
        this.log.append('start-cancelled', { step: current });
        await this.teardown();
        this.steps.reset();
        this.setState('stopped', { cancelled: true });
        return this.status();
      }
      const err = toBerthError(e, 'E_INTERNAL');
      const meta = STEPS.find((s) => s.name === current)!;
      this.error = {
        ...err,
        hint: err.hint ?? `${meta.hint} Serial log: ${this.paths.serialLog}`,
        step: current,
        serialLog: this.paths.serialLog,
        at: new Date().toISOString(),
      };
      const was = this.steps.stateOf(current);
      if (was !== undefined && was !== 'done') this.stepUpdate(current, 'failed', err.message);
      await this.teardown();
      this.setState('error', { error: this.error });
      return this.status();
    }
  }

  private async imageFor(settings: Settings): Promise<GuestImage> {
    const onProgress = (p: Events['progress']) => {
      this.bus.emit('progress', p);
      this.stepUpdate('image', 'running', p.label);
    };
    // An existing disk must boot with the kernel of the image it was made from (module versions).
    const memo = fs.existsSync(this.paths.disk) ? readImageMemo(this.paths) : null;
    if (memo && fs.existsSync(path.join(memo.dir, 'manifest.json'))) return readImageDir(memo.dir, settings.arch);
    return resolveImage(settings.arch, onProgress, { env: this.env, berthHome: this.paths.home, ...(this.resourcesPath ? { resourcesDir: this.resourcesPath } : {}) });
  }

  private qemuUp(): boolean {
    return this.run?.vm.up ?? false;
  }

  /**
   * A VM whose supervisor died (crash, kill -9) keeps running. The next start adopts it instead of
   * booting a second QEMU on the same disk: reconnect QMP, restart the agent, walk the guest steps.
   */
  private async tryAdopt(): Promise<boolean | 'woken'> {
    const vm = Vm.find(this.paths);
    if (!vm) return false;
    const pid = vm.pid;
    const st = readVmState(this.paths);
    if (!st) return false;
    this.log.append('adopt', { pid });
    this.stepUpdate('image', 'done', 'adopted a running VM');
    this.stepUpdate('disk', 'done', 'in use by the running VM');
    const qmp = await vm.attachMonitor(5000).catch((e: Error) => {
      throw new BerthFailure('E_QEMU', `the VM (QEMU pid ${pid}) runs, but its monitor does not answer: ${e.message}`, '`berth stop --force` stops that VM; its files were left in place.');
    });
    const named = await monitorNamesUs(qmp, this.paths).catch(() => ({ ok: false, name: undefined }));
    if (!named.ok) {
      vm.detach();
      throw new BerthFailure('E_LOCKED', `QEMU pid ${pid} uses this instance's disk but calls itself ${JSON.stringify(named.name ?? '?')}, not ${qemuName(this.paths)}`, 'Stop that QEMU yourself: Berth neither adopts nor signals it.');
    }
    const ssh = await ensureSshMaterial(this.paths);
    const image = readImageDir(st.imageDir, st.settings.arch);
    this.run = { vm, sshPort: st.sshPort, bootId: st.bootId, accel: st.accel, image, settings: st.settings, ssh };
    // From here this VM is ours: when it goes, its files go with it.
    this.qemuFilesOurs = true;
    // What a later suspend records: the command line this VM was started with (without them a
    // stop shuts down instead of suspending).
    const args = readQemuArgs(this.paths);
    if (args) {
      this.run.cmd = { binary: args.binary, args: args.args };
      if (st.qemuVersion) this.run.qemuVersion = st.qemuVersion;
    }
    const settled = await this.settlePaused(qmp);
    if (settled === 'gone') return false;
    this.mounts.expect(resolveMounts(st.settings.mounts, currentHost(), false));
    this.stepUpdate('qemu', 'done', `adopted pid ${pid}`);
    this.stepUpdate('kernel', 'done', 'already running');
    this.watchVm(vm);
    return settled;
  }

  /** An adopted VM that was paused, saving or loading: finish, cancel or discard that, and say which. */
  private async settlePaused(qmp: QmpClient): Promise<true | 'woken' | 'gone'> {
    const run = this.run!;
    const settled = await settleAdopted(qmp, {
      whyNotFinish: () =>
        !fs.existsSync(this.paths.savedStatePartial)
          ? 'it was not saving to saved.vmstate.partial'
          : !run.cmd || !run.qemuVersion
            ? 'the command line it was started with is unknown'
            : this.restartNeeded()
              ? 'settings changed since it started, so the saved state could not be resumed'
              : null,
      finishSave: () => commitSave(this.saveContext(), run, Date.now(), containersHeldBySuspend(EventLog.readLast(this.paths.events))),
      alive: () => run.vm.up,
      kill: () => this.killQemu(),
      discard: (all) => (all ? void discardSaved(this.paths) : fs.rmSync(this.paths.savedStatePartial, { force: true })),
    }).catch((e: Error) => {
      // Leave the VM as it was found rather than kill it, and its memory with it.
      run.vm.detach();
      if (this.run === run) this.run = null;
      this.qemuFilesOurs = false;
      throw new BerthFailure('E_QEMU', `the VM (QEMU pid ${run.vm.pid}) is not running and could not be resumed: ${e.message}`, '`berth stop --force` stops it (what it held in memory is lost then).');
    });
    if (settled.kind === 'running') return true;
    this.adoptNote = settled.note;
    this.log.append('adopt-settled', { outcome: settled.kind, note: settled.note });
    if (settled.kind === 'continued' || settled.kind === 'suspend-cancelled') {
      if (settled.kind === 'suspend-cancelled') this.restartAfterResume = containersHeldBySuspend(EventLog.readLast(this.paths.events));
      return 'woken';
    }
    // The VM is gone: this start goes on to resume the completed save, or to boot cold.
    if (settled.kind === 'discarded') this.resumeInfo = { resumed: false, reason: settled.note };
    await this.killQemu();
    await this.cleanupFiles();
    this.steps.reset();
    this.emitStatus();
    return 'gone';
  }

  /**
   * A start with a saved state on disk: validate it against everything it depends on, then start
   * QEMU with `-incoming` and load it. Any mismatch or failure discards the state (it is used once)
   * and returns false, and the caller boots cold; the reason goes to the events and the status.
   */
  private async tryResume(settings: Settings, mounts: { location: string; guestPath: string; writable: boolean }[]): Promise<boolean> {
    const { record: rec, note } = readSaved(this.paths);
    if (!rec) {
      if (discardSaved(this.paths)) this.skipResume(note ? `${note}; it was discarded` : 'a saved state without its record (an interrupted save) was found and discarded');
      return false;
    }
    this.stepUpdate('image', 'running', 'checking the saved state');
    try {
      // A disk on the wrong base may be neither resumed nor booted. The state is kept (it is still
      // good with the original base) and the boot path refuses with the whole story.
      await checkDiskBase(this.paths.disk);
    } catch (e) {
      this.skipResume(`the disk cannot be used: ${(e as Error).message}`);
      return false;
    }
    const tags = mounts.map((m, i) => ({ ...m, tag: `berth${i}` }));
    let why: string | null;
    let ready: { image: GuestImage; choice: QemuChoice; cmd: QemuCommand } | undefined;
    try {
      const image = readImageDir(rec.imageDir, settings.arch);
      const choice = await this.pickQemu(settings);
      const cmd = this.qemuCommand(settings, image, choice.accel, rec.sshPort, tags, choice.bin);
      const qemu = { ...choice.qemu, sha256: await binaryDigest(choice.qemu.path, this.paths.cache), ...(choice.bin.dataDir ? { dataDir: choice.bin.dataDir } : {}) };
      why = whyNotResume(this.paths, rec, { qemu, recipeHash: image.manifest.recipeHash, settings, accel: choice.accel, args: cmd.args });
      ready = { image, choice, cmd };
    } catch (e) {
      why = `it cannot be checked: ${(e as Error).message}`;
    }
    if (why || !ready) {
      discardSaved(this.paths);
      this.skipResume(why ?? 'unknown');
      return false;
    }
    const { image, choice, cmd } = ready;
    const ssh = await ensureSshMaterial(this.paths);
    this.stepUpdate('image', 'done', `saved state of ${rec.savedAt}`);
    this.stepUpdate('disk', 'done', `unchanged since the save (generation ${rec.disk.generation})`);
    this.stepUpdate('qemu', 'running', 'resuming');
    const t0 = Date.now();
    // The state's checksum is computed while QEMU starts; nothing is loaded before it matched.
    const verifying = verifyStateFile(this.paths, rec);
    let damaged: string | null = null;
    try {
      writeSshConfig(this.paths, ssh, rec.sshPort);
      await this.launchQemu(cmd, { settings, image, accel: choice.accel, sshPort: rec.sshPort, bootId: rec.bootId, ssh, qemuVersion: choice.qemu.version }, ['-incoming', 'defer']);
      this.stepUpdate('qemu', 'done', `${choice.accel} pid ${this.run!.vm.pid}`);
      this.stepUpdate('kernel', 'running', 'loading the saved state');
      damaged = await verifying;
      if (damaged) throw new Error(damaged);
      await this.run!.vm.load(this.paths.savedState);
    } catch (e) {
      // A damaged state is the reason even when QEMU failed first: it could never have loaded.
      damaged ??= await verifying;
      const reason = damaged ?? `QEMU could not resume it: ${this.qemuOutput() || (e as Error).message}`;
      await this.killQemu();
      discardSaved(this.paths);
      this.skipResume(reason);
      return false;
    }
    // Used once: from now on the disk moves on and this state could only corrupt it.
    discardSaved(this.paths);
    const loadMs = Date.now() - t0;
    this.resumeInfo = { resumed: true, loadMs };
    this.restartAfterResume = rec.containersToRestart;
    this.mounts.expect(tags);
    this.log.append('resumed', { loadMs, savedAt: rec.savedAt, bytes: rec.stateBytes });
    this.stepUpdate('kernel', 'done', `resumed in ${loadMs} ms`);
    return true;
  }

  private skipResume(reason: string): void {
    this.resumeInfo = { resumed: false, reason };
    this.log.append('resume-skipped', { reason });
    this.steps.reset();
    this.emitStatus();
  }

  /** The guest kept running in its memory, but its clock stood still and the shares were unmounted. */
  private async afterResume(): Promise<void> {
    await Promise.all(this.services.map((svc) => svc.afterResume?.()));
  }

  /** Start again the containers the suspend stopped. */
  private async restartHeldContainers(): Promise<void> {
    const list = this.restartAfterResume;
    this.restartAfterResume = [];
    await restartHeld(this.saveContext(), list);
  }

  /**
   * The first boot under a hardware accelerator failed: say so and retry under TCG. Remembered (so
   * later starts skip the probe) only when the failure is the accelerator's; anything else would
   * keep this host on TCG for no reason.
   */
  private async fallBackToTcg(choice: QemuChoice, guest: Settings['arch'], failure: { output: string; reason: string; args: string[] }): Promise<void> {
    const name = choice.accel.toUpperCase();
    const { reason } = failure;
    const remember = noteAccelFailure(this.paths.cache, { accel: choice.accel, guest, qemuVersion: choice.qemu.version }, failure);
    if (remember) {
      this.accelNote = `${name} unusable here (${reason}); using TCG`;
    } else {
      this.accelNote = `${name} failed on this start (${reason}); using TCG this time, ${name} again on the next start`;
    }
    this.log.append('accel-fallback', { from: choice.accel, reason, remembered: remember });
    await this.killQemu();
    this.stepUpdate('qemu', 'running', 'retrying with TCG');
  }

  /** QEMU and the accelerator for this start (vm/choice.ts), noted in the status and the journal. */
  private async pickQemu(settings: Settings): Promise<QemuChoice> {
    const { choice, note, found } = await chooseQemu(this.choiceEnv(), settings);
    if (note) this.accelNote = note;
    this.log.append('qemu-binary', found);
    return choice;
  }

  private qemuCommand(settings: Settings, image: GuestImage, accel: Accel, sshPort: number, mounts: { tag: string; location: string; writable: boolean }[], qemuBin: QemuChoice['bin']): QemuCommand {
    return vmCommand(this.choiceEnv(), settings, image, accel, sshPort, mounts, qemuBin);
  }

  private choiceEnv(): ChoiceEnv {
    return { host: this.host, paths: this.paths, env: this.env, resourcesPath: this.resourcesPath };
  }

  private async launchQemu(
    cmd: QemuCommand,
    r: { settings: Settings; image: GuestImage; accel: Accel; sshPort: number; bootId: string; ssh: SshMaterial; qemuVersion: string },
    extraArgs: string[] = [],
  ): Promise<void> {
    const { settings, image, accel, sshPort, bootId, ssh } = r;
    this.qemuFilesOurs = true;
    // From this launch on, the disk may differ from any saved state: no record can match it again.
    bumpGeneration(this.paths);
    const vm = await Vm.launch(this.paths, cmd, sshPort, extraArgs);
    this.run = { vm, sshPort, bootId, accel, image, settings, ssh, cmd, qemuVersion: r.qemuVersion };
    writeVmState(this.paths, { pid: vm.pid, sshPort, bootId, accel, imageDir: image.dir, settings, qemuVersion: r.qemuVersion, startedAt: new Date().toISOString() });
    this.watchVm(vm);
    const qmp = await vm.connect();
    qmp.on('event', (ev) => this.onQmpEvent(ev.event));
  }

  /** What QEMU itself printed since this VM's launch. */
  private qemuOutput(): string {
    return this.run?.vm.output() ?? '';
  }

  /** The VM going while it is this start's or this run's; an adopted VM's monitor events (a launched one's come once it connects). */
  private watchVm(vm: Vm): void {
    vm.qmp?.on('event', (ev) => this.onQmpEvent(ev.event));
    vm.onGone((why, exit) => {
      if (this.run?.vm !== vm) return;
      if (exit) this.log.append('qemu-exit', exit);
      this.onQemuGone(why);
    });
  }

  private onQemuGone(why: string): void {
    if (this.state === 'stopping' || this.state === 'stopped' || this.state === 'error') return;
    if (this.state === 'starting') return; // the ladder notices and reports with the failing step
    // The VM died under us: say so at once, with the exit reason and where to look.
    this.error = {
      code: 'E_QEMU_EXITED',
      message: `QEMU ${why} while the VM was ${this.state === 'degraded' && Date.now() - this.sshLostAt < 2000 ? 'running' : this.state}`,
      hint: `See ${this.paths.qemuLog} and the serial log; \`berth start\` boots it again (the disk is journaled).`,
      serialLog: this.paths.serialLog,
      at: new Date().toISOString(),
    };
    // Say so first (within milliseconds of the exit), then clean up behind it.
    this.setState('error', { error: this.error });
    this.tearingDown = this.teardown().finally(() => {
      this.tearingDown = null;
      this.emitStatus();
    });
  }

  private onQmpEvent(event: string): void {
    this.log.append('qmp-event', { event });
    // The guest clock stood still while the VM was paused (host sleep, QMP stop): set it at once.
    if (event === 'RESUME' && (this.state === 'running' || this.state === 'degraded')) void this.clock.sync('resume');
  }



  private agentWaiter: { step: (m: FromAgent) => void } | null = null;

  private runAgentLadder(timeoutMs: number, onStep: (s: StepName) => void): Promise<void> {
    const run = this.run!;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BerthFailure('E_BOOT_TIMEOUT', `the guest did not get ready within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const exitWatch = setInterval(() => {
        if (!this.qemuUp()) done(new BerthFailure('E_QEMU_EXITED', `QEMU exited during boot: ${this.qemuOutput() || 'see qemu.log'}`));
        else if (this.abortStart) done(new Aborted('start cancelled by stop'));
      }, 100);
      const done = (e?: Error) => {
        clearTimeout(timer);
        clearInterval(exitWatch);
        this.agentWaiter = null;
        if (e) reject(e);
        else resolve();
      };
      this.agentWaiter = {
        step: (m) => {
          if (m.type === 'step') {
            onStep(m.name);
            if (m.state === 'failed') {
              const code = m.name === 'docker' ? 'E_DOCKER' : m.name === 'socket' ? 'E_SOCKET' : 'E_SSH';
              done(new BerthFailure(code, m.detail ?? `${m.name} failed`));
            }
          } else if (m.type === 'ready') done();
        },
      };
      this.agent.start(this.agentInit(run, timeoutMs));
    });
  }

  /** What the host agent needs to reach this VM's guest; `quiet` for a restart behind a running VM. */
  private agentInit(run: Run, deadlineMs: number, quiet = false): AgentInit {
    return { type: 'init', sshPort: run.sshPort, clientKey: run.ssh.clientKey, hostKeyPub: run.ssh.hostPub, bootId: run.bootId, dockerSocket: this.paths.docker, deadlineMs, ...(quiet ? { quiet: true } : {}), ports: run.settings.ports };
  }

  private onAgentMessage(m: FromAgent): void {
    if (m.type === 'step') {
      if (this.state === 'starting') this.stepUpdate(m.name, m.state, m.detail);
    } else if (m.type === 'ports') {
      this.ports.update(m.ports);
      this.emitStatus();
    } else if (m.type === 'log') {
      this.bus.emit('log', { source: 'agent', line: m.line });
    } else if (m.type === 'ssh') {
      this.log.append('ssh', { up: m.up, ...(m.reason ? { reason: m.reason } : {}) });
      // QEMU dying also drops SSH, sometimes a moment before its monitor closes: that is a QEMU
      // exit (reported by onQemuGone), not a degraded-but-running VM.
      if (!m.up && this.state === 'running' && this.run && isAlive(this.run.vm.pid)) {
        this.sshLostAt = Date.now();
        this.degradedReason = `SSH connection to the guest lost (${m.reason ?? 'closed'}); reconnecting`;
        this.setState('degraded');
      } else if (m.up && this.state === 'degraded') {
        this.degradedReason = undefined;
        this.setState('running');
        void this.clock.sync('ssh reconnected');
      }
    } else if (m.type === 'ready' && this.state === 'degraded') {
      this.degradedReason = undefined;
      this.setState('running', { agent: 'restarted' });
    }
    this.agentWaiter?.step(m);
  }

  private onAgentExit(why: string): void {
    this.log.append('agent-exit', { why });
    if (this.state !== 'running' && this.state !== 'degraded') return;
    // The VM is fine; bring the agent back (the Docker socket is down meanwhile: say so).
    this.degradedReason = `host agent ${why}; restarting it`;
    this.ports.clear();
    this.setState('degraded');
    this.agentRestarts++;
    const delay = this.agentRestarts <= 1 ? 20 : Math.min(5000, 100 * 2 ** Math.min(this.agentRestarts, 6));
    setTimeout(() => {
      const run = this.run;
      if (!run || (this.state !== 'degraded' && this.state !== 'running')) return;
      this.agent.start(this.agentInit(run, 120_000, true));
    }, delay);
  }

  /** The readiness step "apply": every service brings its part of the guest and the host up. */
  private async applyGuestState(settings: Settings): Promise<void> {
    await Promise.all(this.services.map((svc) => svc.onReady?.(settings)));
  }

  // ---- settings ----

  private async setSettings(patch: Partial<Settings>): Promise<{ settings: Settings; restartNeeded: boolean }> {
    const cur = loadSettings(this.paths.settings);
    const next = applyPatch(cur, patch);
    resolveMounts(next.mounts, currentHost());
    saveSettings(this.paths.settings, next);
    this.log.append('settings', { keys: Object.keys(patch) });
    if (patch.ports && this.agent.pid) this.agent.send({ type: 'ports-config', ports: next.ports });
    if (patch.emulation && patch.emulation.enabled !== cur.emulation.enabled && (this.state === 'running' || this.state === 'degraded')) {
      await this.emulation.set(next.emulation.enabled);
    }
    this.emitStatus();
    return { settings: next, restartNeeded: this.restartNeeded() };
  }

  // ---- stop ----

  async stop(params: Params<'vm.stop'> = {}): Promise<Status> {
    if (this.stopping) return this.stopping;
    if (this.starting) {
      // Stop during start: cancel the ladder at its next check, then shut down what is up.
      this.abortStart = true;
      await this.starting.catch(() => undefined);
    }
    if (!this.run && this.state !== 'error' && this.state !== 'starting') {
      if (params.shutdown && discardSaved(this.paths)) {
        this.lastStop = { how: 'shutdown', at: new Date().toISOString(), ms: 0, note: 'the saved state was discarded; the next start boots cold' };
        this.log.append('saved-discarded', { why: 'stop --shutdown' });
      }
      if (this.state !== 'stopped') this.setState('stopped');
      else this.emitStatus();
      return this.status();
    }
    this.stopping = this.doStop(params.force === true, params.shutdown === true).finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  private async doStop(force: boolean, shutdown: boolean): Promise<Status> {
    const t0 = Date.now();
    const was = this.state;
    // The setting as it is now: stopMode applies live (the dashboard can change it while running).
    const mode = shutdown || force ? 'shutdown' : (this.safeSettings() ?? this.run?.settings)?.stopMode ?? 'shutdown';
    this.setState('stopping', { force, mode });
    this.bus.emit('progress', { task: 'stop', label: 'Stopping Docker' });
    if (shutdown && discardSaved(this.paths)) this.log.append('saved-discarded', { why: 'stop --shutdown' });
    let how = '';
    let note: string | undefined;
    let bytes: number | undefined;
    if (mode === 'suspend') {
      const r = await saveVm(this.saveContext(), this.run, was);
      if (r.ok) {
        how = 'suspend';
        bytes = r.bytes;
        note = r.note;
      } else {
        // Suspend is an optimisation; stopping is what the user asked for. Say why in one line.
        note = `shut down instead of suspending: ${r.reason}`;
        this.log.append('suspend-failed', { reason: r.reason });
      }
    }
    if (!how) {
      if (!force && this.agent.pid) await this.guest.sync(5000).catch(() => undefined);
      await this.agent.stop();
      how = await this.shutdownQemu(force);
    }
    await this.cleanupFiles();
    for (const svc of this.services) svc.onStop?.();
    this.run = null;
    this.ports.clear();
    this.mounts.markPending();
    this.steps.reset();
    this.error = undefined;
    this.readyMs = undefined;
    this.startedAt = undefined;
    this.resumeInfo = undefined;
    this.adoptNote = undefined;
    const ms = Date.now() - t0;
    this.lastStop = { how: how === 'suspend' ? 'suspend' : 'shutdown', at: new Date().toISOString(), ms, ...(note ? { note } : {}), ...(bytes ? { bytes } : {}) };
    this.setState('stopped', { how, ms, ...(note ? { note } : {}), ...(bytes ? { bytes } : {}) });
    return this.status();
  }

  /** The VM's power-off ladder (vm/vm.ts), its rungs shown as stop progress. */
  private async shutdownQemu(force: boolean): Promise<string> {
    if (!this.run) return 'not running';
    return this.run.vm.powerOff({ force, progress: (label) => this.bus.emit('progress', { task: 'stop', label }) });
  }

  private async killQemu(): Promise<void> {
    const run = this.run;
    if (!run) return;
    await run.vm.kill();
    this.run = null;
  }

  /** After a failure: stop whatever this start brought up, in reverse order. */
  private async teardown(): Promise<void> {
    for (const svc of this.services) svc.onStop?.();
    await this.agent.stop();
    this.ports.clear();
    if (this.run && isAlive(this.run.vm.pid)) {
      await this.shutdownQemu(true).catch(() => undefined);
    }
    this.run?.vm.detach();
    this.run = null;
    await this.cleanupFiles();
  }

  /**
   * QEMU's pid, sockets and state.json go only with a QEMU this supervisor launched or adopted: a
   * failed adopt leaves the VM it could not reach visible to `berth status`, `stop` and the next start.
   */
  private qemuFilesOurs = false;

  private async cleanupFiles(): Promise<void> {
    removeRunFiles(this.paths, this.qemuFilesOurs ? ['agent', 'vm'] : ['agent']);
    this.qemuFilesOurs = false;
  }

  get currentState(): VmState {
    return this.state;
  }
}
