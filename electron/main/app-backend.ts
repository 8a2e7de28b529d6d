// The Backend the app's windows talk to: the engine's Backend (in-process supervisor or control
// socket client) plus the console sessions that live next to the UI (a pty on this host).
// No Electron import: the browser-test bridge wraps its backend the same way.
import type { Backend } from '../engine/backend.js';
import type { ConsoleEvent, ConsoleTarget, Envelope, EventName, Events, Method, Params, Result } from '../shared/contract.js';
import { ConsoleFailure, ConsoleSessions } from './console.js';
import type { SpawnPty } from './console.js';

const CONSOLE_METHODS = new Set<Method>(['console.open', 'console.write', 'console.resize', 'console.close', 'console.show', 'console.target']);

export interface AppBackendOptions {
  sshConfig: string;
  spawn?: SpawnPty;
  ssh?: string;
  /** run this instead of ssh (dev-only fake backends) */
  command?: { file: string; args: string[] };
  /** the instance's docker.sock, for shells in containers (docker exec through the Engine API) */
  dockerSocket?: string;
  /** shows (or focuses) the console window: the app passes its window manager's */
  showConsole?: () => void;
}

export function withConsoles(engine: Backend, opts: AppBackendOptions): Backend & { consoles: ConsoleSessions } {
  const listeners = new Set<(e: ConsoleEvent) => void>();
  const consoles = new ConsoleSessions({
    sshConfig: opts.sshConfig,
    ...(opts.spawn ? { spawn: opts.spawn } : {}),
    ...(opts.ssh ? { ssh: opts.ssh } : {}),
    ...(opts.command ? { command: opts.command } : {}),
    ...(opts.dockerSocket ? { dockerSocket: opts.dockerSocket } : {}),
    emit: (e) => listeners.forEach((l) => l(e)),
  });
  /** what the last console.show asked for, until the console window takes it */
  let target: ConsoleTarget | null = null;

  async function consoleCall(method: Method, params: Record<string, unknown>): Promise<unknown> {
    switch (method) {
      case 'console.open':
        return consoles.open(params.cols as number, params.rows as number, params.container as string | undefined);
      case 'console.show': {
        if (params.container) {
          target = { container: params.container as string, ...(params.name ? { name: params.name as string } : {}) };
          // a console window already open takes it now; one that opens takes it with console.target
          listeners.forEach((l) => l({ id: '', show: target! }));
        }
        opts.showConsole?.();
        return null;
      }
      case 'console.target': {
        const t = target;
        target = null;
        return t;
      }
      case 'console.write':
        return consoles.write(params.id as string, params.data as string);
      case 'console.resize':
        return consoles.resize(params.id as string, params.cols as number, params.rows as number);
      default:
        return consoles.close(params.id as string);
    }
  }

  return {
    consoles,
    async invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
      if (!CONSOLE_METHODS.has(method)) return engine.invoke(method, params);
      try {
        const value = (await consoleCall(method, params as Record<string, unknown>)) as Result<M>;
        return { ok: true, value };
      } catch (e) {
        if (e instanceof ConsoleFailure) return { ok: false, error: e.berth };
        return { ok: false, error: { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) } };
      }
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
      if (event !== 'console') return engine.on(event, listener);
      const l = listener as (e: ConsoleEvent) => void;
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close(): Promise<void> {
      consoles.closeAll();
      listeners.clear();
      await engine.close();
    },
  };
}
