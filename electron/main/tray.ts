// Thin adapter: keeps a status snapshot from backend events and rebuilds the tray menu from the
// pure trayTemplate() each time it changes.
import path from 'node:path';
import { Menu, Tray, nativeImage } from 'electron';
import type { Backend } from '../engine/backend.js';
import type { PortForward, Progress, Status } from '../shared/status.js';
import { trayIconFile, trayIconState, trayTemplate, trayTooltip } from './tray-template.js';
import type { TrayActions } from './tray-template.js';

export class TrayController {
  private readonly tray: Tray;
  private status: Status | null = null;
  private ports: PortForward[] | undefined;
  private progress: Progress | null = null;
  private busy = false;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly backend: Backend,
    private readonly actions: TrayActions,
    private readonly iconDir: string,
  ) {
    this.tray = new Tray(this.icon());
    this.offs.push(
      backend.on('status', (s) => {
        this.status = s;
        this.ports = undefined;
        if (s.state !== 'starting') this.progress = null;
        this.render();
      }),
      backend.on('ports', (p) => {
        this.ports = p;
        this.render();
      }),
      backend.on('progress', (p) => {
        this.progress = p;
        this.render();
      }),
    );
    this.render();
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const r = await this.backend.invoke('vm.status', {});
    if (r.ok) {
      this.status = r.value;
      this.render();
    }
  }

  /** Runs an action with the menu's actions disabled until it answers. */
  async run(fn: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    this.render();
    try {
      await fn();
    } finally {
      this.busy = false;
      this.render();
    }
  }

  private icon(): Electron.NativeImage {
    const img = nativeImage.createFromPath(path.join(this.iconDir, trayIconFile(trayIconState(this.status))));
    img.setTemplateImage(true);
    return img;
  }

  render(): void {
    if (this.tray.isDestroyed()) return;
    this.tray.setImage(this.icon());
    this.tray.setToolTip(trayTooltip(this.status));
    const opts = { actions: this.actions, busy: this.busy, progress: this.progress, ...(this.ports ? { ports: this.ports } : {}) };
    this.tray.setContextMenu(Menu.buildFromTemplate(trayTemplate(this.status, opts)));
  }

  destroy(): void {
    this.offs.forEach((off) => off());
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }
}
