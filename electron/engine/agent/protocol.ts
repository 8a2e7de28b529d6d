// Messages between the supervisor and its host agent (a separate Node process; IPC channel).
import type { GuestLinkStatus, PortForward, StepName } from '../../shared/status.js';

export interface AgentInit {
  type: 'init';
  sshPort: number;
  clientKey: string;
  /** "ssh-ed25519 AAAA…" — the pinned guest host key */
  hostKeyPub: string;
  bootId: string;
  dockerSocket: string;
  /** give up on the ladder after this long */
  deadlineMs: number;
  /** port-forwarding rules from berth.yaml */
  ports: { ignore: number[]; map: Record<string, number> };
  /** true when attaching to a VM that was already up (adopt / agent restart): skip nothing, but no step events */
  quiet?: boolean;
  /** the transport berth.yaml asks for; `channel` falls back to SSH when the channel does not come up */
  transport: 'channel' | 'ssh';
  /** the channel's host end (QEMU's chardev socket) */
  channelSocket: string;
}

/**
 * UDP forwards ride QEMU's own user-mode forwarding, which only the supervisor can set up (it holds
 * the QEMU monitor): the agent asks for a rule per guest port and gets the internal host port QEMU
 * listens on (127.0.0.1), then relays the user-visible port to it. A rule is removed by that port.
 */
export type HostfwdRequest = { op: 'add'; protocol: 'udp'; guestPort: number } | { op: 'remove'; protocol: 'udp'; hostPort: number };

export type ToAgent =
  | AgentInit
  | { type: 'exec'; id: number; cmd: string; stdin?: string; timeoutMs: number }
  | { type: 'ports-config'; ports: { ignore: number[]; map: Record<string, number> } }
  /** the answer to a FromAgent 'hostfwd': the rule's internal host port for an add, or why it failed */
  | { type: 'hostfwd-result'; id: number; hostPort?: number; error?: string }
  | { type: 'shutdown' };

export type FromAgent =
  | { type: 'step'; name: StepName; state: 'running' | 'done' | 'failed'; detail?: string; hint?: string }
  | { type: 'ready' }
  /** the guest link (whichever transport) went down or came back */
  | { type: 'ssh'; up: boolean; reason?: string }
  /** which transport the agent chose for this start, and why not the channel when it was asked for */
  | ({ type: 'link' } & GuestLinkStatus)
  | { type: 'exec-result'; id: number; code: number | null; stdout: string; stderr: string; error?: string }
  | { type: 'ports'; ports: PortForward[] }
  | { type: 'hostfwd'; id: number; req: HostfwdRequest }
  | { type: 'log'; line: string };
