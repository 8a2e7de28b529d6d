// The host agent: a separate Node process (child_process.fork, or utilityProcess.fork in Electron)
// that owns the connection to the guest (the virtio-serial guest channel, or SSH: see
// transport.ts), walks the guest half of the readiness ladder, serves the Docker socket and runs
// commands for the supervisor. If it dies the supervisor restarts it; the VM keeps running.
import type net from 'node:net';
import type { StepName } from '../../shared/status.js';
import { GUEST_COMMANDS, parseBootId } from '../guest/commands.js';
import { dockerPing, serveDockerSocket } from './docker-socket.js';
import type { AgentInit, FromAgent, HostfwdRequest, ToAgent } from './protocol.js';
import { PortForwarder } from './ports.js';
import type { Hostfwd } from './udp.js';
import type { GuestLink } from './link.js';
import { connectGuest } from './transport.js';

type Port = { send(m: FromAgent): void; onMessage(fn: (m: ToAgent) => void): void };

function processPort(): Port {
  // Electron's utilityProcess exposes process.parentPort; child_process.fork exposes process.send.
  const pp = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(e: 'message', fn: (ev: { data: unknown }) => void): void } }).parentPort;
  if (pp) return { send: (m) => pp.postMessage(m), onMessage: (fn) => pp.on('message', (ev) => fn(ev.data as ToAgent)) };
  return {
    send: (m) => process.send?.(m),
    onMessage: (fn) => process.on('message', (m) => fn(m as ToAgent)),
  };
}

const port = processPort();
const log = (line: string) => port.send({ type: 'log', line });
let link: GuestLink | null = null;
let dockerServer: net.Server | null = null;
let ports: PortForwarder | null = null;

// QEMU's forwarding rules for UDP, asked of the supervisor (it holds the QEMU monitor).
const HOSTFWD_TIMEOUT_MS = 10_000;
let hostfwdId = 1;
const hostfwdWaiting = new Map<number, { resolve: (hostPort: number | undefined) => void; reject: (e: Error) => void }>();
function askHostfwd(req: HostfwdRequest): Promise<number | undefined> {
  const id = hostfwdId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      hostfwdWaiting.delete(id);
      reject(new Error(`the supervisor did not answer within ${HOSTFWD_TIMEOUT_MS / 1000} s`));
    }, HOSTFWD_TIMEOUT_MS);
    hostfwdWaiting.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    port.send({ type: 'hostfwd', id, req });
  });
}
const hostfwd: Hostfwd = {
  add: async (guestPort) => {
    const hostPort = await askHostfwd({ op: 'add', protocol: 'udp', guestPort });
    if (hostPort === undefined) throw new Error('the supervisor gave no port');
    return hostPort;
  },
  remove: async (hostPort) => {
    await askHostfwd({ op: 'remove', protocol: 'udp', hostPort });
  },
};
const newForwarder = (l: GuestLink, init: AgentInit) =>
  new PortForwarder(l, init.ports, (list) => port.send({ type: 'ports', ports: list }), log, l.openUdp ? { udpChannel: (h, p) => l.openUdp!(h, p) } : { hostfwd });

async function retryUntil(deadline: number, what: string, fn: () => Promise<boolean>): Promise<void> {
  let last = '';
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what} timed out${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function ladder(init: AgentInit): Promise<void> {
  const deadline = Date.now() + init.deadlineMs;
  const step = (name: StepName, state: 'running' | 'done' | 'failed', detail?: string) => port.send({ type: 'step', name, state, ...(detail ? { detail } : {}) });
  let current: StepName = 'ssh';
  try {
    step('ssh', 'running');
    const chosen = await connectGuest(init, deadline, log);
    link = chosen.link;
    port.send({ type: 'link', transport: chosen.link.kind, ...(chosen.note ? { note: chosen.note } : {}) });
    link.on('down', (reason) => {
      port.send({ type: 'ssh', up: false, reason });
      void reconnect(init);
    });
    step('ssh', 'done', chosen.link.kind === 'channel' ? 'over the guest channel' : `over SSH${chosen.note ? ` (${chosen.note})` : ''}`);

    if (init.quiet) {
      // A restarted agent on a VM that was already up (same boot, Docker answered before): get the
      // socket back at once; a dead dockerd shows up on the first request anyway.
      dockerServer = await serveDockerSocket(init.dockerSocket, link, log);
      ports = newForwarder(link, init);
      port.send({ type: 'ready' });
      await ports.start().catch((e: Error) => log(`ports: watcher failed to start: ${e.message}`));
      return;
    }

    current = 'boot-marker';
    step('boot-marker', 'running');
    await retryUntil(deadline, 'waiting for this boot’s marker', async () => {
      const r = await link!.exec(GUEST_COMMANDS.bootId, { timeoutMs: 5000 });
      return parseBootId(r.stdout) === init.bootId;
    });
    step('boot-marker', 'done');

    current = 'docker';
    step('docker', 'running');
    await retryUntil(deadline, 'waiting for dockerd to answer _ping', () => dockerPing(link!));
    step('docker', 'done');

    current = 'socket';
    step('socket', 'running');
    dockerServer = await serveDockerSocket(init.dockerSocket, link, log);
    step('socket', 'done', init.dockerSocket);
    ports = newForwarder(link, init);
    await ports.start().catch((e: Error) => log(`ports: watcher failed to start: ${e.message}`));
    port.send({ type: 'ready' });
  } catch (e) {
    step(current, 'failed', (e as Error).message);
  }
}

let reconnecting = false;
async function reconnect(init: AgentInit): Promise<void> {
  if (reconnecting || !link) return;
  reconnecting = true;
  try {
    await link.connectUntil(Date.now() + 24 * 3600_000, () => undefined);
    port.send({ type: 'ssh', up: true });
    // The watcher's channel died with the connection: forwards come back by themselves.
    await ports?.start().catch((e: Error) => log(`ports: watcher restart failed: ${e.message}`));
  } catch (e) {
    log(`ssh reconnect failed: ${(e as Error).message}`);
  } finally {
    reconnecting = false;
  }
  void init;
}

port.onMessage((m) => {
  switch (m.type) {
    case 'init':
      void ladder(m);
      break;
    case 'exec':
      if (!link) {
        port.send({ type: 'exec-result', id: m.id, code: null, stdout: '', stderr: '', error: 'agent not connected' });
        break;
      }
      link.exec(m.cmd, { ...(m.stdin !== undefined ? { stdin: m.stdin } : {}), timeoutMs: m.timeoutMs }).then(
        (r) => port.send({ type: 'exec-result', id: m.id, ...r }),
        (e: Error) => port.send({ type: 'exec-result', id: m.id, code: null, stdout: '', stderr: '', error: e.message }),
      );
      break;
    case 'ports-config':
      ports?.setRules(m.ports);
      break;
    case 'hostfwd-result': {
      const w = hostfwdWaiting.get(m.id);
      hostfwdWaiting.delete(m.id);
      if (m.error) w?.reject(new Error(m.error));
      else w?.resolve(m.hostPort);
      break;
    }
    case 'shutdown':
      ports?.stop();
      dockerServer?.close();
      link?.close();
      setTimeout(() => process.exit(0), 50);
      break;
  }
});

process.on('disconnect', () => process.exit(0));
