// Sandboxed preload (CommonJS: sandboxed preloads cannot be ESM, and can require only `electron`).
// Exposes `window.berth` — exactly the BerthApi of the contract. The method and event names and
// their IPC channels come from main (ipc.ts) as one `--berth-contract=…` entry of process.argv
// (webPreferences.additionalArguments), so this file needs no runtime import from shared/.
import { contextBridge, ipcRenderer } from 'electron';
import type { IpcRendererEvent } from 'electron';
import type { BerthApi, Envelope, EventName, Events, Method, Params, Result } from '../shared/contract.js';

interface ContractDescriptor {
  invoke: Record<string, string>;
  events: Record<string, string>;
}

const PREFIX = '--berth-contract=';

function readContract(argv: readonly string[]): ContractDescriptor {
  const arg = argv.find((a) => a.startsWith(PREFIX));
  if (!arg) throw new Error('berth preload: no --berth-contract argument (is this a Berth window?)');
  const parsed: unknown = JSON.parse(decodeURIComponent(arg.slice(PREFIX.length)));
  const ok = (v: unknown): v is Record<string, string> =>
    typeof v === 'object' && v !== null && Object.values(v).every((c) => typeof c === 'string' && c.startsWith('berth:'));
  const d = parsed as Partial<ContractDescriptor>;
  if (!ok(d.invoke) || !ok(d.events)) throw new Error('berth preload: malformed --berth-contract argument');
  return { invoke: { ...d.invoke }, events: { ...d.events } };
}

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function createApi(contract: ContractDescriptor): BerthApi {
  return Object.freeze({
    invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
      if (typeof method !== 'string' || !own(contract.invoke, method)) {
        return Promise.resolve({ ok: false, error: { code: 'E_UNKNOWN_METHOD', message: `unknown method ${JSON.stringify(String(method).slice(0, 64))}` } });
      }
      return ipcRenderer.invoke(contract.invoke[method]!, params) as Promise<Envelope<Result<M>>>;
    },
    on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
      if (typeof event !== 'string' || !own(contract.events, event)) throw new Error(`berth: unknown event ${JSON.stringify(String(event).slice(0, 64))}`);
      if (typeof listener !== 'function') throw new Error('berth: listener must be a function');
      const channel = contract.events[event]!;
      // never hand the IpcRendererEvent (it carries `sender`) to the page
      const handler = (_e: IpcRendererEvent, payload: Events[E]): void => listener(payload);
      ipcRenderer.on(channel, handler);
      return () => {
        ipcRenderer.removeListener(channel, handler);
      };
    },
  });
}

contextBridge.exposeInMainWorld('berth', createApi(readContract(process.argv)));
