// What the Docker views share: the "not running" and "not answering" states, a confirmation
// dialog, and the few formats they need (uptime, percent).
import { useEffect, useRef } from 'react';
import type { BerthError } from '../../../electron/shared/status.js';
import { useBerth } from '../store/berth.js';
import { useDocker } from '../store/docker.js';
import { formatBytes, isUp } from '../shared/format.js';

export function useDockerUp(): boolean {
  return useBerth((s) => isUp(s.status));
}

/** Loads when Docker comes up (and on mount), clears what was shown when it goes down. */
export function useLoadWhileUp(load: () => void): boolean {
  const up = useDockerUp();
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (up) loadRef.current();
  }, [up]);
  return up;
}

/**
 * Reloads a view when Docker reports a change: the engine pushes the container list after every
 * container, image or volume event, so a new list means "look again" for images and volumes too.
 */
export function useReloadOnDockerChange(load: () => Promise<void>, up: boolean): void {
  const list = useDocker((s) => s.containers.items);
  const first = useRef(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    if (first.current) {
      // the view loaded itself when it opened
      first.current = false;
      return;
    }
    if (up && list) void loadRef.current();
  }, [list, up]);
}

/** Runs `fn` every `ms` while the view is open and Docker is up (the CPU and memory figures). */
export function useEvery(ms: number, fn: () => Promise<void>, enabled: boolean): void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!enabled) return;
    let stop = false;
    let t: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      await fnRef.current();
      if (!stop) t = setTimeout(() => void tick(), ms);
    };
    void tick();
    return () => {
      stop = true;
      if (t) clearTimeout(t);
    };
  }, [ms, enabled]);
}

export function NotRunning({ what }: { what: string }): React.JSX.Element {
  return (
    <p className="muted empty" data-testid="docker-not-running">
      Docker is not running. Start it to see your {what}.
    </p>
  );
}

/** Docker did not answer (or refused): what it said, what to do, and a retry. */
export function DockerError({ error, retry }: { error: BerthError; retry: () => void }): React.JSX.Element {
  const notAnswering = error.code === 'E_DOCKER' || error.code === 'E_TIMEOUT' || error.code === 'E_DISCONNECTED';
  return (
    <div className="error-panel" role="alert" data-testid="docker-error">
      <h3>{notAnswering && /not answering|did not answer/i.test(error.message) ? 'Docker is not answering' : 'Docker refused'}</h3>
      <p className="error-message">{error.message}</p>
      {error.hint ? <p className="error-hint">{error.hint}</p> : null}
      <div className="form-actions">
        <button type="button" className="btn btn-small" onClick={retry}>
          Try again
        </button>
      </div>
    </div>
  );
}

/**
 * The states every Docker list goes through before it has rows to show: Docker down, Docker
 * failing, still loading, empty. `children` renders the rows once there are some.
 */
export function ListState<T>({
  what,
  up,
  error,
  items,
  loading,
  retry,
  empty,
  children,
}: {
  what: string;
  up: boolean;
  error: BerthError | null | undefined;
  items: T[] | null | undefined;
  loading: boolean;
  retry: () => void;
  empty: React.ReactNode;
  children: (items: T[]) => React.ReactNode;
}): React.JSX.Element {
  if (!up) return <NotRunning what={what} />;
  if (error) return <DockerError error={error} retry={retry} />;
  if (!items) return <p className="muted empty">{loading ? 'Loading…' : ''}</p>;
  if (items.length === 0) {
    return (
      <p className="muted empty" data-testid={`${what}-empty`}>
        {empty}
      </p>
    );
  }
  return <>{children(items)}</>;
}

/** What the last prune of `what` removed, when it was the last one. */
export function PruneBanner({ what, noun }: { what: 'images' | 'volumes'; noun: string }): React.JSX.Element | null {
  const last = useDocker((s) => s.lastPrune);
  if (last?.what !== what) return null;
  return (
    <p className="banner banner-info" role="status">
      Removed {last.deleted} {noun}
      {last.deleted === 1 ? '' : 's'}, {formatBytes(last.reclaimedBytes)} freed.
    </p>
  );
}

export function DockerActionError(): React.JSX.Element | null {
  const err = useDocker((s) => s.actionError);
  const dismiss = useDocker((s) => s.dismissError);
  if (!err) return null;
  return (
    <div className="banner banner-error" role="alert" data-testid="docker-action-error">
      <div>
        <strong>Could not {err.what}:</strong> {err.message}
        {err.hint ? <div className="banner-hint">{err.hint}</div> : null}
      </div>
      <button type="button" className="btn btn-small" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}

export interface ConfirmProps {
  title: string;
  body: React.ReactNode;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
  danger?: boolean;
}

/** A modal question: Escape or Cancel says no, the default button is Cancel. */
export function Confirm({ title, body, confirm, onConfirm, onCancel, danger = true }: ConfirmProps): React.JSX.Element {
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => cancelRef.current?.focus(), []);
  return (
    <div className="dialog-backdrop" onKeyDown={(e) => e.key === 'Escape' && onCancel()}>
      <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="dialog-title" aria-describedby="dialog-body">
        <h3 id="dialog-title">{title}</h3>
        <div id="dialog-body" className="dialog-body">
          {body}
        </div>
        <div className="form-actions">
          <button type="button" className="btn" ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className={`btn ${danger ? 'btn-danger' : 'btn-primary'}`} onClick={onConfirm}>
            {confirm}
          </button>
        </div>
      </div>
    </div>
  );
}

export function formatUptime(startedAt: string | undefined, now = Date.now()): string {
  if (!startedAt) return '';
  const t = Date.parse(startedAt);
  if (!Number.isFinite(t) || t <= 0) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} days`;
}

export function formatPercent(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return '';
  return `${p < 10 ? p.toFixed(1) : Math.round(p)} %`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
