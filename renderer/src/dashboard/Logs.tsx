import { useEffect, useRef } from 'react';
import { useBerth } from '../store/berth.js';
import type { LogSource } from '../store/berth.js';

const SOURCES: Array<{ source: LogSource; label: string }> = [
  { source: 'events', label: 'Events' },
  { source: 'serial', label: 'Boot console' },
  { source: 'agent', label: 'Agent' },
  { source: 'supervisor', label: 'Supervisor' },
];

export function Logs(): React.JSX.Element {
  const source = useBerth((s) => s.logSource);
  const logs = useBerth((s) => s.logs);
  const path = useBerth((s) => s.logPath);
  const show = useBerth((s) => s.showLogs);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [logs]);

  return (
    <section className="pane pane-fill" aria-labelledby="pane-title">
      <div className="pane-head">
        <h2 id="pane-title">Logs</h2>
        <div className="segmented" role="group" aria-label="Log source">
          {SOURCES.map((s) => (
            <button key={s.source} type="button" aria-pressed={source === s.source} onClick={() => void show(s.source)}>
              {s.label}
            </button>
          ))}
        </div>
      </div>
      <pre
        ref={box}
        className="log"
        role="log"
        aria-label={`${SOURCES.find((s) => s.source === source)?.label ?? source} log`}
        tabIndex={0}
        data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
        }}
      >
        {logs.length ? logs.join('\n') : <span className="muted">No lines yet.</span>}
      </pre>
      {path ? (
        <p className="log-path muted">
          <code className="selectable">{path}</code>
        </p>
      ) : null}
    </section>
  );
}
