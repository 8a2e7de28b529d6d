// One request, the way every transport answers it (Electron IPC here, the browser-test bridge in
// tests/e2e/bridge): validate the params with the contract, invoke, always answer an Envelope.
// No Electron import, so code outside the Electron runtime can use the very same function.
import { validateRequest } from '../shared/contract.js';
import type { Envelope, Method } from '../shared/contract.js';
import type { BerthError } from '../shared/status.js';
import type { Backend } from '../engine/backend.js';

export function toError(e: unknown): BerthError {
  if (e && typeof e === 'object' && typeof (e as BerthError).code === 'string' && String((e as BerthError).code).startsWith('E_')) {
    const b = e as BerthError;
    return b.hint ? { code: b.code, message: String(b.message), hint: b.hint } : { code: b.code, message: String(b.message) };
  }
  return { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

function isEnvelope(v: unknown): v is Envelope<unknown> {
  return typeof v === 'object' && v !== null && 'ok' in v && ((v as { ok: unknown }).ok === true || (v as { ok: unknown }).ok === false);
}

/** Validates, invokes, and wraps whatever happens into an Envelope. Never throws. */
export async function dispatch(backend: Pick<Backend, 'invoke'>, method: unknown, params: unknown): Promise<Envelope<unknown>> {
  const bad = validateRequest(method, params);
  if (bad) return { ok: false, error: bad };
  try {
    const r: unknown = await backend.invoke(method as Method, (params ?? {}) as never);
    return isEnvelope(r) ? r : { ok: true, value: r };
  } catch (e) {
    return { ok: false, error: toError(e) };
  }
}

