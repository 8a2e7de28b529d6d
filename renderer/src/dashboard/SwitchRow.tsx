import { useId } from 'react';

/** One labelled on/off setting, as macOS draws it: the label and its help left, the switch right. */
export function SwitchRow(props: {
  label: React.ReactNode;
  help: React.ReactNode;
  checked: boolean;
  disabled: boolean;
  onChange: (checked: boolean) => void;
  testId?: string;
  busy?: boolean;
}): React.JSX.Element {
  const id = useId();
  return (
    <div className="row">
      <label className="row-label" htmlFor={id}>
        {props.label}
        <span className="row-help" id={`${id}-help`}>
          {props.help}
        </span>
      </label>
      <span className="row-value">
        <input
          id={id}
          type="checkbox"
          role="switch"
          className="switch"
          aria-describedby={`${id}-help`}
          {...(props.testId ? { 'data-testid': props.testId } : {})}
          {...(props.busy !== undefined ? { 'aria-busy': props.busy } : {})}
          checked={props.checked}
          disabled={props.disabled}
          onChange={(e) => props.onChange(e.target.checked)}
        />
      </span>
    </div>
  );
}
