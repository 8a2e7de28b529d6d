// Supervising the host agent: its part of a start (SSH → boot marker → dockerd → socket), its
// messages while the VM runs (ports, SSH up/down, log lines), and bringing it back when it dies
// behind a running VM. A lost SSH or a dead agent makes the VM degraded, not failed: the VM is fine.
import type { JournalEvents } from '../../shared/journal.js';
import { STEPS } from '../../shared/status.js';
import type { GuestLinkStatus, StepName, VmState } from '../../shared/status.js';
import type { AgentHost } from '../agent-host.js';
import type { AgentInit, FromAgent } from '../agent/protocol.js';
import { BerthFailure } from '../errors.js';
import type { InstancePaths } from '../instance.js';
import { isAlive } from '../qemu-process.js';
import type { ClockService } from '../services/clock.js';
import type { PortsService } from '../services/ports.js';
import type { ServiceContext } from '../services/service.js';
import type { Run } from '../vm/run.js';
import { Aborted } from './ladder.js';
import type { StepTracker } from './steps.js';

/** What the agent's supervision needs of the engine. */
export interface AgentWatchHost {
  readonly paths: InstancePaths;
  readonly agent: AgentHost;
  readonly steps: StepTracker;
  readonly ports: PortsService;
  readonly clock: ClockService;
  run(): Run | null;
  state(): VmState;
  setState(state: VmState, extra?: Omit<JournalEvents['state'], 'state'>): void;
  emitStatus(): void;
  journal: ServiceContext['journal'];
  log(line: string): void;
  qemuUp(): boolean;
  qemuOutput(): string;
  aborted(): boolean;
}

export class AgentWatch {
  /** why the VM is degraded, for the status */
  degradedReason: string | undefined;
  /** the transport the agent chose (absent until it said) */
  guestLink: GuestLinkStatus | undefined;
  /** When the agent last reported SSH lost: a QEMU exit right after it was the cause, not a symptom. */
  sshLostAt = 0;
  private restarts = 0;
  private waiter: { step: (m: FromAgent) => void; exit: (why: string) => void } | null = null;

  constructor(private readonly h: AgentWatchHost) {
    h.agent.on('message', (m) => this.onMessage(m));
    h.agent.on('exit', (why) => this.onExit(why));
  }

  /** A new start: no degraded reason, no restarts counted. */
  reset(): void {
    this.degradedReason = undefined;
    this.guestLink = undefined;
    this.restarts = 0;
  }

  /** The agent's steps of a start, until it says ready; `onStep` hears the step it is on. */
  ladder(timeoutMs: number, onStep: (s: StepName) => void): Promise<void> {
    const { h } = this;
    const run = h.run()!;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BerthFailure('E_BOOT_TIMEOUT', `the guest did not get ready within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const exitWatch = setInterval(() => {
        if (!h.qemuUp()) done(new BerthFailure('E_QEMU_EXITED', `QEMU exited during boot: ${h.qemuOutput() || 'see qemu.log'}`));
        else if (h.aborted()) done(new Aborted('start cancelled by stop'));
      }, 100);
      const done = (e?: Error) => {
        clearTimeout(timer);
        clearInterval(exitWatch);
        this.waiter = null;
        if (e) reject(e);
        else resolve();
      };
      this.waiter = {
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
          const at = STEPS.slice(4, 8).find((s) => h.steps.stateOf(s.name) !== 'done');
          if (at) onStep(at.name);
          done(new BerthFailure('E_AGENT', `the host agent ${why} during the start`, `See ${h.paths.agentLog}.`));
        },
      };
      h.agent.start(this.init(run, timeoutMs));
    });
  }

  /** What the host agent needs to reach this VM's guest; `quiet` for a restart behind a running VM. */
  private init(run: Run, deadlineMs: number, quiet = false): AgentInit {
    return { type: 'init', sshPort: run.sshPort, clientKey: run.ssh.clientKey, hostKeyPub: run.ssh.hostPub, bootId: run.bootId, dockerSocket: this.h.paths.docker, deadlineMs, ...(quiet ? { quiet: true } : {}), ports: run.settings.ports, transport: run.settings.guestTransport ?? 'channel', channelSocket: this.h.paths.guestSock };
  }

  private onMessage(m: FromAgent): void {
    const { h } = this;
    const state = h.state();
    if (m.type === 'step') {
      if (state === 'starting') h.steps.update(m.name, m.state, m.detail);
    } else if (m.type === 'ports') {
      h.ports.update(m.ports);
      h.emitStatus();
    } else if (m.type === 'hostfwd') {
      void h.ports.hostfwd(m.req).then((r) => h.agent.send({ type: 'hostfwd-result', id: m.id, ...r }));
    } else if (m.type === 'log') {
      h.log(m.line);
    } else if (m.type === 'link') {
      this.guestLink = { transport: m.transport, ...(m.note ? { note: m.note } : {}) };
      h.journal('link', this.guestLink);
      h.emitStatus();
    } else if (m.type === 'ssh') {
      h.journal('ssh', { up: m.up, ...(m.reason ? { reason: m.reason } : {}) });
      // QEMU dying also drops SSH, sometimes a moment before its monitor closes: that is a QEMU
      // exit (reported by the supervisor's onQemuGone), not a degraded-but-running VM.
      const run = h.run();
      if (!m.up && state === 'running' && run && isAlive(run.vm.pid)) {
        this.sshLostAt = Date.now();
        this.degradedReason = `${this.guestLink?.transport === 'channel' ? 'the guest channel' : 'SSH connection to the guest'} lost (${m.reason ?? 'closed'}); reconnecting`;
        h.setState('degraded');
      } else if (m.up && state === 'degraded') {
        this.degradedReason = undefined;
        h.setState('running');
        void h.clock.sync('ssh reconnected');
      }
    } else if (m.type === 'ready' && state === 'degraded') {
      this.degradedReason = undefined;
      h.setState('running', { agent: 'restarted' });
    }
    this.waiter?.step(m);
  }

  private onExit(why: string): void {
    const { h } = this;
    h.journal('agent-exit', { why });
    this.waiter?.exit(why);
    if (h.state() !== 'running' && h.state() !== 'degraded') return;
    // The VM is fine; bring the agent back (the Docker socket is down meanwhile: say so).
    this.degradedReason = `host agent ${why}; restarting it`;
    h.ports.clear();
    h.setState('degraded');
    this.restarts++;
    const delay = this.restarts <= 1 ? 20 : Math.min(5000, 100 * 2 ** Math.min(this.restarts, 6));
    setTimeout(() => {
      const run = h.run();
      if (!run || (h.state() !== 'degraded' && h.state() !== 'running')) return;
      h.agent.start(this.init(run, 120_000, true));
    }, delay);
  }
}
