// Thin adapter: keeps a status snapshot from backend events and rebuilds the tray menu from the
// pure trayTemplate() each time it changes.
import path from 'node:path';
import { Menu, Tray, nativeImage } from 'electron';
import type { Backend } from '../engine/backend.js';
import { isUpState } from '../shared/status.js';
import type { PortForward, Progress, Status } from '../shared/status.js';
import type { ContainerInfo } from '../shared/docker.js';
import { trayIconFile, trayIconState, trayTemplate, trayTooltip } from './tray-template.js';
import type { TrayAction, TrayActions } from './tray-template.js';

export class TrayController {
  private readonly tray: Tray;
  private status: Status | null = null;
  private ports: PortForward[] | undefined;
  private progress: Progress | null = null;
  private pending: TrayAction | null = null;
  private containers: ContainerInfo[] | undefined;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly backend: Backend,
    private readonly actions: TrayActions,
    private readonly iconDir: string,
  ) {
    this.tray = new Tray(this.icon());
    this.offs.push(
      backend.on('status', (s) => {
        const up = isUpState(s.state);
        // the Containers submenu: asked once when Docker comes up, then kept by `containers` events
        if (up && this.containers === undefined) void this.loadContainers();
        if (!up) this.containers = undefined;
        // a `ports` event is newer than a snapshot without ports; a VM that is not up has none
        if (!up || s.ports.length > 0) this.ports = undefined;
        this.status = s;
        if (s.state !== 'starting') this.progress = null;
        this.render();
      }),
      backend.on('ports', (p) => {
        this.ports = p;
        this.render();
      }),
      backend.on('containers', (c) => {
        this.containers = c;
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
      if (isUpState(r.value.state)) void this.loadContainers();
    }
  }

  private async loadContainers(): Promise<void> {
    this.containers = this.containers ?? [];
    const r = await this.backend.invoke('containers.list', {});
    if (r.ok && this.status && isUpState(this.status.state)) {
      this.containers = r.value;
      this.render();
    }
  }

  /** Runs an action; the menu shows it as pending until it answers (or a later action replaces it). */
  async run(action: TrayAction, fn: () => Promise<unknown>): Promise<void> {
    this.pending = action;
    this.render();
    try {
      await fn();
    } finally {
      if (this.pending === action) this.pending = null;
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
    const opts = { actions: this.actions, pending: this.pending, progress: this.progress, ...(this.ports ? { ports: this.ports } : {}), ...(this.containers ? { containers: this.containers } : {}) };
    this.tray.setContextMenu(Menu.buildFromTemplate(trayTemplate(this.status, opts)));
  }

  destroy(): void {
    this.offs.forEach((off) => off());
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }
}
