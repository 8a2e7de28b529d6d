// The services a supervisor runs, in the order their hooks run: one list. A new service is its file
// beside these and one `add(...)` line below (and a field in EngineServices only if a request or a
// settings change must reach it).
import type { Settings } from '../../shared/settings.js';
import type { QemuHost } from '../qemu-args.js';
import { ClockService } from './clock.js';
import { DefaultSocketService } from './default-socket.js';
import { DnsService } from './dns.js';
import { DockerContextService } from './docker-context.js';
import { EmulationService } from './emulation.js';
import { MountsService } from './mounts.js';
import { PortsService } from './ports.js';
import { ProxyService } from './proxy.js';
import type { Service, ServiceContext } from './service.js';
import { SocketInContainersService } from './socket-in-containers.js';
import { TestcontainersService } from './testcontainers.js';
import { UdpHostfwdService } from './udp-hostfwd.js';
import type { HmpMonitor } from './udp-hostfwd.js';

export interface EngineServices {
  /** every service, in the order their hooks run */
  readonly all: readonly Service[];
  readonly clock: ClockService;
  readonly emulation: EmulationService;
  readonly mounts: MountsService;
  /** docker.defaultSocket and the Testcontainers line apply live (settings.set while running) */
  readonly defaultSocket: DefaultSocketService;
  readonly testcontainers: TestcontainersService;
  readonly ports: PortsService;
  readonly proxy: ProxyService;
}

export interface ServiceOptions {
  /** the settings on disk when the supervisor starts (emulation's status before any start) */
  settings: Settings | undefined;
  platform: QemuHost['os'];
  /** the running VM's monitor, for the UDP forwards QEMU itself carries */
  monitor: () => HmpMonitor | null;
  /** a supervisor log line */
  log: (line: string) => void;
}

export function createServices(ctx: ServiceContext, o: ServiceOptions): EngineServices {
  const all: Service[] = [];
  const add = <S extends Service>(service: S): S => {
    all.push(service);
    return service;
  };
  const clock = add(new ClockService(ctx));
  const emulation = add(new EmulationService(ctx, o.settings));
  const mounts = add(new MountsService(ctx));
  add(new DockerContextService(ctx));
  const defaultSocket = add(new DefaultSocketService(ctx, { platform: o.platform }));
  const testcontainers = add(new TestcontainersService(ctx));
  add(new SocketInContainersService(ctx));
  add(new DnsService(ctx));
  const udpRules = add(new UdpHostfwdService(o.monitor, o.log));
  const ports = add(new PortsService(ctx, udpRules));
  const proxy = add(new ProxyService(ctx));
  return { all, clock, emulation, mounts, defaultSocket, testcontainers, ports, proxy };
}
