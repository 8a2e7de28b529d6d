import { useEffect, useId, useState } from 'react';
import { useBerth } from '../store/berth.js';
import { LIMITS } from '../shared/format.js';
import { SwitchRow } from './SwitchRow.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { SocketsStatus } from '../../../electron/shared/status.js';

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

const STOP_MODES: Array<{ value: Settings['stopMode']; label: string; help: string }> = [
  { value: 'suspend', label: 'Suspend', help: 'Keeps containers running; Docker starts again in about a second.' },
  { value: 'shutdown', label: 'Shut down', help: 'Containers stop; the next start boots the VM.' },
];

/** Settings that apply at the next stop or sleep, saved as soon as they change (no Save button). */
function StopSettings({ settings, disabled, busy, save }: { settings: Settings; disabled: boolean; busy: boolean; save: (patch: Partial<Settings>) => Promise<boolean> }): React.JSX.Element {
  const id = useId();
  const suspend = settings.stopMode === 'suspend';
  return (
    <>
      <h3 className="group-title">Stopping and sleep</h3>
      <div className="group" data-testid="stop-settings">
        <div className="row row-top">
          <span className="row-label">
            <span id={`${id}-mode`}>When Docker stops</span>
            <span className="row-help">Stop in the dashboard and the menu bar, and quitting Berth.</span>
          </span>
          <span className="row-value choices" role="radiogroup" aria-labelledby={`${id}-mode`} aria-busy={busy}>
            {STOP_MODES.map((m) => (
              <label className="choice" key={m.value}>
                <input
                  type="radio"
                  name={`${id}-stopMode`}
                  value={m.value}
                  checked={settings.stopMode === m.value}
                  disabled={disabled}
                  aria-describedby={`${id}-${m.value}-help`}
                  onChange={() => void save({ stopMode: m.value })}
                />
                <span className="choice-text">
                  {m.label}
                  <span className="row-help" id={`${id}-${m.value}-help`}>
                    {m.help}
                  </span>
                </span>
              </label>
            ))}
          </span>
        </div>
        <SwitchRow
          label="Suspend before the Mac sleeps"
          help={suspend ? 'Docker resumes when the Mac wakes. Otherwise the VM pauses with the Mac and its clock is corrected on wake.' : 'Needs “Suspend” above.'}
          checked={settings.suspendOnSleep}
          disabled={disabled || !suspend}
          onChange={(checked) => void save({ suspendOnSleep: checked })}
        />
      </div>
    </>
  );
}

/** Where tools written for Docker Desktop look for the socket; saved at once, applied while Docker runs. */
function SocketSettings({ settings, sockets, disabled, save }: { settings: Settings; sockets: SocketsStatus | undefined; disabled: boolean; save: (patch: Partial<Settings>) => Promise<boolean> }): React.JSX.Element {
  const link = sockets?.defaultSocket;
  const tc = sockets?.testcontainers;
  return (
    <>
      <h3 className="group-title">Docker socket</h3>
      <div className="group" data-testid="socket-settings">
        <SwitchRow
          label="Allow the default Docker socket to be used"
          help="While Docker runs, /var/run/docker.sock points at Berth, for tools that look only there. On a Mac this asks for an administrator password once per boot. A socket that belongs to another Docker is left alone."
          checked={settings.docker.defaultSocket}
          disabled={disabled}
          testId="default-socket"
          onChange={(checked) => void save({ docker: { ...settings.docker, defaultSocket: checked } })}
        />
        {link ? (
          <div className="row" role="status">
            <span className="row-note" data-testid="default-socket-note">
              {link.note}
            </span>
          </div>
        ) : null}
        {tc ? (
          <div className="row">
            <span className="row-note" data-testid="testcontainers-note">
              Testcontainers ({tc.file}): {tc.note}
            </span>
          </div>
        ) : null}
      </div>
    </>
  );
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
  // the switches save at once; they stay enabled (and focused) while a save is on its way, so the
  // keyboard keeps working (saves queue up); during a start, stop or restart they wait
  const switchesDisabled = pending !== null && pending !== 'settings';

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
          <SwitchRow
            label="Keep the VM running when Berth quits"
            help="Otherwise quitting Berth stops Docker gracefully."
            checked={settings.keepRunningOnQuit}
            disabled={switchesDisabled}
            onChange={(checked) => void save({ keepRunningOnQuit: checked })}
          />
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
      <StopSettings settings={settings} disabled={switchesDisabled} busy={pending === 'settings'} save={save} />
      <SocketSettings settings={settings} sockets={up ? status?.sockets : undefined} disabled={switchesDisabled} save={save} />
    </section>
  );
}
