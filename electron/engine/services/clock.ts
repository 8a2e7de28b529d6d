// The guest's clock. A VM frozen by host sleep, a pause or a save wakes with its clock in the past:
// it is set from the host's at every wake, resume and SSH reconnect, and every 15 s a drift over
// 1 s is corrected (one tiny exec, no guest daemon).
import type { Service, ServiceContext } from './service.js';
import { isUp } from './service.js';
import { notSent } from '../guest/index.js';

const WATCH_MS = 15_000;
const MAX_SKEW_MS = 1000;

export class ClockService implements Service {
  readonly name = 'clock';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ctx: ServiceContext) {}

  async onReady(): Promise<void> {
    this.watch();
  }

  async afterResume(): Promise<void> {
    await this.sync('resumed');
  }

  onStop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private watch(): void {
    this.onStop();
    let busy = false;
    this.timer = setInterval(() => {
      const state = this.ctx.vmState();
      if (state === 'starting') return;
      if (!isUp(state)) return this.onStop();
      if (busy || !this.ctx.guestReachable()) return;
      busy = true;
      const t0 = Date.now();
      this.ctx.guest
        .readClock(5000)
        .then(async (guestMs) => {
          const skew = guestMs - (t0 + Date.now()) / 2;
          if (Number.isFinite(skew) && Math.abs(skew) > MAX_SKEW_MS) await this.sync(`drift ${Math.round(skew)} ms`);
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, WATCH_MS);
    this.timer.unref();
  }

  /**
   * The command reaches the guest some time after it is sent: estimate that from a round trip and
   * set the clock that much ahead, then measure the skew at the midpoint of a second trip.
   */
  async sync(why: string): Promise<void> {
    const { guest } = this.ctx;
    const t0 = Date.now();
    const probe = await guest.ping(10_000).catch(notSent);
    const oneWay = (Date.now() - t0) / 2;
    let ok = probe.code === 0;
    let skewMs: number | null = null;
    if (ok) {
      const set = await guest.setClock(Date.now() + oneWay, 10_000).catch(notSent);
      ok = set.code === 0;
      const t1 = Date.now();
      const guestMs = await guest.readClock(10_000).catch(() => NaN);
      if (Number.isFinite(guestMs)) skewMs = Math.round(guestMs - (t1 + Date.now()) / 2);
    }
    this.ctx.journal('clock-sync', { why, ok, skewMs, oneWayMs: Math.round(oneWay) });
  }
}
