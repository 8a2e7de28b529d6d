// The supervisor: owns one instance. Runs the state machine and the readiness ladder (docs/architecture.md),
// spawns QEMU and the host agent, writes the event log, and answers the contract. No Electron here.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { validateRequest } from '../shared/contract.js';
import type { EventName, Events, Envelope, Method, Params, Result } from '../shared/contract.js';
import type { JournalEvents } from '../shared/journal.js';
import type { Settings } from '../shared/settings.js';
import { STEPS } from '../shared/status.js';
import type { Accel, StepName, StepRecord, Status, StopInfo, VmError, VmState } from '../shared/status.js';
import { hostOfProcess } from './accel.js';
import { AgentHost, nodeForker } from './agent-host.js';
import type { AgentForker } from './agent-host.js';
import type { Backend } from './backend.js';
import { applyPatch, currentHost, loadSettings, resolveMounts, saveSettings } from './config.js';
import { BerthFailure, toBerthError } from './errors.js';
import { EventLog, tailFile } from './event-log.js';
import { readImageDir, resolveImage } from './image/local.js';
import type { GuestImage } from './image/local.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { readImageMemo, removeRunFiles, settingsOrUndefined, writeVmState } from './instance/index.js';
import type { QemuHost } from './qemu-args.js';
import { configureTools } from './tools.js';
import type { ChoiceEnv } from './vm/choice.js';
import { Vm } from './vm/vm.js';
import { writeSeed } from './seed.js';
import type { SshMaterial } from './ssh-keys.js';
import type { QemuCommand } from './qemu-args.js';
import { restartHeld } from './suspend/save.js';
import type { SaveContext } from './suspend/save.js';
import type { Run } from './vm/run.js';
import { DockerService } from './docker/service.js';
import { Guest } from './guest/index.js';
import { StepTracker } from './lifecycle/steps.js';
import { AgentWatch } from './lifecycle/agent.js';
import { powerDown, teardown } from './lifecycle/stop.js';
import { liveStatus } from './lifecycle/status.js';
import { changeSettings, restartNeeded } from './lifecycle/settings.js';
import type { SettingsHost } from './lifecycle/settings.js';
import type { StopHost } from './lifecycle/stop.js';
import { Aborted, climb } from './lifecycle/ladder.js';
import type { Start, StartHost, StartNotes, TaggedMount } from './lifecycle/ladder.js';
import { LADDERS, WAYS } from './lifecycle/ladders.js';
import { ClockService } from './services/clock.js';
import { DefaultSocketService } from './services/default-socket.js';
import { DockerContextService } from './services/docker-context.js';
import { DnsService } from './services/dns.js';
import { MountsService } from './services/mounts.js';
import { PortsService } from './services/ports.js';
import { UdpHostfwdService } from './services/udp-hostfwd.js';
import { SocketInContainersService } from './services/socket-in-containers.js';
import { TestcontainersService } from './services/testcontainers.js';
import { ProxyService } from './services/proxy.js';
import { EmulationService } from './services/emulation.js';
import type { Service, ServiceContext } from './services/service.js';
import { bumpGeneration, discardSaved } from './suspend/saved-state.js';

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
  /** docker.defaultSocket and the Testcontainers line apply live (settings.set while running) */
  private readonly defaultSocket: DefaultSocketService;
  private readonly testcontainers: TestcontainersService;
  private readonly proxy: ProxyService;
  /** the host agent's part of a start, its messages, its restarts */
  private readonly agentWatch: AgentWatch;
  private lastStop: StopInfo | undefined;
  /** what the last start found and did (accelerator, resume, adopt) */
  private notes: StartNotes = { restartAfterResume: [] };
  /** the ways up, tried in order (lifecycle/ladders.ts) */
  private readonly ladders = LADDERS;
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
    const s = this.safeSettings();
    const ctx = this.serviceContext();
    this.clock = this.register(new ClockService(ctx));
    this.emulation = this.register(new EmulationService(ctx, s));
    this.mounts = this.register(new MountsService(ctx));
    this.register(new DockerContextService(ctx));
    this.defaultSocket = this.register(new DefaultSocketService(ctx, { platform: this.host.os }));
    this.testcontainers = this.register(new TestcontainersService(ctx));
    this.register(new SocketInContainersService(ctx));
    this.register(new DnsService(ctx));
    const udpRules = this.register(new UdpHostfwdService(() => this.run?.vm.qmp ?? null, (line) => void this.bus.emit('log', { source: 'supervisor', line })));
    this.ports = this.register(new PortsService(ctx, udpRules));
    this.proxy = this.register(new ProxyService(ctx));
    this.agentWatch = new AgentWatch({
      paths: this.paths,
      agent: this.agent,
      steps: this.steps,
      ports: this.ports,
      clock: this.clock,
      run: () => this.run,
      state: () => this.state,
      setState: (state, extra) => this.setState(state, extra),
      emitStatus: () => this.emitStatus(),
      journal: (kind, data) => void this.log.append(kind, data),
      log: (line) => void this.bus.emit('log', { source: 'agent', line }),
      qemuUp: () => this.qemuUp(),
      qemuOutput: () => this.qemuOutput(),
      aborted: () => this.abortStart,
    });
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

  /** What bringing the VM down (lifecycle/stop.ts) needs of the engine. */
  private stopHost(): StopHost {
    return {
      agent: this.agent,
      guest: this.guest,
      services: this.services,
      ports: this.ports,
      run: () => this.run,
      dropRun: () => {
        this.run = null;
      },
      saveContext: () => this.saveContext(),
      journal: (kind, data) => void this.log.append(kind, data),
      progress: (label) => void this.bus.emit('progress', { task: 'stop', label }),
      cleanupFiles: () => this.cleanupFiles(),
    };
  }

  /** What a settings change (lifecycle/settings.ts) needs of the engine. */
  private settingsHost(): SettingsHost {
    return {
      paths: this.paths,
      agent: this.agent,
      defaultSocket: this.defaultSocket,
      testcontainers: this.testcontainers,
      emulation: this.emulation,
      state: () => this.state,
      journal: (kind, data) => void this.log.append(kind, data),
      emitStatus: () => this.emitStatus(),
      restartNeeded: () => this.restartNeeded(),
    };
  }

  /** What the ladders (lifecycle/) need of the engine during a start. */
  private startHost(): StartHost {
    return {
      paths: this.paths,
      startTimeoutMs: this.startTimeoutMs,
      steps: this.steps,
      mounts: this.mounts,
      agent: this.agent,
      notes: () => this.notes,
      journal: (kind, data) => void this.log.append(kind, data),
      emitStatus: () => this.emitStatus(),
      choiceEnv: () => this.choiceEnv(),
      saveContext: () => this.saveContext(),
      run: () => this.run,
      adopted: (run) => {
        this.run = run;
        this.qemuFilesOurs = true;
      },
      launch: (cmd, r, extraArgs) => this.launchQemu(cmd, r, extraArgs),
      kill: () => this.killQemu(),
      letGo: (run) => {
        run.vm.detach();
        if (this.run === run) this.run = null;
        this.qemuFilesOurs = false;
      },
      qemuUp: () => this.qemuUp(),
      qemuOutput: () => this.qemuOutput(),
      aborted: () => this.abortStart,
      watchVm: (vm) => this.watchVm(vm),
      cleanupFiles: () => this.cleanupFiles(),
      restartNeeded: () => this.restartNeeded(),
      imageFor: (settings) => this.imageFor(settings),
      writeSeed: (settings, bootId, ssh, mounts) => this.writeBootSeed(settings, bootId, ssh, mounts),
      agentLadder: (timeoutMs, onStep) => this.agentWatch.ladder(timeoutMs, onStep),
      applyGuestState: (settings) => this.applyGuestState(settings),
      afterResume: () => this.afterResume(),
    };
  }

  /** The per-boot settings QEMU hands the guest through fw_cfg. */
  private writeBootSeed(settings: Settings, bootId: string, ssh: SshMaterial, mounts: TaggedMount[]): void {
    writeSeed(this.paths.seed, {
      hostname: 'berth',
      bootId,
      authorizedKey: ssh.clientPub,
      hostKey: ssh.hostKey,
      hostKeyPub: ssh.hostPub,
      mounts: mounts.map((m) => ({ tag: m.tag, guestPath: m.guestPath, writable: m.writable })),
      emulation: settings.emulation.enabled,
      guestArch: settings.arch,
      ...this.proxy.seed(settings),
    });
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
        return changeSettings(this.settingsHost(), (params as Params<'settings.set'>).patch);
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
    return liveStatus({
      paths: this.paths,
      settings: this.run?.settings ?? this.safeSettings(),
      state: this.state,
      steps: this.steps.snapshot(),
      run: this.run,
      agentPid: this.agent.pid,
      restartNeeded: this.restartNeeded(),
      services: this.services,
      notes: this.notes,
      error: this.error,
      startedAt: this.startedAt,
      readyMs: this.readyMs,
      lastStop: this.lastStop,
      degradedReason: this.agentWatch.degradedReason,
    });
  }

  private safeSettings(): Settings | undefined {
    return settingsOrUndefined(this.paths);
  }

  private restartNeeded(): boolean {
    return restartNeeded(this.run, this.safeSettings());
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
    this.agentWatch.reset();
    this.notes = { restartAfterResume: [] };
    let start: Start | undefined;
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
      start = { host: this.startHost(), settings, mounts, current: 'image', extra: {}, woken: false };
      let up = false;
      for (const way of WAYS) if ((up = await climb(this.ladders[way], start))) break;
      if (!up) throw new BerthFailure('E_INTERNAL', 'no way up');
      this.readyMs = this.steps.elapsedMs();
      this.startedAt = new Date().toISOString();
      this.setState('running', { readyMs: this.readyMs, accel: this.run?.accel, ...start.extra });
      void this.restartHeldContainers();
      return this.status();
    } catch (e) {
      const current = start?.current ?? 'image';
      if (e instanceof Aborted) {
        // A stop arrived mid-start: undo what this start brought up and end in a defined state.
        this.log.append('start-cancelled', { step: current });
        await teardown(this.stopHost());
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
      await teardown(this.stopHost());
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

  /** The guest kept running in its memory, but its clock stood still and the shares were unmounted. */
  private async afterResume(): Promise<void> {
    await Promise.all(this.services.map((svc) => svc.afterResume?.()));
  }

  /** Start again the containers the suspend stopped. */
  private async restartHeldContainers(): Promise<void> {
    const list = this.notes.restartAfterResume;
    this.notes.restartAfterResume = [];
    await restartHeld(this.saveContext(), list);
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
      message: `QEMU ${why} while the VM was ${this.state === 'degraded' && Date.now() - this.agentWatch.sshLostAt < 2000 ? 'running' : this.state}`,
      hint: `See ${this.paths.qemuLog} and the serial log; \`berth start\` boots it again (the disk is journaled).`,
      serialLog: this.paths.serialLog,
      at: new Date().toISOString(),
    };
    // Say so first (within milliseconds of the exit), then clean up behind it.
    this.setState('error', { error: this.error });
    this.tearingDown = teardown(this.stopHost()).finally(() => {
      this.tearingDown = null;
      this.emitStatus();
    });
  }

  private onQmpEvent(event: string): void {
    this.log.append('qmp-event', { event });
    // The guest clock stood still while the VM was paused (host sleep, QMP stop): set it at once.
    if (event === 'RESUME' && (this.state === 'running' || this.state === 'degraded')) void this.clock.sync('resume');
  }



  /** The readiness step "apply": every service brings its part of the guest and the host up. */
  private async applyGuestState(settings: Settings): Promise<void> {
    await Promise.all(this.services.map((svc) => svc.onReady?.(settings)));
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
    const { how, note, bytes } = await powerDown(this.stopHost(), { mode, force, was });
    this.mounts.markPending();
    this.steps.reset();
    this.error = undefined;
    this.readyMs = undefined;
    this.startedAt = undefined;
    this.notes.resume = undefined;
    this.notes.adopt = undefined;
    const ms = Date.now() - t0;
    this.lastStop = { how: how === 'suspend' ? 'suspend' : 'shutdown', at: new Date().toISOString(), ms, ...(note ? { note } : {}), ...(bytes ? { bytes } : {}) };
    this.setState('stopped', { how, ms, ...(note ? { note } : {}), ...(bytes ? { bytes } : {}) });
    return this.status();
  }

  private async killQemu(): Promise<void> {
    const run = this.run;
    if (!run) return;
    await run.vm.kill();
    this.run = null;
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
