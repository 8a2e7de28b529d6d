// The host end of the Docker socket: a unix-socket server (0600) whose every connection is
// carried to the guest's /var/run/docker.sock over the guest link. Half-close is preserved both ways, so
// `docker run -i` (stdin EOF), `attach`, `logs -f` and HTTP upgrades behave as on a local daemon.
import fs from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { GuestLink } from './link.js';

export const GUEST_DOCKER_SOCK = '/var/run/docker.sock';

/**
 * Join two byte streams. EOF travels as EOF (pipe() ends the other side only after flushing what
 * is buffered), so a half-closed upload still delivers every byte. Only an error tears both down:
 * destroying one side when the other closes would drop data still queued in the SSH channel's
 * flow-control window (measured: a 100 MB upload lost its tail that way).
 */
export function splice(a: net.Socket, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('close', () => {
    if (!b.writableEnded) b.end();
  });
  b.on('close', () => {
    if (!a.writableEnded) a.end();
  });
}

export async function dockerPing(link: Pick<GuestLink, 'openUnix'>, timeoutMs = 3000): Promise<boolean> {
  const s = await link.openUnix(GUEST_DOCKER_SOCK);
  return new Promise<boolean>((resolve) => {
    let buf = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(t);
      resolve(/^HTTP\/1\.[01] 200/.test(buf) && buf.endsWith('OK'));
    });
    s.on('error', () => undefined);
    s.end('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
  });
}

export function serveDockerSocket(path: string, link: Pick<GuestLink, 'openUnix'>, log: (l: string) => void): Promise<net.Server> {
  fs.rmSync(path, { force: true });
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.pause();
    link.openUnix(GUEST_DOCKER_SOCK).then(
      (ch) => {
        splice(sock, ch);
        sock.resume();
      },
      (e: Error) => {
        log(`docker.sock: cannot reach the guest's dockerd: ${e.message}`);
        sock.destroy();
      },
    );
  });
  return new Promise<net.Server>((resolve, reject) => {
    server.once('error', reject);
    // Create the socket with mode 0600 from the start (no window where others could connect).
    const old = process.umask(0o177);
    server.listen(path, () => {
      process.umask(old);
      fs.chmodSync(path, 0o600);
      resolve(server);
    });
  });
}
