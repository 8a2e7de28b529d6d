import { useBerth } from '../store/berth.js';
import type { Action } from '../store/berth.js';
import { STATE_LABEL } from '../shared/format.js';
import type { VmState } from '../../../electron/shared/status.js';

export function StateBadge({ state }: { state: VmState | null }): React.JSX.Element {
  const label = state ? STATE_LABEL[state] : 'Connecting…';
  return (
    <span className={`badge badge-${state ?? 'unknown'}`} role="status" aria-live="polite" data-testid="state-badge" data-state={state ?? 'unknown'}>
      <span className="badge-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function Toolbar(): React.JSX.Element {
  const status = useBerth((s) => s.status);
  const pending = useBerth((s) => s.pending);
  const start = useBerth((s) => s.start);
  const stop = useBerth((s) => s.stop);
  const restart = useBerth((s) => s.restart);
  const state = status?.state ?? null;
  const busy = pending !== null;
  const canStart = !busy && (state === 'stopped' || state === 'error');
  // Stop may cancel a start: vm.start answers only once Docker is up
  const stopWaits = pending !== null && pending !== 'start' && pending !== 'restart';
  const canStop = !stopWaits && (state === 'starting' || state === 'running' || state === 'degraded' || state === 'error');
  const canRestart = !busy && (state === 'running' || state === 'degraded' || state === 'error');

  return (
    <header className="toolbar">
      <div className="toolbar-title">
        <h1>Docker Engine</h1>
        <StateBadge state={state} />
      </div>
      <div className="toolbar-actions" role="group" aria-label="Engine actions">
        <button type="button" className="btn btn-primary" onClick={() => void start()} disabled={!canStart} aria-busy={pending === 'start'}>
          {pending === 'start' ? 'Starting…' : 'Start'}
        </button>
        <button type="button" className="btn" onClick={() => void stop()} disabled={!canStop} aria-busy={pending === 'stop'}>
          {pending === 'stop' ? 'Stopping…' : 'Stop'}
        </button>
        <button type="button" className="btn" onClick={() => void restart()} disabled={!canRestart} aria-busy={pending === 'restart'}>
          Restart
        </button>
      </div>
    </header>
  );
}

const ACTION_WORDS: Record<Action, string> = {
  start: 'start Docker',
  stop: 'stop Docker',
  shutdown: 'shut down Docker',
  restart: 'restart Docker',
  emulation: 'change emulation',
  settings: 'save the settings',
};

export function ActionError(): React.JSX.Element | null {
  const err = useBerth((s) => s.actionError);
  const dismiss = useBerth((s) => s.dismissError);
  if (!err) return null;
  return (
    <div className="banner banner-error" role="alert">
      <div>
        <strong>Could not {ACTION_WORDS[err.action]}:</strong> {err.message}
        {err.hint ? <div className="banner-hint">{err.hint}</div> : null}
      </div>
      <button type="button" className="btn btn-small" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}
