// The agent's SSH link pins the guest host key the host generated: a server with any other key is
// refused before authentication (a real ssh2 server on loopback plays the impostor).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshLink } from '../../../electron/engine/agent/ssh-link.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pin-'));
function keygen(name: string): { key: string; pub: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, name)]);
  return { key: fs.readFileSync(path.join(dir, name), 'utf8'), pub: fs.readFileSync(path.join(dir, name + '.pub'), 'utf8') };
}
const pinned = keygen('pinned');
const impostor = keygen('impostor');
const client = keygen('client');
let server: InstanceType<typeof ssh2.Server>;
let port = 0;
let authAttempts = 0;

beforeAll(async () => {
  server = new ssh2.Server({ hostKeys: [impostor.key] }, (c) => {
    c.on('authentication', (ctx) => {
      authAttempts++;
      ctx.accept();
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

describe('SSH host key pinning', () => {
  it('refuses a guest whose host key is not the pinned one, without retrying or authenticating', async () => {
    const link = new SshLink(port, client.key, pinned.pub);
    await expect(link.connectUntil(Date.now() + 3000)).rejects.toThrow(/does not match the pinned key: refusing to connect/);
    expect(authAttempts).toBe(0);
    link.close();
  });
  it('accepts the pinned key', async () => {
    const ok = new ssh2.Server({ hostKeys: [pinned.key] }, (c) => {
      c.on('authentication', (ctx) => ctx.accept());
      c.on('ready', () => undefined);
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', () => r()));
    const link = new SshLink((ok.address() as { port: number }).port, client.key, pinned.pub);
    await expect(link.connect()).resolves.toBeTruthy();
    link.close();
    ok.close();
  });
});
