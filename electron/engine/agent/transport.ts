// Which transport carries this start's traffic to the guest. The guest channel (docs/guest-channel.md)
// when berth.yaml asks for it (the default) and it answers; SSH otherwise, with the reason, so
// `berth status` can say why. Both are tried at once: the guest starts berth-guestd before sshd,
// so on a current image the channel answers first; an image without berth-guestd (or a VM that
// QEMU started without the port) shows up as SSH answering while the channel stays silent.
import fs from 'node:fs';
import { ChannelLink } from '../channel/index.js';
import type { AgentInit } from './protocol.js';
import type { GuestLink } from './link.js';
import { SshLink } from './ssh-link.js';

/** How long the channel may lag behind SSH before SSH carries the start. */
export const CHANNEL_GRACE_MS = 5000;

export interface ChosenLink {
  link: GuestLink;
  /** why SSH was chosen when the channel was asked for */
  note?: string;
}

/** A PING this often; this many unanswered in a row and the connection is dropped and made again. */
export const KEEPALIVE_MS = 15_000;
export const KEEPALIVE_MISSES = 2;

/**
 * A guest that stops answering (berth-guestd hung, its port stuck) must not leave the agent
 * waiting on streams forever: the session's liveness is checked by PING, and a connection that
 * misses KEEPALIVE_MISSES in a row is dropped ('down', then the agent's usual reconnect).
 */
export function keepAlive(link: ChannelLink, log: (line: string) => void, everyMs = KEEPALIVE_MS, misses = KEEPALIVE_MISSES): () => void {
  let missed = 0;
  let inFlight = false;
  const timer = setInterval(() => {
    if (!link.isUp || inFlight) return;
    inFlight = true;
    link.ping(everyMs).then(
      () => {
        missed = 0;
        inFlight = false;
      },
      (e: Error) => {
        inFlight = false;
        if (!link.isUp) return;
        if (++missed < misses) return;
        missed = 0;
        log(`guest link: no answer to ${misses} pings (${e.message}); connecting again`);
        link.drop(`the guest channel stopped answering (${misses} pings of ${everyMs / 1000} s)`);
      },
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

const sleep = (ms: number) => new Promise<false>((r) => setTimeout(() => r(false), ms));

export async function connectGuest(init: AgentInit, deadline: number, log: (line: string) => void): Promise<ChosenLink> {
  const ssh = new SshLink(init.sshPort, init.clientKey, init.hostKeyPub);
  if (init.transport === 'ssh') {
    await ssh.connectUntil(deadline);
    return { link: ssh };
  }
  if (!fs.existsSync(init.channelSocket)) {
    await ssh.connectUntil(deadline);
    return { link: ssh, note: 'this VM was started without the guest channel (no guest.sock); a restart adds it' };
  }
  const raw = new ChannelLink(init.channelSocket);
  const channel: GuestLink = Object.assign(raw, { kind: 'channel' as const });
  let channelError = '';
  let sshError: Error | undefined;
  const viaChannel = channel.connectUntil(deadline, (e) => (channelError = e.message)).then(
    () => true,
    (e: Error) => ((channelError = e.message), false),
  );
  const viaSsh = ssh.connectUntil(deadline).then(
    () => true,
    (e: Error) => ((sshError = e), false),
  );
  const first = await Promise.race([viaChannel.then((ok) => (ok ? 'channel' : 'channel failed')), viaSsh.then((ok) => (ok ? 'ssh' : 'ssh failed'))]);
  const useChannel = (): ChosenLink => {
    ssh.close();
    keepAlive(raw, log);
    return { link: channel };
  };
  const useSsh = (why: string): ChosenLink => {
    channel.close();
    log(`guest link: SSH carries this start: ${why}`);
    return { link: ssh, note: why };
  };
  if (first === 'channel') return useChannel();
  if (first === 'ssh') {
    if (await Promise.race([viaChannel, sleep(CHANNEL_GRACE_MS)])) return useChannel();
    return useSsh(`the guest channel did not answer within ${CHANNEL_GRACE_MS / 1000} s of SSH (${channelError || 'no HELLO from berth-guestd'})`);
  }
  if (first === 'channel failed') {
    if (await viaSsh) return useSsh(`the guest channel failed: ${channelError}`);
    throw sshError ?? new Error(channelError);
  }
  // SSH failed (its deadline, or a host key that is not the pinned one): the channel may still come.
  if (await viaChannel) return useChannel();
  channel.close();
  throw sshError ?? new Error(channelError);
}
