// Human-readable renderings of the status for the terminal.
import type { DnsStatus, DockerTools, PortForward, ProxyStatus, SocketsStatus, Status } from '../shared/status.js';

/** A forward's port with its protocol: "8080/tcp", "5353/udp". */
export function portWithProtocol(port: number, protocol: PortForward['protocol']): string {
  return `${port}/${protocol}`;
}

/** `berth ports`: localhost, because each forward answers on 127.0.0.1 and on ::1. */
export function formatPorts(ports: PortForward[]): string {
  if (!ports.length) return 'no forwarded ports';
  const rows = ports.map(
    (p) =>
      `${`localhost:${portWithProtocol(p.hostPort, p.protocol)}`.padEnd(22)}→ ${`${p.guestAddress.includes(':') ? `[${p.guestAddress}]` : p.guestAddress}:${p.guestPort}`.padEnd(22)}${p.state}${p.reason ? ` (${p.reason})` : ''}${p.container ? `  ${p.container}` : ''}`,
  );
  return ['HOST'.padEnd(22) + '  GUEST'.padEnd(24) + 'STATE', ...rows].join('\n');
}

export function formatStatus(s: Status): string {
  const lines = [
    `instance:   ${s.instance}`,
    `state:      ${s.state}${s.restartNeeded ? ' (restart needed to apply settings)' : ''}`,
    `arch:       ${s.arch}, ${s.cpus} CPUs, ${s.memoryGiB} GiB memory, ${s.diskGiB} GiB disk`,
    `accel:      ${s.accel ? s.accel.toUpperCase() : '-'}${s.accelNote ? ` (${s.accelNote})` : ''}`,
    ...(s.accelMemo ?? []).map(
      (m) => `            ${m.accel.toUpperCase()} remembered as unusable with ${m.qemuVersion} (${m.reason}) until ${m.expires.slice(0, 10)}; \`berth start --retry-accel\` tries it again`,
    ),
    `docker:     ${s.state === 'running' || s.state === 'degraded' ? `DOCKER_HOST=${s.dockerHost}` : '-'}`,
    `emulation:  ${s.emulation.foreignArch} ${s.emulation.state}${s.emulation.selfTest ? ` (self-test ${s.emulation.selfTest.ok ? 'passed' : 'failed'})` : ''}`,
    `ports:      ${s.ports.length ? s.ports.map((p) => `${p.hostPort}${p.protocol === 'udp' ? '/udp' : ''}${p.state === 'failed' ? '!' : ''}`).join(', ') : '-'}`,
    `mounts:     ${s.mounts.length ? s.mounts.map((m) => `${m.guestPath}${m.writable ? '' : ' (ro)'}`).join(', ') : '-'}`,
  ];
  if (s.dockerTools && (s.state === 'running' || s.state === 'degraded')) lines.push(`engine:     ${formatDockerTools(s.dockerTools)}`);
  if (s.guestLink && (s.state === 'running' || s.state === 'degraded')) lines.push(`guest link: ${s.guestLink.transport === 'channel' ? 'virtio-serial channel' : `SSH${s.guestLink.note ? ` (${s.guestLink.note})` : ''}`}`);
  if (s.dns && (s.state === 'running' || s.state === 'degraded')) lines.push(`dns:        ${formatDns(s.dns)}`);
  if (s.sockets && (s.state === 'running' || s.state === 'degraded')) lines.push(...formatSockets(s.sockets));
  if (s.proxy) lines.push(`proxy:      ${formatProxy(s.proxy)}`, `CAs:        ${s.proxy.caCertificates ? `${s.proxy.caCertificates} extra (caCertificates)` : '-'}`);
  if (s.readyMs !== undefined) lines.push(`ready in:   ${(s.readyMs / 1000).toFixed(1)} s`);
  if (s.resume) lines.push(`last start: ${s.resume.resumed ? `resumed from a saved state (loaded in ${((s.resume.loadMs ?? 0) / 1000).toFixed(1)} s)` : `booted cold: ${s.resume.reason ?? ''}`}`);
  if (s.saved) lines.push(`saved:      ${Math.round(s.saved.bytes / 2 ** 20)} MB at ${s.saved.at}; \`berth start\` resumes it${s.saved.containersToRestart.length ? ` and starts ${s.saved.containersToRestart.join(', ')} again` : ''}`);
  if (s.lastStop?.note && s.state === 'stopped') lines.push(`last stop:  ${s.lastStop.note}`);
  if (s.pids.qemu) lines.push(`pids:       qemu ${s.pids.qemu}${s.pids.agent ? `, agent ${s.pids.agent}` : ''}${s.pids.supervisor ? `, supervisor ${s.pids.supervisor}` : ''}`);
  if (s.error) {
    lines.push(`error:      ${s.error.code}: ${s.error.message}`);
    if (s.error.step) lines.push(`  step:     ${s.error.step}`);
    if (s.error.hint) lines.push(`  hint:     ${s.error.hint}`);
  }
  lines.push(`serial log: ${s.serialLog}`);
  return lines.join('\n');
}

/** e.g. "HTTPS http://***@10.0.2.2:3128, not for host.docker.internal (berth.yaml; the host's loopback is 10.0.2.2 from the VM)" */
export function formatProxy(p: ProxyStatus): string {
  const parts = [p.http ? `HTTP ${p.http}` : '', p.https ? `HTTPS ${p.https}` : '', p.noProxy ? `not for ${p.noProxy}` : ''].filter(Boolean);
  if (!parts.length) return p.source === 'berth.yaml' ? 'none (berth.yaml)' : 'none';
  return `${parts.join(', ')} (${[p.source, p.note].filter(Boolean).join('; ')})`;
}

/** e.g. "Docker 26.1.5 (API 1.45); compose 2.26.1 (Berth's); buildx 0.20.0 (yours: /usr/libexec/…)" */
export function formatDockerTools(t: DockerTools): string {
  const plugin = (what: string, p: DockerTools['compose']) =>
    p ? `${what} ${p.version ?? '?'} (${p.source === 'berth' ? 'Berth’s' : `yours: ${p.path}`})` : `${what} -`;
  const engine = t.engine ? `Docker ${t.engine.replace(/\+.*$/, '')}${t.apiVersion ? ` (API ${t.apiVersion})` : ''}` : 'Docker ?';
  return [engine, plugin('compose', t.compose), plugin('buildx', t.buildx)].join('; ') + (t.note ? ` — ${t.note}` : '');
}

/** e.g. "the host's resolver (engine server on 127.0.0.1:53211)" or "QEMU's resolver: <why>" */
export function formatDns(d: DnsStatus): string {
  return d.via === 'host' ? `the host's resolver (engine server on 127.0.0.1:${d.port})` : `QEMU's resolver (reads the host's /etc/resolv.conf): ${d.reason ?? 'unknown'}`;
}

/** Where tools written for Docker Desktop find the socket: /var/run/docker.sock, Testcontainers, inside containers. */
export function formatSockets(k: SocketsStatus): string[] {
  const notes = [
    k.defaultSocket?.note,
    k.testcontainers ? `${k.testcontainers.file}: ${k.testcontainers.note}` : undefined,
    k.inContainers && !k.inContainers.ok ? k.inContainers.note : undefined,
  ].filter((n): n is string => !!n);
  return notes.map((n, i) => `${i === 0 ? 'sockets:' : ''}`.padEnd(12) + n);
}
