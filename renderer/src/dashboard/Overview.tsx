import { useEffect, useState } from 'react';
import { useBerth } from '../store/berth.js';
import { accelName, archName, formatBytes, formatMs, formatWhen } from '../shared/format.js';
import type { Progress, Status, StepRecord } from '../../../electron/shared/status.js';

const STEP_ICON: Record<StepRecord['state'], string> = { pending: '', running: '', done: '✓', failed: '✕', skipped: '–' };
const STEP_WORD: Record<StepRecord['state'], string> = { pending: 'waiting', running: 'in progress', done: 'done', failed: 'failed', skipped: 'skipped' };

/** Re-renders every `ms` while `active`, for live timers. */
function useTick(active: boolean, ms = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}

function stepTime(step: StepRecord, status: Status, now: number): string {
  if (step.durationMs !== undefined) return formatMs(step.durationMs);
  if (step.state === 'running' && status.startedAt && step.startedAtMs !== undefined) {
    const elapsed = now - Date.parse(status.startedAt) - step.startedAtMs;
    return elapsed >= 0 ? formatMs(elapsed) : '';
  }
  return '';
}

export function Steps({ status }: { status: Status }): React.JSX.Element {
  const now = useTick(status.state === 'starting');
  return (
    <ol className="steps" aria-label="Readiness steps" data-testid="steps">
      {status.steps.map((step) => (
        <li key={step.name} className={`step step-${step.state}`} data-step={step.name} data-state={step.state}>
          <span className="step-icon" aria-hidden="true">
            {step.state === 'running' ? <span className="spinner" /> : STEP_ICON[step.state]}
          </span>
          <span className="step-label">
            {step.label}
            <span className="visually-hidden">: {STEP_WORD[step.state]}</span>
            {step.detail ? <span className="step-detail"> — {step.detail}</span> : null}
          </span>
          <span className="step-time">{stepTime(step, status, now)}</span>
        </li>
      ))}
    </ol>
  );
}

function fractionOf(p: Progress): number | undefined {
  if (p.fraction !== undefined) return Math.max(0, Math.min(1, p.fraction));
  if (p.total && p.done !== undefined) return Math.max(0, Math.min(1, p.done / p.total));
  return undefined;
}

export function ProgressList(): React.JSX.Element | null {
  const progress = useBerth((s) => s.progress);
  const items = Object.values(progress).filter((p): p is Progress => p !== undefined);
  if (!items.length) return null;
  return (
    <div className="group" data-testid="progress">
      {items.map((p) => {
        const f = fractionOf(p);
        const extra = [
          f !== undefined ? `${Math.round(f * 100)}%` : '',
          p.total && p.done !== undefined && p.task !== 'boot' ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : '',
          p.rateBps ? `${formatBytes(p.rateBps)}/s` : '',
          p.etaS !== undefined ? `${formatMs(p.etaS * 1000)} left` : '',
        ]
          .filter(Boolean)
          .join(' · ');
        return (
          <div className="row progress-row" key={p.task}>
            <div className="progress-text">
              <span>{p.label}</span>
              <span className="muted">{extra}</span>
            </div>
            <progress aria-label={p.label} max={1} {...(f !== undefined ? { value: f } : {})} />
          </div>
        );
      })}
    </div>
  );
}

export function ErrorPanel({ status }: { status: Status }): React.JSX.Element | null {
  const e = status.error;
  if (!e || (status.state !== 'error' && status.state !== 'degraded')) return null;
  const step = e.step ? status.steps.find((s) => s.name === e.step) : undefined;
  return (
    <section className="error-panel" role="alert" aria-labelledby="error-title" data-testid="error-panel">
      <h3 id="error-title">{status.state === 'error' ? (step ? `Failed at “${step.label}”` : 'Docker could not start') : 'Something needs attention'}</h3>
      <p className="error-message">{e.message}</p>
      {e.hint ? <p className="error-hint">{e.hint}</p> : null}
      <dl className="error-facts">
        <dt>Code</dt>
        <dd>
          <code>{e.code}</code>
        </dd>
        <dt>Boot log</dt>
        <dd>
          <code className="selectable">{e.serialLog ?? status.serialLog}</code>
        </dd>
      </dl>
    </section>
  );
}

export function DegradedNotice({ status }: { status: Status }): React.JSX.Element | null {
  if (status.state !== 'degraded' || status.error) return null;
  const ports = status.ports.filter((p) => p.state === 'failed').length;
  const mounts = status.mounts.filter((m) => m.state === 'failed').length;
  const parts = [ports ? `${ports} port forward${ports > 1 ? 's' : ''}` : '', mounts ? `${mounts} mount${mounts > 1 ? 's' : ''}` : ''].filter(Boolean);
  return (
    <div className="banner banner-warning" role="status" data-testid="degraded">
      <span>
        Docker is running, but {parts.length ? `${parts.join(' and ')} failed` : 'something failed'}. See {ports ? 'Ports' : 'Mounts'} for the reason.
      </span>
    </div>
  );
}

function Row({ label, help, children, testId }: { label: string; help?: string; children: React.ReactNode; testId?: string }): React.JSX.Element {
  return (
    <div className="row" data-testid={testId}>
      <span className="row-label">
        {label}
        {help ? <span className="row-help">{help}</span> : null}
      </span>
      <span className="row-value">{children}</span>
    </div>
  );
}

/** The proxies the VM booted with (credentials already masked) and its extra CAs, on one line. */
export function proxyText(p: NonNullable<Status['proxy']>): string {
  const parts = [p.http ? `HTTP ${p.http}` : '', p.https ? `HTTPS ${p.https}` : '', p.noProxy ? `not for ${p.noProxy}` : ''].filter(Boolean);
  const proxy = parts.length ? `${parts.join(', ')} (${p.source === 'berth.yaml' ? 'berth.yaml' : 'from the environment'})` : 'None';
  return p.caCertificates ? `${proxy} · ${p.caCertificates} extra CA${p.caCertificates === 1 ? '' : 's'}` : proxy;
}

/** How the last start went: resumed from the saved state, or booted cold and why. */
export function resumeText(status: Status): string | null {
  const r = status.resume;
  if (!r) return null;
  if (r.resumed) return r.loadMs !== undefined ? `Resumed in ${formatMs(r.loadMs)}` : 'Resumed from the saved state';
  return r.reason ? `Booted cold: ${r.reason}` : 'Booted cold';
}

function stopText(status: Status): string | null {
  const s = status.lastStop;
  if (!s) return null;
  const size = s.bytes !== undefined ? ` (${formatBytes(s.bytes)})` : '';
  return `${s.how === 'suspend' ? 'Suspended' : 'Shut down'} in ${formatMs(s.ms)}${size}`;
}

/**
 * While Docker is down: the saved state (the next Start resumes it) with a way to throw it away,
 * and how the last stop went — including why it shut down when it was meant to suspend.
 */
export function StoppedState({ status }: { status: Status }): React.JSX.Element | null {
  const pending = useBerth((s) => s.pending);
  const shutdown = useBerth((s) => s.shutdown);
  const down = status.state === 'stopped' || status.state === 'error';
  const saved = status.state === 'stopped' ? status.saved : undefined;
  const last = down ? stopText(status) : null;
  if (!saved && !last) return null;
  const restart = saved?.containersToRestart ?? [];
  return (
    <>
      <div className="group" data-testid="stop-state">
        {saved ? (
          <Row label="Saved state" help="Start resumes Docker where it left off, in about a second." testId="saved-state">
            <span>
              {formatBytes(saved.bytes)}, {formatWhen(saved.at)}
            </span>
            {restart.length ? (
              <span className="row-note">
                Started again on resume: {restart.join(', ')}
              </span>
            ) : null}
          </Row>
        ) : null}
        {last ? (
          <Row label="Last stop" testId="last-stop">
            <span>{last}</span>
            {status.lastStop?.note ? (
              <span className="row-note" data-testid="stop-note">
                {status.lastStop.note}
              </span>
            ) : null}
          </Row>
        ) : null}
      </div>
      {saved ? (
        <div className="form-actions">
          <button type="button" className="btn" onClick={() => void shutdown()} disabled={pending !== null} aria-busy={pending === 'shutdown'}>
            {pending === 'shutdown' ? 'Shutting down…' : 'Shut down (discard saved state)'}
          </button>
        </div>
      ) : null}
    </>
  );
}

export function Overview(): React.JSX.Element {
  const status = useBerth((s) => s.status);
  const connected = useBerth((s) => s.connected);
  if (!status) {
    return (
      <section className="pane" aria-labelledby="pane-title">
        <h2 id="pane-title">Overview</h2>
        <p className="muted">{connected === false ? 'The Berth engine does not answer.' : 'Connecting to the Berth engine…'}</p>
      </section>
    );
  }
  const showSteps = status.state !== 'stopped' || status.steps.some((s) => s.state !== 'pending');
  // the last start, while that start is what the user is looking at (not once Docker stopped again)
  const resume = status.state !== 'stopped' && status.state !== 'stopping' ? resumeText(status) : null;
  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Overview</h2>
      <ErrorPanel status={status} />
      <DegradedNotice status={status} />
      <ProgressList />
      <StoppedState status={status} />
      <div className="group">
        <Row label="Docker host">
          <code className="selectable" data-testid="docker-host">
            {status.dockerHost}
          </code>
        </Row>
        <Row label="Architecture">{archName(status.arch)}</Row>
        <Row label="Acceleration">
          {accelName(status.accel)}
          {status.accelNote ? <span className="row-note">{status.accelNote}</span> : null}
        </Row>
        {status.proxy ? (
          <Row label="Proxy" help="berth.yaml proxy and caCertificates, or the environment's; they apply at boot" testId="proxy">
            {proxyText(status.proxy)}
            {status.proxy.note ? <span className="row-note">{status.proxy.note}</span> : null}
          </Row>
        ) : null}
        <Row label="Resources">
          {status.cpus} CPU{status.cpus === 1 ? '' : 's'} · {status.memoryGiB} GiB memory · {status.diskGiB} GiB disk
          {status.diskUsage ? <span className="muted"> ({formatBytes(status.diskUsage.fileBytes)} used)</span> : null}
        </Row>
        {status.readyMs !== undefined && (status.state === 'running' || status.state === 'degraded') ? <Row label="Ready in">{formatMs(status.readyMs)}</Row> : null}
        {resume ? (
          <Row label="Last start" testId="resume">
            {resume}
          </Row>
        ) : null}
      </div>
      {showSteps ? (
        <>
          <h3 className="group-title">Startup</h3>
          <div className="group">
            <Steps status={status} />
          </div>
        </>
      ) : (
        <p className="muted empty">{status.saved ? 'Docker is suspended. Press Start to resume it in about a second.' : 'Docker is stopped. Press Start to boot the VM.'}</p>
      )}
    </section>
  );
}
