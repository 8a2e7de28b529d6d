// Proxies and extra CAs for the VM. They reach the guest in the boot seed (berth-boot hands them
// to dockerd, containerd and /etc/environment, and appends the CAs to the system bundle), so they
// take effect at a cold boot only; the status says what the running VM booted with, read back
// from that seed, which a resume or an adopt did not rewrite.
import type { Settings } from '../../shared/settings.js';
import type { ProxyStatus, Status } from '../../shared/status.js';
import { resolveCaCertificates } from '../ca-certificates.js';
import { currentHost } from '../config.js';
import { guestProxy, proxyStatusOf } from '../proxy.js';
import type { SeedInput } from '../seed.js';
import { readSeed } from '../seed.js';
import type { Service, ServiceContext } from './service.js';

type SeedPart = Required<Pick<SeedInput, 'proxy' | 'proxySource' | 'caCertificates'>>;

const SOURCES: ProxyStatus['source'][] = ['berth.yaml', 'environment', 'none'];

export class ProxyService implements Service {
  readonly name = 'proxy';
  private prepared: SeedPart | undefined;
  private inEffect: ProxyStatus | undefined;

  constructor(private readonly ctx: ServiceContext) {}

  /** Reads the CA files and the environment's proxies now: a bad one fails the start before anything runs. */
  onStart(settings: Settings): void {
    this.inEffect = undefined;
    this.prepared = undefined;
    const { seed, status } = guestProxy(settings, this.ctx.env);
    const cas = resolveCaCertificates(settings.caCertificates, currentHost().home);
    this.prepared = { proxy: seed, proxySource: status.source, caCertificates: cas.pem };
  }

  /** The seed's proxy and CA keys for a cold boot. */
  seed(settings: Settings): SeedPart {
    if (!this.prepared) this.onStart(settings);
    return this.prepared!;
  }

  async onReady(): Promise<void> {
    const seed = readSeed(this.ctx.paths.seed);
    if (!seed) return;
    const source = SOURCES.find((s) => s === seed.PROXY_SOURCE) ?? 'none';
    const st = proxyStatusOf({ http: seed.HTTP_PROXY ?? '', https: seed.HTTPS_PROXY ?? '', noProxy: seed.NO_PROXY ?? '' }, source);
    this.inEffect = { ...st, caCertificates: (seed.CA_CERTS ?? '').match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0 };
    this.ctx.statusChanged();
  }

  onStop(): void {
    this.inEffect = undefined;
  }

  status(st: Status): void {
    if (this.inEffect) st.proxy = { ...this.inEffect };
  }
}
