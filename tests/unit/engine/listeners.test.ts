import { describe, expect, it } from 'vitest';
import { hostBind, isLoopbackPeer, parseProcNetTcp, parseWatchLine, wantedForwards } from '../../../electron/engine/agent/listeners.js';

// Recorded from a Debian 12 guest: sshd on 0.0.0.0:22 and :::22, docker-proxy on 0.0.0.0:8080 and
// :::8080, a process on 127.0.0.1:9000, one established connection (state 01).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 15083 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22311 1 0000000000000000 100 0 0 10 0
   2: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22999 1 0000000000000000 100 0 0 10 0
   3: 0F02000A:0016 0202000A:A3F0 01 00000000:00000000 02:00094A4C 00000000     0        0 15602 4 0000000000000000 20 4 29 10 -1`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 15085 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22318 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:1770 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22400 1 0000000000000000 100 0 0 10 0`;

describe('guest listener table', () => {
  it('parses IPv4 and IPv6 listeners, skipping headers and non-listening sockets', () => {
    expect(parseProcNetTcp(TCP)).toEqual([
      { port: 22, address: '0.0.0.0' },
      { port: 8080, address: '0.0.0.0' },
      { port: 9000, address: '127.0.0.1' },
    ]);
    expect(parseProcNetTcp(TCP6)).toEqual([
      { port: 22, address: '::' },
      { port: 8080, address: '::' },
      { port: 6000, address: '::1' },
    ]);
  });
  it('ignores garbage', () => expect(parseProcNetTcp('nonsense\n0: zz:yy 0 0A\n')).toEqual([]));
  it('reads the watcher lines', () => {
    expect(parseWatchLine('L 00000000:1F90 0100007F:2328 ')).toEqual([
      { port: 8080, address: '0.0.0.0' },
      { port: 9000, address: '127.0.0.1' },
    ]);
    expect(parseWatchLine('L ')).toEqual([]);
    expect(parseWatchLine('something else')).toBeNull();
  });
});

describe('which ports are forwarded', () => {
  const all = [...parseProcNetTcp(TCP), ...parseProcNetTcp(TCP6)];
  it('one forward per port, never sshd, loopback-reachable binds only', () => {
    expect(wantedForwards(all, { ignore: [], map: {} })).toEqual([
      { guestPort: 6000, hostPort: 6000, guestAddress: '::1' },
      { guestPort: 8080, hostPort: 8080, guestAddress: '0.0.0.0' },
      { guestPort: 9000, hostPort: 9000, guestAddress: '127.0.0.1' },
    ]);
  });
  it('honours ignore and map rules from berth.yaml', () => {
    expect(wantedForwards(all, { ignore: [9000, 6000], map: { '8080': 18080 } })).toEqual([{ guestPort: 8080, hostPort: 18080, guestAddress: '0.0.0.0' }]);
  });
  it('does not forward a listener bound to a container-network address', () => {
    expect(wantedForwards([{ port: 5000, address: '172.17.0.1' }], { ignore: [], map: {} })).toEqual([]);
  });
});

describe('host side binds loopback only', () => {
  it('Linux and macOS ≥ 1024: 127.0.0.1', () => {
    expect(hostBind(8080, 'linux', false)).toEqual({ address: '127.0.0.1', loopbackFilter: false });
    expect(hostBind(8080, 'darwin', false)).toEqual({ address: '127.0.0.1', loopbackFilter: false });
    expect(hostBind(80, 'linux', true)).toEqual({ address: '127.0.0.1', loopbackFilter: false });
  });
  it('macOS < 1024 as a user: 0.0.0.0 with every non-loopback peer refused', () => {
    expect(hostBind(80, 'darwin', false)).toEqual({ address: '0.0.0.0', loopbackFilter: true });
    expect(isLoopbackPeer('127.0.0.1')).toBe(true);
    expect(isLoopbackPeer('::1')).toBe(true);
    expect(isLoopbackPeer('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackPeer('192.168.1.20')).toBe(false);
    expect(isLoopbackPeer('::ffff:10.0.0.5')).toBe(false);
    expect(isLoopbackPeer(undefined)).toBe(false);
  });
});
