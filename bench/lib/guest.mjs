// Commands inside the guest over the bench's own SSH connection (npm ssh2, the instance's pinned
// host key), and an in-guest client that times Docker API calls the same way the host side does.
import path from 'node:path';
import { ROOT } from './berth.mjs';

const { SshLink } = await import(path.join(ROOT, 'dist', 'electron', 'engine', 'agent', 'ssh-link.js'));

/**
 * Perl (perl-base is in every Debian guest; no Time::HiRes there, so CLOCK_MONOTONIC comes from
 * the clock_gettime syscall). Per request: connect to /var/run/docker.sock, send the same
 * `GET <path> HTTP/1.0` bytes as the host client, read to EOF. Or time a shell command.
 * Prints one duration in ms per line.
 */
const TIMER_PL = String.raw`
use strict; use warnings; use IO::Socket::UNIX; use Socket;
my ($nr, $mode, $n, $arg) = @ARGV;
sub mono { my $b = "\0" x 16; syscall($nr, 1, $b) == 0 or die "clock_gettime: $!\n"; my ($s, $ns) = unpack('q q', $b); return $s * 1000 + $ns / 1e6; }
my @out;
for (1 .. $n) {
  my $t0 = mono();
  if ($mode eq 'http') {
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => '/var/run/docker.sock') or die "connect: $!\n";
    syswrite($s, "GET $arg HTTP/1.0\r\nHost: docker\r\n\r\n");
    my $r = ''; my $b;
    while (sysread($s, $b, 65536)) { $r .= $b; }
    close $s;
    $r =~ m{^HTTP/1\.[01] 200} or die "bad reply: $r\n";
  } else {
    system($arg) == 0 or die "command failed: $arg\n";
  }
  push @out, sprintf('%.4f', mono() - $t0);
}
print join("\n", @out), "\n";
`;

export class Guest {
  constructor(inst, arch = 'x86_64') {
    const p = inst.sshParams();
    this.link = new SshLink(p.port, p.clientKey, p.hostPub);
    this.clockNr = arch === 'aarch64' ? 113 : 228; // clock_gettime
  }

  async connect() {
    await this.link.connectUntil(Date.now() + 60_000);
    return this;
  }

  async exec(cmd, { stdin, timeoutMs = 120_000 } = {}) {
    return this.link.exec(cmd, { ...(stdin !== undefined ? { stdin } : {}), timeoutMs });
  }

  async mustExec(cmd, opts) {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) throw new Error(`in the guest, \`${cmd.slice(0, 80)}\` failed (${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}`);
    return r.stdout;
  }

  /** n timed HTTP GETs of `reqPath` on the guest's docker.sock, made inside the guest. */
  async timeHttp(reqPath, n) {
    return this.timer('http', n, reqPath);
  }

  /** n timed runs of a shell command inside the guest. */
  async timeCommand(cmd, n) {
    return this.timer('cmd', n, cmd);
  }

  async timer(mode, n, arg) {
    const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
    const out = await this.mustExec(`perl - ${this.clockNr} ${mode} ${n} ${q(arg)}`, { stdin: TIMER_PL, timeoutMs: 300_000 });
    return out.trim().split('\n').map(Number);
  }

  /** A Duplex to the guest's docker.sock over this SSH connection (one new channel). */
  openDocker() {
    return this.link.openUnix('/var/run/docker.sock');
  }

  close() {
    this.link.close();
  }
}
