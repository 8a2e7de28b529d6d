import type { BerthError, ErrorCode } from '../shared/status.js';

/** An error that carries what the user needs: a code, a message and a hint (what to do about it). */
export class BerthFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'BerthFailure';
  }

  toJSON(): BerthError {
    return this.hint ? { code: this.code, message: this.message, hint: this.hint } : { code: this.code, message: this.message };
  }
}

export function toBerthError(e: unknown, fallback: ErrorCode = 'E_INTERNAL'): BerthError {
  if (e instanceof BerthFailure) return e.toJSON();
  if (e && typeof e === 'object' && 'code' in e && 'message' in e && typeof (e as BerthError).code === 'string' && String((e as BerthError).code).startsWith('E_')) {
    return e as BerthError;
  }
  return { code: fallback, message: e instanceof Error ? e.message : String(e) };
}
