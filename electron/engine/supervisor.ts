// The supervisor: owns one instance. Keeps the state machine and the order things happen in (a start
// climbs the ways up, a stop waits for a start it cancels), and answers the contract. The work is
// done by the modules it hands its engine host to (lifecycle/, suspend/, services/). No Electron here.
import { EventEmitter } from 'node:events';
import { validateRequest } from '../shared/contract.js';
import type { EventName, Events, Envelope, Method, Params, Result } from '../shared/contract.js';
import type { JournalEvents } from '../shared/journal.js';
import { failedStepHint, SAVED_DISCARDED_NOTE, STOP_PROGRESS } from '../shared/progress.js';
import type { Settings } from '../shared/settings.js';
import type { Status, StopInfo, VmError, VmState } from '../shared/status.js';
import { hostOfProcess } from './accel.js';
import { AgentHost, nodeForker } from './agent-host.js';
import type { AgentForker } from './agent-host.js';
import type { Backend } from './backend.js';
import { loadSettings } from './config.js';
import { BerthFailure, toBerthError } from './errors.js';
import { EventLog, tailFile } from './event-log.js';
import type { GuestImage } from './image/local.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { settingsOrUndefined } from './instance/index.js';
import type { QemuHost } from './qemu-args.js';
import { configureTools } from './tools.js';
import { restartHeld } from './suspend/save.js';
import { DockerService } from './docker/service.js';
import { Guest } from './guest/index.js';
import { StepTracker } from './lifecycle/steps.js';
import { AgentWatch } from './lifecycle/agent.js';
import { powerDown, teardown } from './lifecycle/stop.js';
import { liveStatus } from './lifecycle/status.js';
import { changeSettings, settingsForStart } from './lifecycle/settings.js';
import { Aborted, climb } from './lifecycle/ladder.js';
import type { Start, StartNotes } from './lifecycle/ladder.js';
import { LADDERS, WAYS } from './lifecycle/ladders.js';
import { CurrentRun } from './lifecycle/current-run.js';
import { engineHost, serviceContext } from './lifecycle/engine-host.js';
import type { EngineCore, EngineHost } from './lifecycle/engine-host.js';
import { guestImageFor } from './lifecycle/image.js';
import { createServices } from './services/index.js';
import type { EngineServices } from './services/index.js';
import { discardSaved } from './suspend/saved-state.js';

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

  private state: VmState = 'stopped';
  private readonly steps = new StepTracker({ journal: (k, d) => void this.log.append(k, d), progress: (p) => void this.bus.emit('progress', p), changed: () => this.emitStatus() });
  private error: VmError | undefined;
  private readyMs: number | undefined;
  private startedAt: string | undefined;
  /** the VM this supervisor holds now (launched, adopted), and its run files */
  private readonly vm: CurrentRun;
  private agent: AgentHost;
  private starting: Promise<Status> | null = null;
  private tearingDown: Promise<void> | null = null;
  private stopping: Promise<Status> | null = null;
  private abortStart = false;
  /** the services, in the order their hooks run, and the few a request reaches (services/index.ts) */
  private readonly services: EngineServices;
  /** what the supervisor has, for the modules that do its work */
  private readonly core: EngineCore;
  /** the engine as those modules see it: the ladders', a stop's, a save's, a settings change's host */
  private readonly engine: EngineHost;
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
    const env = opts.env ?? process.env;
    const qemuHost: QemuHost = opts.host ?? hostOfProcess();
    const { resourcesPath } = opts;
    configureTools({ env, ...(resourcesPath ? { resourcesPath } : {}) });
    ensureInstanceDir(this.paths);
    this.log = new EventLog(this.paths.events);
    this.agent = new AgentHost(opts.forker ?? nodeForker, this.paths.agentLog);
    const journal: EngineCore['journal'] = (kind, data) => void this.log.append(kind, data);
    const emit: EngineCore['emit'] = (event, payload) => void this.bus.emit(event, payload);
    this.vm = new CurrentRun({ paths: this.paths, journal, onGone: (why) => this.onQemuGone(why), onQmpEvent: (event) => this.onQmpEvent(event) });
    this.core = {
      paths: this.paths,
      env,
      resourcesPath,
      qemuHost,
      startTimeoutMs: opts.startTimeoutMs ?? 5 * 60_000,
      steps: this.steps,
      agent: this.agent,
      guest: new Guest(this.agent),
      vm: this.vm,
      journal,
      emit,
      state: () => this.state,
      setState: (state, extra) => this.setState(state, extra),
      emitStatus: () => this.emitStatus(),
      notes: () => this.notes,
      aborted: () => this.abortStart,
      agentLadder: (timeoutMs, onStep) => this.agentWatch.ladder(timeoutMs, onStep),
      imageFor: (settings) => this.imageFor(settings),
      applyGuestState: (settings) => this.applyGuestState(settings),
    };
    const log = (line: string) => void this.bus.emit('log', { source: 'supervisor', line });
    this.services = createServices(serviceContext(this.core), { settings: this.safeSettings(), platform: qemuHost.os, monitor: () => this.vm.run()?.vm.qmp ?? null, log });
    this.engine = engineHost(this.core, this.services);
    this.agentWatch = new AgentWatch(this.engine);
    this.docker = new DockerService({ socketPath: this.paths.docker, diskFile: this.paths.disk, status: () => this.status(), emit: (e, p) => this.bus.emit(e, p), onStatus: (l) => this.on('status', l) });
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
        if (this.state === 'running' || this.state === 'degraded') await this.services.clock.sync('host woke');
        return this.status();
      case 'emulation.set':
        return this.services.emulation.set((params as Params<'emulation.set'>).enabled);
      case 'emulation.status':
        return this.services.emulation.get();
      case 'ports.list':
        return this.status().ports;
      case 'mounts.list':
        return this.status().mounts;
      case 'settings.get':
        return loadSettings(this.paths.settings);
      case 'settings.set':
        return changeSettings(this.engine, (params as Params<'settings.set'>).patch);
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
      settings: this.vm.run()?.settings ?? this.safeSettings(),
      state: this.state,
      steps: this.steps.snapshot(),
      run: this.vm.run(),
      agentPid: this.agent.pid,
      restartNeeded: this.engine.restartNeeded(),
      services: this.services.all,
      notes: this.notes,
      error: this.error,
      startedAt: this.startedAt,
      readyMs: this.readyMs,
      lastStop: this.lastStop,
      degradedReason: this.agentWatch.degradedReason,
      guestLink: this.agentWatch.guestLink,
    });
  }

  private safeSettings(): Settings | undefined {
    return settingsOrUndefined(this.paths);
  }

  private setState(state: VmState, extra: Omit<JournalEvents['state'], 'state'> = {}): void {
    this.state = state;
    this.log.append('state', { state, ...extra });
    this.emitStatus();
  }

  private emitStatus(): void {
    this.bus.emit('status', this.status());
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
      const { settings, mounts } = settingsForStart(this.paths, params);
      checkSocketPaths(this.paths);
      for (const svc of this.services.all) svc.onStart?.(settings);
      this.setState('starting', { arch: settings.arch });
      start = { host: this.engine, settings, mounts, current: 'image', extra: {}, woken: false };
      let up = false;
      for (const way of WAYS) if ((up = await climb(this.ladders[way], start))) break;
      if (!up) throw new BerthFailure('E_INTERNAL', 'no way up');
      this.readyMs = this.steps.elapsedMs();
      this.startedAt = new Date().toISOString();
      this.setState('running', { readyMs: this.readyMs, accel: this.vm.run()?.accel, ...start.extra });
      void this.restartHeldContainers();
      return this.status();
    } catch (e) {
      const current = start?.current ?? 'image';
      if (e instanceof Aborted) {
        // A stop arrived mid-start: undo what this start brought up and end in a defined state.
        this.log.append('start-cancelled', { step: current });
        await teardown(this.engine);
        this.steps.reset();
        this.setState('stopped', { cancelled: true });
        return this.status();
      }
      const err = toBerthError(e, 'E_INTERNAL');
      this.error = {
        ...err,
        hint: err.hint ?? failedStepHint(current, this.paths.serialLog),
        step: current,
        serialLog: this.paths.serialLog,
        at: new Date().toISOString(),
      };
      const was = this.steps.stateOf(current);
      if (was !== undefined && was !== 'done') this.steps.update(current, 'failed', err.message);
      await teardown(this.engine);
      this.setState('error', { error: this.error });
      return this.status();
    }
  }

  /** The guest image for this start (lifecycle/image.ts); the adopt tests replace it. */
  private imageFor(settings: Settings): Promise<GuestImage> {
    return guestImageFor(this.core, settings);
  }

  /** The readiness step "apply": every service brings its part of the guest and the host up. */
  private async applyGuestState(settings: Settings): Promise<void> {
    await Promise.all(this.services.all.map((svc) => svc.onReady?.(settings)));
  }

  /** Start again the containers the suspend stopped. */
  private async restartHeldContainers(): Promise<void> {
    const list = this.notes.restartAfterResume;
    this.notes.restartAfterResume = [];
    await restartHeld(this.engine, list);
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
    this.tearingDown = teardown(this.engine).finally(() => {
      this.tearingDown = null;
      this.emitStatus();
    });
  }

  /** A QMP event from the VM (CurrentRun journals it). */
  private onQmpEvent(event: string): void {
    // The guest clock stood still while the VM was paused (host sleep, QMP stop): set it at once.
    if (event === 'RESUME' && (this.state === 'running' || this.state === 'degraded')) void this.services.clock.sync('resume');
  }

  // ---- stop ----

  async stop(params: Params<'vm.stop'> = {}): Promise<Status> {
    if (this.stopping) return this.stopping;
    if (this.starting) {
      // Stop during start: cancel the ladder at its next check, then shut down what is up.
      this.abortStart = true;
      await this.starting.catch(() => undefined);
    }
    if (!this.vm.run() && this.state !== 'error' && this.state !== 'starting') {
      if (params.shutdown && discardSaved(this.paths)) {
        this.lastStop = { how: 'shutdown', at: new Date().toISOString(), ms: 0, note: SAVED_DISCARDED_NOTE };
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
    const mode = shutdown || force ? 'shutdown' : (this.safeSettings() ?? this.vm.run()?.settings)?.stopMode ?? 'shutdown';
    this.setState('stopping', { force, mode });
    this.bus.emit('progress', { task: 'stop', label: STOP_PROGRESS.begin });
    if (shutdown && discardSaved(this.paths)) this.log.append('saved-discarded', { why: 'stop --shutdown' });
    const { how, note, bytes } = await powerDown(this.engine, { mode, force, was });
    this.services.mounts.markPending();
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

  get currentState(): VmState {
    return this.state;
  }
}
