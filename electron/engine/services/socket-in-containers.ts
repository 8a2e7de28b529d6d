// `docker run -v <instance>/docker.sock:/var/run/docker.sock …` (what Testcontainers' reaper and
// docker-in-docker CI runners do with the socket path they were given) reaches the VM's dockerd:
// at every ready (a boot, an adopt, a resume) the guest binds its own socket at that path. The
// bind is undone with the shares before a save (guest.mountsDown) and made again here after it.
import type { Status } from '../../shared/status.js';
import type { Service, ServiceContext } from './service.js';

export class SocketInContainersService implements Service {
  readonly name = 'socket-in-containers';
  private info: NonNullable<NonNullable<Status['sockets']>['inContainers']> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  onStart(): void {
    this.info = undefined;
  }

  async onReady(): Promise<void> {
    const path = this.ctx.paths.docker;
    const r = await this.ctx.guest.bindDockerSocket(path, 15_000).catch((e: Error) => ({ ok: false, note: e.message }));
    this.info = r.ok ? { ok: true, path } : { ok: false, path, note: `-v ${path}:/var/run/docker.sock will not reach Docker: ${r.note ?? 'the VM did not say why'}` };
    if (!r.ok) this.ctx.journal('socket-bind-failed', { path, reason: r.note ?? '' });
    this.ctx.statusChanged();
  }

  onStop(): void {
    this.info = undefined;
  }

  status(st: Status): void {
    if (this.info) st.sockets = { ...st.sockets, inContainers: this.info };
  }
}
