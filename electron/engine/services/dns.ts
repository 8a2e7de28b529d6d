// Names resolved the way the host resolves them. The engine runs a DNS server on the host's
// loopback (dns/server.ts) and the guest sends QEMU's resolver address there, for itself and its
// containers. Applied at every ready and resume: the server's port is new whenever the engine is.
// If the server cannot start, or the guest cannot redirect, QEMU's own resolver stays in use and
// the status says why.
import type { DnsStatus, Status } from '../../shared/status.js';
import { startDnsServer } from '../dns/server.js';
import type { DnsServer } from '../dns/server.js';
import { notSent } from '../guest/index.js';
import type { Service, ServiceContext } from './service.js';

const GUEST_TIMEOUT_MS = 30_000;

export class DnsService implements Service {
  readonly name = 'dns';
  private server: DnsServer | null = null;
  private slice: DnsStatus | undefined;
  /** applied since this start (a resume applies before onReady) */
  private applied = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly start: () => Promise<DnsServer> = () => startDnsServer(),
  ) {}

  onStart(): void {
    this.applied = false;
    this.slice = undefined;
  }

  async afterResume(): Promise<void> {
    await this.apply();
  }

  async onReady(): Promise<void> {
    if (!this.applied) await this.apply();
  }

  onStop(): void {
    void this.server?.close();
    this.server = null;
    this.applied = false;
    this.slice = undefined;
  }

  status(st: Status): void {
    if (this.slice) st.dns = this.slice;
  }

  private async apply(): Promise<void> {
    this.applied = true;
    let reason: string | undefined;
    if (!this.server) {
      this.server = await this.start().catch((e: Error) => {
        reason = `the engine's DNS server did not start (${e.message})`;
        return null;
      });
    }
    const port = this.server?.port ?? null;
    const r = await this.ctx.guest.dnsRedirect(port, GUEST_TIMEOUT_MS).catch(notSent);
    if (port !== null && r.code !== 0) {
      reason = `the VM could not redirect its DNS queries (${(r.stderr.trim() || `exit ${r.code}`).split('\n').pop()})`;
      void this.server?.close();
      this.server = null;
    }
    this.slice = reason === undefined && port !== null ? { via: 'host', port } : { via: 'qemu', reason: reason ?? 'unknown' };
    this.ctx.journal('dns', this.slice);
    this.ctx.statusChanged();
  }
}
