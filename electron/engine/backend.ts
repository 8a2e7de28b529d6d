// What every front end (Electron main, the CLI, the browser-test bridge) talks to: either the
// supervisor in this process or a supervisor in another process reached over the control socket.
import type { EventName, Events, Envelope, Method, Params, Result } from '../shared/contract.js';

export interface Backend {
  invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>>;
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
  close(): Promise<void>;
}
