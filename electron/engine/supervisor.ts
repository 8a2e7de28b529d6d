// The supervisor: owns one instance. Runs the state machine and the readiness ladder (docs/architecture.md),
// spawns QEMU and the host agent, writes the event log, and answers the contract. No Electron here.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { validateRequest } from '../shared/contract.js';
import type { EventName, Events, Envelope, Method, Params, Result } from '../shared/contract.js';
import type { JournalEvents } from '../shared/journal.js';
import { RESTART_KEYS } from '../shared/settings.js';
import type { Settings } from '../shared/settings.js';
import { STEPS } from '../shared/status.js';
import type { Accel, StepName, StepRecord, Status, StopInfo, VmError, VmState } from '../shared/status.js';
import { hostOfProcess, rememberedAccelFailures } from './accel.js';
import { AgentHost, nodeForker } from './agent-host.js';
import type { AgentForker } from './agent-host.js';
import type { AgentInit, FromAgent } from './agent/protocol.js';
import type { Backend } from './backend.js';
import { applyPatch, currentHost, loadSettings, resolveMounts, saveSettings } from './config.js';
import { BerthFailure, toBerthError } from './errors.js';
import { EventLog, tailFile } from './event-log.js';
import { readImageDir, resolveImage } from './image/local.js';
import type { GuestImage } from './image/local.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { baseStatus, readImageMemo, removeRunFiles, settingsOrUndefined, writeVmState } from './instance/index.js';
import type { QemuHost } from './qemu-args.js';
import { configureTools } from './tools.js';
import { isAlive } from './qemu-process.js';
import type { ChoiceEnv } from './vm/choice.js';
import { Vm } from './vm/vm.js';
import { writeSeed } from './seed.js';
import type { SshMaterial } from './ssh-keys.js';
import type { QemuCommand } from './qemu-args.js';
import { restartHeld, saveVm } from './suspend/save.js';
import type { SaveContext } from './suspend/save.js';
import type { Run } from './vm/run.js';
import { DockerService } from './docker/service.js';
import { Guest } from './guest/index.js';
import { StepTracker } from './lifecycle/steps.js';
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
import { resolveCaCertificates } from './ca-certificates.js';
import { EmulationService } from './services/emulation.js';
import type { Service, ServiceContext } from './services/service.js';
import { bumpGeneration, discardSaved, savedInfo } from './suspend/saved-state.js';

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
  /** docker.defaultSocket and the Testcontainers line apply live (settings.set while running) */
  private readonly defaultSocket: DefaultSocketService;
  private readonly testcontainers: TestcontainersService;
  private readonly proxy: ProxyService;
  private agentRestarts = 0;
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
    this.agent.on('message', (m) => this.onAgentMessage(m));
    this.agent.on('exit', (why) => this.onAgentExit(why));
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
      agentLadder: (timeoutMs, onStep) => this.runAgentLadder(timeoutMs, onStep),
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
    if (this.notes.accel) st.accelNote = this.notes.accel;
    const accelMemo = rememberedAccelFailures(this.paths.cache, { guest: arch });
    if (accelMemo.length) st.accelMemo = accelMemo;
    if (this.error) st.error = this.error;
    if (this.startedAt) st.startedAt = this.startedAt;
    if (this.readyMs !== undefined) st.readyMs = this.readyMs;
    const saved = this.run ? undefined : savedInfo(this.paths);
    if (saved) st.saved = saved;
    if (this.notes.resume) st.resume = this.notes.resume;
    if (this.notes.adopt) st.adoptNote = this.notes.adopt;
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
    this.degradedReason = undefined;
    this.agentRestarts = 0;
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



  private agentWaiter: { step: (m: FromAgent) => void; exit: (why: string) => void } | null = null;

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
        // Nothing restarts an agent during a start: waiting on would only end in the timeout.
        exit: (why) => {
          const at = STEPS.slice(4, 8).find((s) => this.steps.stateOf(s.name) !== 'done');
          if (at) onStep(at.name);
          done(new BerthFailure('E_AGENT', `the host agent ${why} during the start`, `See ${this.paths.agentLog}.`));
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
    } else if (m.type === 'hostfwd') {
      void this.ports.hostfwd(m.req).then((r) => this.agent.send({ type: 'hostfwd-result', id: m.id, ...r }));
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
    this.agentWaiter?.exit(why);
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
    resolveCaCertificates(next.caCertificates, currentHost().home);
    saveSettings(this.paths.settings, next);
    this.log.append('settings', { keys: Object.keys(patch) });
    if (patch.ports && this.agent.pid) this.agent.send({ type: 'ports-config', ports: next.ports });
    if (patch.docker && patch.docker.defaultSocket !== cur.docker.defaultSocket && (this.state === 'running' || this.state === 'degraded')) {
      await Promise.all([this.defaultSocket.onReady(next), this.testcontainers.onReady(next)]);
    }
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
    this.notes.resume = undefined;
    this.notes.adopt = undefined;
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
