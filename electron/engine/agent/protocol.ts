// Messages between the supervisor and its host agent (a separate Node process; IPC channel).
import type { PortForward, StepName } from '../../shared/status.js';

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
}

export type ToAgent =
  | AgentInit
  | { type: 'exec'; id: number; cmd: string; stdin?: string; timeoutMs: number }
  | { type: 'ports-config'; ports: { ignore: number[]; map: Record<string, number> } }
  | { type: 'shutdown' };

export type FromAgent =
  | { type: 'step'; name: StepName; state: 'running' | 'done' | 'failed'; detail?: string; hint?: string }
  | { type: 'ready' }
  | { type: 'ssh'; up: boolean; reason?: string }
  | { type: 'exec-result'; id: number; code: number | null; stdout: string; stderr: string; error?: string }
  | { type: 'ports'; ports: PortForward[] }
  | { type: 'log'; line: string };
