// Published ports: the host agent watches the guest's listeners and forwards each to the host's
// loopback; this service holds what it reports, journals it and pushes it to clients. UDP forwards
// also need QEMU's own forwarding rules, which the agent asks for through here (udp-hostfwd.ts).
import type { HostfwdRequest } from '../agent/protocol.js';
import type { PortForward, Status } from '../../shared/status.js';
import type { Service, ServiceContext } from './service.js';
import type { UdpHostfwdService } from './udp-hostfwd.js';

export class PortsService implements Service {
  readonly name = 'ports';
  private list: PortForward[] = [];

  constructor(
    private readonly ctx: ServiceContext,
    private readonly udpRules?: UdpHostfwdService,
  ) {}

  /** The forwards as the agent has them now. */
  update(list: PortForward[]): void {
    this.list = list;
    this.ctx.journal('ports', { ports: list.map((p) => `${p.hostPort}:${p.guestPort}${p.protocol === 'udp' ? '/udp' : ''}:${p.state}`) });
    this.ctx.emit('ports', list);
  }

  /** The agent asks for (or gives back) one of QEMU's UDP forwarding rules. */
  hostfwd(req: HostfwdRequest): Promise<{ hostPort?: number; error?: string }> {
    return this.udpRules ? this.udpRules.handle(req) : Promise.resolve({ error: 'UDP forwarding is not available' });
  }

  /** The agent is gone or stopped: no forward works, and QEMU's UDP rules for its relays go. */
  clear(): void {
    this.list = [];
    void this.udpRules?.removeAll();
    this.ctx.emit('ports', []);
  }

  status(st: Status): void {
    st.ports = this.list;
  }
}
