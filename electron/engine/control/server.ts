// Serves the contract on <instance>/control.sock (mode 0600) for the CLI and other clients.
import fs from 'node:fs';
import net from 'node:net';
import { EVENT_NAMES } from '../../shared/contract.js';
import type { Method } from '../../shared/contract.js';
import type { Backend } from '../backend.js';
import { MAX_LINE, SUBSCRIBE } from './protocol.js';

type Reply = { jsonrpc: '2.0'; id: number | string | null; result: unknown };

/**
 * What may wait in memory for one client before it is disconnected. A subscriber that stops
 * reading (stopped in a debugger, a stuck pipe) would otherwise make Node buffer every event for
 * it, without limit. Dropping events instead would leave it with a wrong picture of the VM;
 * a closed socket is something a client notices and recovers from by reconnecting.
 */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface ControlServerOptions {
  maxQueuedBytes?: number;
  log?: (line: string) => void;
}

export async function serveControl(path: string, backend: Backend, opts: ControlServerOptions = {}): Promise<net.Server> {
  const maxQueued = opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  fs.rmSync(path, { force: true });
  const server = net.createServer((sock) => {
    let buf = '';
    const unsubs: (() => void)[] = [];
    const send = (obj: unknown) => {
      if (sock.destroyed) return;
      sock.write(JSON.stringify(obj) + '\n');
      if (sock.writableLength > maxQueued) {
        log(`control socket: disconnecting a client that stopped reading (${sock.writableLength} bytes waiting for it, limit ${maxQueued})`);
        unsubs.splice(0).forEach((u) => u());
        sock.destroy();
      }
    };
    const fail = (id: Reply['id'], message: string, code = 'E_INVALID_PARAMS') =>
      send({ jsonrpc: '2.0', id, result: { ok: false, error: { code, message, hint: 'Send one JSON-RPC 2.0 request per line.' } } });
    const handle = async (line: string) => {
      let msg: { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return fail(null, 'malformed JSON');
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return fail(null, 'a request must be a JSON object');
      const id = typeof msg.id === 'number' || typeof msg.id === 'string' ? msg.id : null;
      if (msg.jsonrpc !== '2.0') return fail(id, 'jsonrpc must be "2.0"');
      if (msg.method === SUBSCRIBE) {
        if (!unsubs.length) for (const name of EVENT_NAMES) unsubs.push(backend.on(name, (payload) => send({ jsonrpc: '2.0', method: 'event', params: { name, payload } })));
        return send({ jsonrpc: '2.0', id, result: { ok: true, value: null } });
      }
      // Validation happens in the backend (the same check every transport gets).
      const result = await backend.invoke(msg.method as Method, (msg.params ?? {}) as never);
      send({ jsonrpc: '2.0', id, result });
    };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        fail(null, `request larger than ${MAX_LINE} bytes`);
        sock.destroy();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) void handle(line).catch((e: Error) => fail(null, e.message, 'E_INTERNAL'));
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => unsubs.forEach((u) => u()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const old = process.umask(0o177);
    server.listen(path, () => {
      process.umask(old);
      fs.chmodSync(path, 0o600);
      resolve();
    });
  });
  return server;
}
