// The context a service sees, for unit tests of one service: a running VM, a reachable guest, and
// no one listening to its events unless the test says otherwise.
import { Guest } from '../../../../electron/engine/guest/index.js';
import type { GuestTransport } from '../../../../electron/engine/guest/index.js';
import type { InstancePaths } from '../../../../electron/engine/instance.js';
import type { ServiceContext } from '../../../../electron/engine/services/service.js';

export function serviceContext(paths: InstancePaths, over: Partial<Omit<ServiceContext, 'guest'>> & { exec?: GuestTransport['exec'] } = {}): ServiceContext {
  const { exec = () => Promise.reject(new Error('no guest')), ...rest } = over;
  return {
    paths,
    guest: new Guest({ exec }),
    env: {},
    resourcesPath: undefined,
    vmState: () => 'running',
    guestReachable: () => true,
    journal: () => undefined,
    emit: () => undefined,
    statusChanged: () => undefined,
    ...rest,
  };
}
