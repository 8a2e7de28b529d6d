import { useBerth } from '../store/berth.js';
import { isUp } from '../shared/format.js';
import { SwitchRow } from './SwitchRow.js';
import type { EmulationStatus } from '../../../electron/shared/status.js';

const STATE_TEXT: Record<EmulationStatus['state'], string> = {
  enabled: 'On',
  disabled: 'Off',
  failed: 'Failed',
  unknown: 'Applied when Docker starts',
};

export function Emulation(): React.JSX.Element {
  const emu = useBerth((s) => s.status?.emulation ?? null);
  const up = useBerth((s) => isUp(s.status));
  const state = useBerth((s) => s.status?.state ?? null);
  const pending = useBerth((s) => s.pending);
  const setEmulation = useBerth((s) => s.setEmulation);
  const check = useBerth((s) => s.checkEmulation);
  const foreign = emu?.foreignArch === 'aarch64' ? 'ARM64 (arm64/aarch64)' : 'x86-64 (amd64)';
  const busy = pending === 'emulation';
  const test = emu?.selfTest;

  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Emulation</h2>
      <p className="pane-intro">Runs {foreign} images and binaries through QEMU user-mode emulation (binfmt_misc). Turned on and off live; no restart.</p>
      <div className="group">
        <SwitchRow
          label={<>Run {foreign} images</>}
          help="Slower than native images, but most tools just work."
          testId="emulation-switch"
          checked={emu?.enabled ?? false}
          disabled={!emu || pending !== null || state === 'starting' || state === 'stopping'}
          busy={busy}
          onChange={(checked) => void setEmulation(checked)}
        />
        <div className="row">
          <span className="row-label">State</span>
          <span className="row-value" data-testid="emulation-state">
            {busy ? 'Applying…' : emu ? STATE_TEXT[emu.state] : '—'}
            {emu?.reason ? <span className="row-note">{emu.reason}</span> : null}
          </span>
        </div>
      </div>

      <h3 className="group-title">Self-test</h3>
      <div className="group" data-testid="selftest">
        {test ? (
          <>
            <div className="row">
              <span className="row-label">Result</span>
              <span className="row-value">
                <span className={`tag ${test.ok ? 'tag-ok' : 'tag-failed'}`}>{test.ok ? 'Passed' : 'Failed'}</span>
                <span className="muted"> at {new Date(test.at).toLocaleTimeString()}</span>
              </span>
            </div>
            <div className="row">
              <span className="row-label">Interpreter</span>
              <span className="row-value">
                <code className="selectable">{test.interpreter}</code>
              </span>
            </div>
            <div className="row">
              <span className="row-label">Output</span>
              <span className="row-value">
                <code className="selectable output" data-testid="selftest-output">
                  {test.output || '(no output)'}
                </code>
              </span>
            </div>
          </>
        ) : (
          <div className="row">
            <span className="muted">{up ? 'No self-test has run yet.' : 'The self-test runs a foreign binary right after emulation is turned on.'}</span>
          </div>
        )}
      </div>
      <div className="form-actions">
        <button type="button" className="btn" onClick={() => void check()} disabled={!up || pending !== null}>
          Check again
        </button>
      </div>
    </section>
  );
}
