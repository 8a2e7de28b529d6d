import { useEffect, useRef } from 'react';
import { attachBootSink, attachShellSink, useConsole } from '../store/console.js';
import type { Tab } from '../store/console.js';
import { XTerm } from './XTerm.js';

const TABS: Array<{ id: Tab; label: string }> = [
  { id: 'shell', label: 'Shell' },
  { id: 'boot', label: 'Boot log' },
];

const SHELL_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  exited: 'Exited',
  failed: 'Not connected',
} as const;

export function ConsoleApp(): React.JSX.Element {
  const tab = useConsole((s) => s.tab);
  const setTab = useConsole((s) => s.setTab);
  const init = useConsole((s) => s.init);
  const shell = useConsole((s) => s.shell);
  const vmState = useConsole((s) => s.vmState);
  const bootLogPath = useConsole((s) => s.bootLogPath);
  const input = useConsole((s) => s.input);
  const resize = useConsole((s) => s.resize);
  const connect = useConsole((s) => s.connectShell);
  const target = useConsole((s) => s.target);
  const setTarget = useConsole((s) => s.setTarget);
  const tabs = useRef<Partial<Record<Tab, HTMLButtonElement | null>>>({});

  useEffect(() => init(), [init]);

  const up = vmState === 'running' || vmState === 'degraded';

  return (
    <div className="console-window">
      <div className="console-bar">
        <div
          className="tabs"
          role="tablist"
          aria-label="Console"
          onKeyDown={(e) => {
            if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
            const next: Tab = tab === 'shell' ? 'boot' : 'shell';
            setTab(next);
            tabs.current[next]?.focus();
          }}
        >
          {TABS.map((t) => (
            <button
              key={t.id}
              ref={(el) => {
                tabs.current[t.id] = el;
              }}
              type="button"
              role="tab"
              id={`tab-${t.id}`}
              aria-selected={tab === t.id}
              aria-controls={`panel-${t.id}`}
              tabIndex={tab === t.id ? 0 : -1}
              className="tab"
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </div>
        <div className="console-status">
          {tab === 'shell' ? (
            <>
              <span className={`dot dot-${shell.state}`} aria-hidden="true" />
              <span data-testid="shell-state">{SHELL_TEXT[shell.state]}</span>
              <span className="console-target" data-testid="shell-target">
                {target ? `in container ${target.name ?? target.container.slice(0, 12)}` : 'in the VM'}
              </span>
              {target ? (
                <button type="button" className="btn btn-small" onClick={() => void setTarget(null)}>
                  VM shell
                </button>
              ) : null}
              {shell.state !== 'open' && shell.state !== 'connecting' ? (
                <button type="button" className="btn btn-small" onClick={() => void connect()} disabled={!up}>
                  {shell.state === 'idle' ? 'Connect' : 'Reconnect'}
                </button>
              ) : null}
            </>
          ) : (
            <code className="selectable">{bootLogPath ?? ''}</code>
          )}
        </div>
      </div>
      <div id="panel-shell" role="tabpanel" aria-labelledby="tab-shell" className="panel" hidden={tab !== 'shell'}>
        <XTerm label="Shell in the VM" attach={attachShellSink} onInput={input} onResize={resize} visible={tab === 'shell'} testId="shell-terminal" />
      </div>
      <div id="panel-boot" role="tabpanel" aria-labelledby="tab-boot" className="panel" hidden={tab !== 'boot'}>
        <XTerm label="Boot log" attach={attachBootSink} visible={tab === 'boot'} readOnly testId="boot-terminal" />
      </div>
    </div>
  );
}
