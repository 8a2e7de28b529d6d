import { useEffect, useRef } from 'react';
import { Terminal } from '@xterm/xterm';
import type { ITheme } from '@xterm/xterm';
import type { Sink } from '../store/console.js';

const THEME: ITheme = {
  background: '#1e1e1e',
  foreground: '#e6e6e6',
  cursor: '#e6e6e6',
  selectionBackground: 'rgba(10, 132, 255, 0.45)',
  black: '#1e1e1e',
  red: '#ff6961',
  green: '#32d74b',
  yellow: '#ffd60a',
  blue: '#0a84ff',
  magenta: '#bf5af2',
  cyan: '#64d2ff',
  white: '#e6e6e6',
  brightBlack: '#8e8e93',
};

interface CellDims {
  width: number;
  height: number;
}

/**
 * Fits the terminal to its container (what @xterm/addon-fit does — the lint policy allows only
 * @xterm/xterm in the renderer): cell size from xterm's render service, else measured.
 */
export function proposeSize(term: Terminal, container: HTMLElement): { cols: number; rows: number } | null {
  const core = (term as unknown as { _core?: { _renderService?: { dimensions?: { css?: { cell?: CellDims } } } } })._core;
  let cell = core?._renderService?.dimensions?.css?.cell;
  if (!cell || !cell.width || !cell.height) {
    const fontSize = term.options.fontSize ?? 13;
    cell = { width: fontSize * 0.6, height: Math.ceil(fontSize * (term.options.lineHeight ?? 1) * 1.2) };
  }
  const rect = container.getBoundingClientRect();
  if (!rect.width || !rect.height) return null;
  const scrollbar = 14;
  return { cols: Math.max(2, Math.floor((rect.width - scrollbar) / cell.width)), rows: Math.max(1, Math.floor(rect.height / cell.height)) };
}

export interface XTermProps {
  label: string;
  /** receives this terminal's writer; called with null on unmount */
  attach: (sink: Sink | null) => void;
  onInput?: (data: string) => void;
  onResize?: (cols: number, rows: number) => void;
  visible: boolean;
  readOnly?: boolean;
  testId: string;
}

export function XTerm({ label, attach, onInput, onResize, visible, readOnly, testId }: XTermProps): React.JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const cb = useRef({ onInput, onResize });
  cb.current = { onInput, onResize };

  useEffect(() => {
    const el = box.current!;
    const term = new Terminal({
      fontFamily: "ui-monospace, 'SF Mono', Menlo, 'DejaVu Sans Mono', monospace",
      fontSize: 12,
      lineHeight: 1.15,
      cursorBlink: !readOnly,
      disableStdin: readOnly === true,
      scrollback: 5000,
      convertEol: false,
      macOptionIsMeta: true,
      theme: THEME,
    });
    term.open(el);
    termRef.current = term;
    const textarea = el.querySelector('textarea');
    textarea?.setAttribute('aria-label', label);
    const sub = term.onData((d) => cb.current.onInput?.(d));
    attach((data) => term.write(data));

    const fit = (): void => {
      const size = proposeSize(term, el);
      if (!size) return;
      if (size.cols !== term.cols || size.rows !== term.rows) term.resize(size.cols, size.rows);
      cb.current.onResize?.(term.cols, term.rows);
    };
    const ro = typeof ResizeObserver !== 'undefined' ? new ResizeObserver(() => fit()) : null;
    ro?.observe(el);
    fit();
    return () => {
      ro?.disconnect();
      attach(null);
      sub.dispose();
      term.dispose();
      termRef.current = null;
    };
  }, [attach, label, readOnly]);

  useEffect(() => {
    if (visible) termRef.current?.focus();
  }, [visible]);

  return <div ref={box} className="xterm-box" data-testid={testId} />;
}
