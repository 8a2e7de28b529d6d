// The engine as the modules that do a supervisor's work see it: one object, built once per
// supervisor, that is the ladders' StartHost, a stop's StopHost, a save's SaveContext, a settings
// change's SettingsHost and the agent watch's host; and the services' ServiceContext beside it.
// The supervisor keeps the state it reads from (state, notes, abort) and hands it in as callbacks.
import type { VmState } from '../../shared/status.js';
import type { AgentHost } from '../agent-host.js';
import type { Guest } from '../guest/index.js';
import type { InstancePaths } from '../instance.js';
import { settingsOrUndefined } from '../instance/index.js';
import type { QemuHost } from '../qemu-args.js';
import type { EngineServices } from '../services/index.js';
import type { ServiceContext } from '../services/service.js';
import type { SaveContext } from '../suspend/save.js';
import type { AgentWatchHost } from './agent.js';
import type { CurrentRun } from './current-run.js';
import type { StartHost, StartNotes } from './ladder.js';
import { writeBootSeed } from './seed.js';
import { restartNeeded } from './settings.js';
import type { SettingsHost } from './settings.js';
import type { StepTracker } from './steps.js';
import type { StopHost } from './stop.js';

export type EngineHost = StartHost & StopHost & SaveContext & SettingsHost & AgentWatchHost;

/** What the supervisor has and knows, for the engine host and the service context. */
export interface EngineCore {
  readonly paths: InstancePaths;
  readonly env: NodeJS.ProcessEnv;
  /** Electron's resources folder in the app (bundled QEMU, CLI plugins), undefined elsewhere */
  readonly resourcesPath: string | undefined;
  readonly qemuHost: QemuHost;
  readonly startTimeoutMs: number;
  readonly steps: StepTracker;
  readonly agent: AgentHost;
  readonly guest: Guest;
  readonly vm: CurrentRun;
  journal: ServiceContext['journal'];
  emit: ServiceContext['emit'];
  state(): VmState;
  setState: AgentWatchHost['setState'];
  emitStatus(): void;
  notes(): StartNotes;
  /** a stop asked to cancel the start */
  aborted(): boolean;
  agentLadder: StartHost['agentLadder'];
  /** the supervisor's own (its tests replace them): the guest image, the services' onReady */
  imageFor: StartHost['imageFor'];
  applyGuestState: StartHost['applyGuestState'];
}

/** What a service may see and do: the guest, the journal, the state, its status slice. */
export function serviceContext(c: EngineCore): ServiceContext {
  return {
    paths: c.paths,
    guest: c.guest,
    env: c.env,
    resourcesPath: c.resourcesPath,
    vmState: () => c.state(),
    guestReachable: () => !!c.agent.pid,
    journal: c.journal,
    emit: c.emit,
    statusChanged: () => c.emitStatus(),
  };
}

export function engineHost(c: EngineCore, s: EngineServices): EngineHost {
  const { paths, vm } = c;
  const choice = { host: c.qemuHost, paths, env: c.env, resourcesPath: c.resourcesPath };
  const host: EngineHost = {
    paths,
    startTimeoutMs: c.startTimeoutMs,
    steps: c.steps,
    agent: c.agent,
    guest: c.guest,
    services: s.all,
    mounts: s.mounts,
    ports: s.ports,
    clock: s.clock,
    defaultSocket: s.defaultSocket,
    testcontainers: s.testcontainers,
    emulation: s.emulation,
    notes: () => c.notes(),
    state: () => c.state(),
    setState: (state, extra) => c.setState(state, extra),
    emitStatus: () => c.emitStatus(),
    aborted: () => c.aborted(),
    journal: c.journal,
    // A stop's progress line; a save's carries how much of the memory is written.
    progress: (label: string, fraction?: number) => c.emit('progress', { task: 'stop', label, ...(fraction !== undefined ? { fraction } : {}) }),
    log: (line) => c.emit('log', { source: 'agent', line }),
    choiceEnv: () => choice,
    saveContext: () => host,
    restartNeeded: () => restartNeeded(vm.run(), settingsOrUndefined(paths)),
    run: () => vm.run(),
    adopted: (run) => vm.adopted(run),
    launch: (cmd, r, extraArgs) => vm.launch(cmd, r, extraArgs),
    kill: () => vm.kill(),
    letGo: (run) => vm.letGo(run),
    dropRun: () => vm.drop(),
    watchVm: (v) => vm.watch(v),
    qemuUp: () => vm.up(),
    qemuOutput: () => vm.output(),
    cleanupFiles: () => vm.cleanupFiles(),
    shares: () => s.mounts.mounted(),
    guestReachable: () => !!c.agent.pid,
    stopAgent: async () => {
      await c.agent.stop();
      s.ports.clear();
    },
    imageFor: (settings) => c.imageFor(settings),
    writeSeed: (settings, bootId, ssh, mounts) => writeBootSeed(paths, { settings, bootId, ssh, mounts, proxy: s.proxy.seed(settings) }),
    agentLadder: (timeoutMs, onStep) => c.agentLadder(timeoutMs, onStep),
    applyGuestState: (settings) => c.applyGuestState(settings),
    /** the guest kept running in its memory, but its clock stood still and the shares were unmounted */
    afterResume: async () => {
      await Promise.all(s.all.map((svc) => svc.afterResume?.()));
    },
  };
  return host;
}
