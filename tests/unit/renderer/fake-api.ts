// A fake `window.berth` for renderer tests: answers from a table, records calls, emits events.
import { vi } from 'vitest';
import type { BerthApi, Envelope, EventName, Events, Method, Params, Result } from '../../../electron/shared/contract.js';

export type Answers = { [M in Method]?: (params: Params<M>) => Envelope<Result<M>> | Promise<Envelope<Result<M>>> };

export interface FakeApi extends BerthApi {
  calls: Array<{ method: Method; params: unknown }>;
  answers: Answers;
  emit<E extends EventName>(event: E, payload: Events[E]): void;
  listenerCount(event: EventName): number;
}

export function ok<T>(value: T): Envelope<T> {
  return { ok: true, value };
}

export function installFakeApi(answers: Answers = {}): FakeApi {
  const listeners = new Map<EventName, Set<(p: unknown) => void>>();
  const api: FakeApi = {
    calls: [],
    answers,
    invoke: vi.fn(async (method: Method, params: unknown) => {
      api.calls.push({ method, params });
      const a = api.answers[method] as ((p: unknown) => unknown) | undefined;
      if (!a) return { ok: false, error: { code: 'E_INTERNAL', message: `no answer for ${method} in this test` } };
      return a(params);
    }) as BerthApi['invoke'],
    on: ((event: EventName, l: (p: unknown) => void) => {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(l);
      return () => listeners.get(event)!.delete(l);
    }) as BerthApi['on'],
    emit: (event, payload) => listeners.get(event)?.forEach((l) => l(payload)),
    listenerCount: (event) => listeners.get(event)?.size ?? 0,
  };
  window.berth = api;
  return api;
}
