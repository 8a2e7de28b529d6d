// `berth ports` and the ports line of `berth status`: each forward with its protocol, on localhost
// (it answers on 127.0.0.1 and ::1).
import { describe, expect, it } from 'vitest';
import { formatPorts, formatStatus } from '../../../electron/cli/format.js';
import type { PortForward } from '../../../electron/shared/status.js';
import { makeStatus } from '../../fixtures/status.js';

const PORTS: PortForward[] = [
  { protocol: 'tcp', guestPort: 8080, hostPort: 8080, guestAddress: '0.0.0.0', source: 'guest', state: 'forwarding' },
  { protocol: 'udp', guestPort: 5353, hostPort: 5353, guestAddress: '::', source: 'guest', state: 'forwarding' },
  { protocol: 'udp', guestPort: 53, hostPort: 1053, guestAddress: '0.0.0.0', source: 'guest', state: 'failed', reason: 'port 1053 is already used by another program on this host (binding 127.0.0.1:1053/udp failed: address in use)' },
];

describe('berth ports', () => {
  it('shows the protocol of each forward', () => {
    expect(formatPorts(PORTS).split('\n')).toEqual([
      'HOST                    GUEST                 STATE',
      'localhost:8080/tcp    → 0.0.0.0:8080          forwarding',
      'localhost:5353/udp    → [::]:5353             forwarding',
      'localhost:1053/udp    → 0.0.0.0:53            failed (port 1053 is already used by another program on this host (binding 127.0.0.1:1053/udp failed: address in use))',
    ]);
  });
  it('says when there is nothing', () => expect(formatPorts([])).toBe('no forwarded ports'));
  it('berth status marks UDP ports, and failed ones with !', () => {
    const s = makeStatus('running');
    s.ports = PORTS;
    expect(formatStatus(s).split('\n').find((l) => l.startsWith('ports:'))).toBe('ports:      8080, 5353/udp, 1053/udp!');
  });
});
