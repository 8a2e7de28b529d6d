// The one file that touches raw `ipcMain` (the folder-imports lint keeps it that way). Every contract method gets exactly one
// `ipcMain.handle` (generated from METHODS); every call is checked for its sender (one of our
// windows, main frame, our renderer's file:// URL), validated with validateRequest and answered
// with an Envelope. Events from the backend reach our windows through `webContents.send` on the
// channel names defined here — and only here: the preload receives them via `contractArgument()`.
import { ipcMain } from 'electron';
import type { IpcMainInvokeEvent, WebContents } from 'electron';
import { EVENT_NAMES, METHODS } from '../shared/contract.js';
import type { EventName, Method } from '../shared/contract.js';
import { dispatch } from './dispatch.js';
import type { Backend } from '../engine/backend.js';

export { dispatch };

export function invokeChannel(method: Method): string {
  return `berth:invoke:${method}`;
}

export function eventChannel(event: EventName): string {
  return `berth:event:${event}`;
}

/** What the preload needs to build `window.berth`: method → channel and event → channel. */
export interface ContractDescriptor {
  invoke: Record<string, string>;
  events: Record<string, string>;
}

export const CONTRACT_ARG_PREFIX = '--berth-contract=';

export function contractDescriptor(): ContractDescriptor {
  return {
    invoke: Object.fromEntries(METHODS.map((m) => [m, invokeChannel(m)])),
    events: Object.fromEntries(EVENT_NAMES.map((e) => [e, eventChannel(e)])),
  };
}

/** Passed to our windows as `webPreferences.additionalArguments`; read by the sandboxed preload from `process.argv`. */
export function contractArgument(): string {
  return CONTRACT_ARG_PREFIX + encodeURIComponent(JSON.stringify(contractDescriptor()));
}

export interface SenderPolicy {
  /** true for the webContents of one of our windows */
  isOurWebContents(wc: WebContents): boolean;
  /** file:// URL of the renderer folder, ending in "/" (e.g. file:///Applications/Berth.app/…/renderer/dist/) */
  rendererRoot: string;
}

/** A call is trusted only from the main frame of one of our windows showing a page of our renderer. */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>, policy: SenderPolicy): boolean {
  const frame = event.senderFrame;
  if (!frame || !event.sender || !policy.isOurWebContents(event.sender)) return false;
  if (frame.parent !== null) return false;
  const main = event.sender.mainFrame;
  if (frame !== main && (frame.processId !== main?.processId || frame.routingId !== main?.routingId)) return false;
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    return false;
  }
  if (url.protocol !== 'file:' || !policy.rendererRoot.startsWith('file:///') || !policy.rendererRoot.endsWith('/')) return false;
  // compare without query/hash; URL normalises "..", so a path cannot climb out of the root
  return `${url.protocol}//${url.host}${url.pathname}`.startsWith(policy.rendererRoot);
}

export class UntrustedSenderError extends Error {
  constructor(method: string) {
    super(`berth: refused ${method} from a frame that is not a Berth window`);
    this.name = 'UntrustedSenderError';
  }
}

/** Registers one handler per contract method. Returns a function that removes them again. */
export function registerIpc(backend: Pick<Backend, 'invoke'>, policy: SenderPolicy, log: (msg: string) => void = console.warn): () => void {
  for (const method of METHODS) {
    ipcMain.handle(invokeChannel(method), async (event: IpcMainInvokeEvent, params: unknown) => {
      if (!isTrustedSender(event, policy)) {
        log(`ipc: refused ${method} from ${event.senderFrame?.url ?? 'a destroyed frame'}`);
        throw new UntrustedSenderError(method);
      }
      return dispatch(backend, method, params);
    });
  }
  return () => {
    for (const method of METHODS) ipcMain.removeHandler(invokeChannel(method));
  };
}

/** Forwards every contract event from the backend to our windows. Returns an unsubscribe function. */
export function forwardEvents(backend: Pick<Backend, 'on'>, targets: () => WebContents[]): () => void {
  const offs = EVENT_NAMES.map((name) =>
    backend.on(name, (payload) => {
      for (const wc of targets()) {
        if (!wc.isDestroyed()) wc.send(eventChannel(name), payload);
      }
    }),
  );
  return () => offs.forEach((off) => off());
}
