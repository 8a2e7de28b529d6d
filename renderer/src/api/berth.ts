// The only module that touches `window.berth` (the folder-imports lint keeps it that way). In Electron the preload defines it; in
// browser tests the bridge script does. Without it every call answers E_DISCONNECTED, so the UI
// can say so instead of crashing.
import type { BerthApi, Envelope, EventName, Events, Method, Params, Result } from '../../../electron/shared/contract.js';

declare global {
  interface Window {
    berth?: BerthApi;
  }
}

export function hasBerth(): boolean {
  return typeof window !== 'undefined' && typeof window.berth?.invoke === 'function';
}

export async function invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
  if (!hasBerth()) {
    return { ok: false, error: { code: 'E_DISCONNECTED', message: 'The Berth engine is not connected to this window.', hint: 'Open the dashboard from the Berth menu-bar icon.' } };
  }
  try {
    return await window.berth!.invoke(method, params);
  } catch (e) {
    return { ok: false, error: { code: 'E_DISCONNECTED', message: e instanceof Error ? e.message : String(e) } };
  }
}

export function on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
  if (!hasBerth()) return () => undefined;
  return window.berth!.on(event, listener);
}
