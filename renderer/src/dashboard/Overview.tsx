import { useEffect, useState } from 'react';
import { useBerth } from '../store/berth.js';
import { accelName, archName, formatBytes, formatMs } from '../shared/format.js';
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

function Row({ label, children }: { label: string; children: React.ReactNode }): React.JSX.Element {
  return (
    <div className="row">
      <span className="row-label">{label}</span>
      <span className="row-value">{children}</span>
    </div>
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
  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Overview</h2>
      <ErrorPanel status={status} />
      <DegradedNotice status={status} />
      <ProgressList />
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
        <Row label="Resources">
          {status.cpus} CPU{status.cpus === 1 ? '' : 's'} · {status.memoryGiB} GiB memory · {status.diskGiB} GiB disk
          {status.diskUsage ? <span className="muted"> ({formatBytes(status.diskUsage.fileBytes)} used)</span> : null}
        </Row>
        {status.readyMs !== undefined && (status.state === 'running' || status.state === 'degraded') ? <Row label="Ready in">{formatMs(status.readyMs)}</Row> : null}
      </div>
      {showSteps ? (
        <>
          <h3 className="group-title">Startup</h3>
          <div className="group">
            <Steps status={status} />
          </div>
        </>
      ) : (
        <p className="muted empty">Docker is stopped. Press Start to boot the VM.</p>
      )}
    </section>
  );
}
