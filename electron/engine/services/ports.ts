// Published ports: the host agent watches the guest's listeners and forwards each to the host's
// loopback; this service holds what it reports, journals it and pushes it to clients.
import type { PortForward, Status } from '../../shared/status.js';
import type { Service, ServiceContext } from './service.js';

export class PortsService implements Service {
  readonly name = 'ports';
  private list: PortForward[] = [];

  constructor(private readonly ctx: ServiceContext) {}

  /** The forwards as the agent has them now. */
  update(list: PortForward[]): void {
    this.list = list;
    this.ctx.journal('ports', { ports: list.map((p) => `${p.hostPort}:${p.guestPort}:${p.state}`) });
    this.ctx.emit('ports', list);
  }

  /** The agent is gone or stopped: no forward works. */
  clear(): void {
    this.list = [];
    this.ctx.emit('ports', []);
  }

  status(st: Status): void {
    st.ports = this.list;
  }
}
