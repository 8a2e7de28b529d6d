import { describe, expect, it } from 'vitest';
import { hostBind, isLoopbackPeer, parseProcNetTcp, parseProcNetUdp, parseWatchLine, wantedForwards, wantedUdpForwards } from '../../../electron/engine/agent/listeners.js';

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
  it('reads the watcher lines: TCP listeners bare, UDP servers prefixed u/', () => {
    expect(parseWatchLine('L 00000000:1F90 0100007F:2328 ')).toEqual({
      tcp: [
        { port: 8080, address: '0.0.0.0' },
        { port: 9000, address: '127.0.0.1' },
      ],
      udp: [],
    });
    expect(parseWatchLine('L 00000000:1F90 u/00000000:14E9 u/00000000000000000000000000000000:14E9 u/0100007F:1FBD ')).toEqual({
      tcp: [{ port: 8080, address: '0.0.0.0' }],
      udp: [
        { port: 5353, address: '0.0.0.0' },
        { port: 5353, address: '::' },
        { port: 8125, address: '127.0.0.1' },
      ],
    });
    expect(parseWatchLine('L ')).toEqual({ tcp: [], udp: [] });
    expect(parseWatchLine('something else')).toBeNull();
  });
});

// /proc/net/udp from a guest: udp-echo on 0.0.0.0:5353 (state 07, the row recorded from a real
// VM), a resolver's connect()ed client socket to 10.0.2.3:53 (state 01), an unconnected socket on
// 127.0.0.1:8125, and one bound to port 0 (not bound to a port yet).
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  531: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3284 2 000000004671e881 0
  602: 0F02000A:B1C4 0302000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 3301 2 0000000000000000 0
  700: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3302 2 0000000000000000 0
  701: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3303 2 0000000000000000 0`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  531: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3290 2 0000000000000000 0
  640: 00000000000000000000000001000000:1770 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3291 2 0000000000000000 0
  641: 00000000000000000000000001000000:C350 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000     0        0 3292 2 0000000000000000 0`;

describe('guest UDP table', () => {
  it('keeps unconnected sockets bound to a port; skips connected client sockets and port 0', () => {
    expect(parseProcNetUdp(UDP)).toEqual([
      { port: 5353, address: '0.0.0.0' },
      { port: 8125, address: '127.0.0.1' },
    ]);
    expect(parseProcNetUdp(UDP6)).toEqual([
      { port: 5353, address: '::' },
      { port: 6000, address: '::1' },
    ]);
  });
  it('does not take TCP listeners (state 0A) for UDP servers, nor garbage', () => {
    expect(parseProcNetUdp(TCP)).toEqual([]);
    expect(parseProcNetUdp('nonsense\n0: zz:yy 00000000:0000 07\n')).toEqual([]);
  });

  const udp = [...parseProcNetUdp(UDP), ...parseProcNetUdp(UDP6)];
  it('one forward per port under the same ignore and map rules as TCP; a loopback-only server is shown with why it cannot be carried', () => {
    expect(wantedUdpForwards(udp, { ignore: [], map: {} })).toEqual([
      { guestPort: 5353, hostPort: 5353, guestAddress: '0.0.0.0' },
      { guestPort: 6000, hostPort: 6000, guestAddress: '::1', unreachable: 'the guest listener is bound to ::1 only; UDP reaches listeners on all addresses (0.0.0.0 or ::)' },
      { guestPort: 8125, hostPort: 8125, guestAddress: '127.0.0.1', unreachable: 'the guest listener is bound to 127.0.0.1 only; UDP reaches listeners on all addresses (0.0.0.0 or ::)' },
    ]);
    expect(wantedUdpForwards(udp, { ignore: [6000, 8125], map: { '5353': 15353 } })).toEqual([{ guestPort: 5353, hostPort: 15353, guestAddress: '0.0.0.0' }]);
  });
  it('a wildcard bind beside a loopback one on the same port is the one forwarded', () => {
    expect(wantedUdpForwards([{ port: 53, address: '127.0.0.1' }, { port: 53, address: '::' }], { ignore: [], map: {} })).toEqual([{ guestPort: 53, hostPort: 53, guestAddress: '::' }]);
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
