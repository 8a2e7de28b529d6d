// The user's own docker CLI: a `berth` context for this instance's socket (made current only when
// the current one is missing or broken), and the compose/buildx plugins beside it. Host-side only:
// it does not wait for the guest.
import type { Settings } from '../../shared/settings.js';
import type { Status } from '../../shared/status.js';
import { dockerContextName, ensureDockerContext } from '../docker-context.js';
import { setUpDockerTools } from '../docker-plugins.js';
import type { Service, ServiceContext } from './service.js';

export class DockerContextService implements Service {
  readonly name = 'docker-context';
  private tools: Awaited<ReturnType<typeof setUpDockerTools>> | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  async onReady(settings: Settings): Promise<void> {
    const { paths } = this.ctx;
    if (settings.docker.context) {
      const c = await ensureDockerContext(paths.docker, { name: dockerContextName(paths.name) }).catch((e: Error) => ({ created: false, switched: false, note: e.message }));
      this.ctx.journal('docker-context', { ...c });
    }
    // After the context: both rewrite the docker config, one at a time.
    this.tools = await setUpDockerTools({ berthHome: paths.home, instanceDir: paths.dir, dockerSocket: paths.docker, env: this.ctx.env, ...(this.ctx.resourcesPath ? { resourcesDir: this.ctx.resourcesPath } : {}) });
  }

  status(st: Status): void {
    if (this.tools) st.dockerTools = this.tools;
  }
}
