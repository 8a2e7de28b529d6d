// The host folders shared with the guest (virtio-9p), mounted there at the same absolute path.
// berth-boot mounts them before dockerd starts; this service reads back how that went, mounts them
// again after a resume (a save needs them unmounted), and unmounts them for a save.
import type { MountInfo, Status } from '../../shared/status.js';
import { notSent } from '../guest/index.js';
import type { Service, ServiceContext } from './service.js';

export class MountsService implements Service {
  readonly name = 'mounts';
  private list: MountInfo[] = [];

  constructor(private readonly ctx: ServiceContext) {}

  /** The shares this VM was started with, none mounted yet. */
  expect(mounts: { location: string; guestPath: string; writable: boolean }[]): void {
    this.list = mounts.map((m) => ({ location: m.location, guestPath: m.guestPath, writable: m.writable, state: 'pending' }));
  }

  /** The VM stopped: the same shares wait for the next start. */
  markPending(): void {
    this.list = this.list.map((m) => ({ ...m, state: 'pending' }));
  }

  /** The guest paths mounted now. */
  mounted(): string[] {
    return this.list.filter((m) => m.state === 'mounted').map((m) => m.guestPath);
  }

  async onReady(): Promise<void> {
    const lines = await this.ctx.guest.mountsStatus(10_000).catch(() => null);
    if (!lines) return;
    this.list = this.list.map((m) => {
      const line = lines.find((l) => l.path === m.guestPath);
      if (!line) return { ...m, state: 'failed', reason: 'not mounted by the guest' };
      return line.ok ? { ...m, state: 'mounted' } : { ...m, state: 'failed', reason: line.reason ?? 'mount failed' };
    });
    this.ctx.emit('mounts', this.list);
  }

  async afterResume(): Promise<void> {
    if (!this.list.length) return;
    const r = await this.ctx.guest.mountsUp(30_000).catch(notSent);
    if (r.code !== 0) this.ctx.journal('remount-failed', { stderr: r.stderr.trim() });
  }

  /** QEMU cannot save with a 9p share mounted: every share unmounted, or the reason one is still in use. */
  async beforeSuspend(): Promise<string | null> {
    if (!this.mounted().length) return null;
    const u = await this.ctx.guest.mountsDown(30_000).catch(notSent);
    return u.code === 0 ? null : `a shared folder is still in use inside the VM (${u.stderr.trim().split('\n')[0]})`;
  }

  status(st: Status): void {
    st.mounts = this.list;
  }
}
