// The instance's SSH material: a client key, a guest host key generated on the host (so the agent
// can pin it exactly, no trust-on-first-use), known_hosts, and an ssh_config for `berth shell`.
import fs from 'node:fs';
import { execa } from 'execa';
import { writeFileAtomic } from './atomic.js';
import { BerthFailure } from './errors.js';
import type { InstancePaths } from './instance.js';

export interface SshMaterial {
  clientKey: string;
  clientPub: string;
  hostKey: string;
  hostPub: string;
  hostAlias: string;
}

async function keygen(file: string, comment: string): Promise<void> {
  if (fs.existsSync(file) && fs.existsSync(file + '.pub')) return;
  fs.rmSync(file, { force: true });
  fs.rmSync(file + '.pub', { force: true });
  try {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  } catch (e) {
    throw new BerthFailure('E_SSH', `ssh-keygen failed: ${(e as Error).message}`, 'Install OpenSSH (ssh-keygen) on the host.');
  }
  fs.chmodSync(file, 0o600);
  // ssh-keygen writes the public half 0644; nothing needs to read it but us.
  fs.chmodSync(file + '.pub', 0o600);
}

export async function ensureSshMaterial(p: InstancePaths): Promise<SshMaterial> {
  await keygen(p.sshKey, `berth-${p.name}`);
  await keygen(p.sshHostKey, `berth-${p.name}-host`);
  const hostAlias = `berth-${p.name}`;
  const m: SshMaterial = {
    clientKey: fs.readFileSync(p.sshKey, 'utf8'),
    clientPub: fs.readFileSync(p.sshKey + '.pub', 'utf8').trim(),
    hostKey: fs.readFileSync(p.sshHostKey, 'utf8'),
    hostPub: fs.readFileSync(p.sshHostKey + '.pub', 'utf8').trim(),
    hostAlias,
  };
  const [type, blob] = m.hostPub.split(/\s+/);
  writeFileAtomic(p.sshKnownHosts, `${hostAlias} ${type} ${blob}\n`, 0o600);
  return m;
}

/** ssh_config so `ssh -F <dir>/ssh/config berth` reaches the guest (used by `berth shell` and the console). */
export function writeSshConfig(p: InstancePaths, m: SshMaterial, port: number): void {
  const q = (s: string) => `"${s}"`;
  writeFileAtomic(
    p.sshConfig,
    [
      'Host berth',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User root',
      `  IdentityFile ${q(p.sshKey)}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${q(p.sshKnownHosts)}`,
      '  StrictHostKeyChecking yes',
      `  HostKeyAlias ${m.hostAlias}`,
      '  LogLevel ERROR',
      '  ServerAliveInterval 15',
      '',
    ].join('\n'),
    0o600,
  );
}
