import { useEffect, useId, useState } from 'react';
import { useBerth } from '../store/berth.js';
import { LIMITS } from '../shared/format.js';
import type { Settings } from '../../../electron/shared/settings.js';

type Field = 'cpus' | 'memoryGiB' | 'diskGiB';
const FIELDS: Array<{ key: Field; label: string; unit: string; help: string }> = [
  { key: 'cpus', label: 'CPUs', unit: '', help: 'Virtual CPUs for the VM.' },
  { key: 'memoryGiB', label: 'Memory', unit: 'GiB', help: 'Memory the VM may use.' },
  { key: 'diskGiB', label: 'Disk size', unit: 'GiB', help: 'Space for images, containers and volumes. It can only grow.' },
];

function validate(key: Field, raw: string): string | null {
  const v = Number(raw);
  const { min, max } = LIMITS[key];
  if (raw.trim() === '' || !Number.isFinite(v)) return 'Enter a number.';
  if (key === 'cpus' && !Number.isInteger(v)) return 'Enter a whole number.';
  if (v < min || v > max) return `From ${min} to ${max}.`;
  return null;
}

export function Resources(): React.JSX.Element {
  const settings = useBerth((s) => s.settings);
  const status = useBerth((s) => s.status);
  const pending = useBerth((s) => s.pending);
  const restartNeeded = useBerth((s) => s.restartNeeded || s.status?.restartNeeded === true);
  const save = useBerth((s) => s.saveSettings);
  const restart = useBerth((s) => s.restart);
  const [draft, setDraft] = useState<Record<Field, string> | null>(null);
  const id = useId();

  useEffect(() => {
    if (settings) setDraft({ cpus: String(settings.cpus), memoryGiB: String(settings.memoryGiB), diskGiB: String(settings.diskGiB) });
  }, [settings]);

  if (!settings || !draft) {
    return (
      <section className="pane" aria-labelledby="pane-title">
        <h2 id="pane-title">Resources</h2>
        <p className="muted">Loading settings…</p>
      </section>
    );
  }

  const errors = Object.fromEntries(FIELDS.map((f) => [f.key, validate(f.key, draft[f.key])])) as Record<Field, string | null>;
  const patch: Partial<Settings> = {};
  for (const f of FIELDS) if (!errors[f.key] && Number(draft[f.key]) !== settings[f.key]) patch[f.key] = Number(draft[f.key]);
  const dirty = Object.keys(patch).length > 0;
  const valid = FIELDS.every((f) => !errors[f.key]);
  const up = status?.state === 'running' || status?.state === 'degraded';

  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Resources</h2>
      {restartNeeded ? (
        <div className="banner banner-info" role="status" data-testid="restart-needed">
          <span>Restart needed: the new resources apply the next time the VM starts.</span>
          {up ? (
            <button type="button" className="btn btn-small" onClick={() => void restart()} disabled={pending !== null}>
              Restart now
            </button>
          ) : null}
        </div>
      ) : null}
      <form
        className="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (dirty && valid) void save(patch);
        }}
      >
        <div className="group">
          {FIELDS.map((f) => (
            <div className="row" key={f.key}>
              <label className="row-label" htmlFor={`${id}-${f.key}`}>
                {f.label}
                <span className="row-help" id={`${id}-${f.key}-help`}>
                  {f.help}
                </span>
              </label>
              <span className="row-value field">
                <input
                  id={`${id}-${f.key}`}
                  name={f.key}
                  type="number"
                  inputMode="numeric"
                  min={LIMITS[f.key].min}
                  max={LIMITS[f.key].max}
                  step={1}
                  value={draft[f.key]}
                  aria-invalid={errors[f.key] ? true : undefined}
                  aria-describedby={`${id}-${f.key}-help${errors[f.key] ? ` ${id}-${f.key}-err` : ''}`}
                  onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                />
                <span className="unit">{f.unit}</span>
                {errors[f.key] ? (
                  <span className="field-error" id={`${id}-${f.key}-err`}>
                    {errors[f.key]}
                  </span>
                ) : null}
              </span>
            </div>
          ))}
          <div className="row">
            <label className="row-label" htmlFor={`${id}-keep`}>
              Keep the VM running when Berth quits
              <span className="row-help">Otherwise quitting Berth stops Docker gracefully.</span>
            </label>
            <span className="row-value">
              <input
                id={`${id}-keep`}
                type="checkbox"
                role="switch"
                className="switch"
                checked={settings.keepRunningOnQuit}
                disabled={pending !== null}
                onChange={(e) => void save({ keepRunningOnQuit: e.target.checked })}
              />
            </span>
          </div>
        </div>
        <div className="form-actions">
          <button
            type="button"
            className="btn"
            disabled={!dirty}
            onClick={() => setDraft({ cpus: String(settings.cpus), memoryGiB: String(settings.memoryGiB), diskGiB: String(settings.diskGiB) })}
          >
            Revert
          </button>
          <button type="submit" className="btn btn-primary" disabled={!dirty || !valid || pending !== null}>
            {pending === 'settings' ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </section>
  );
}
