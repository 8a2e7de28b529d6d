// The shell scripts the engine runs in the guest (through the guest's exec). Only the guest module
// (guest.ts, commands.ts) uses them. Logic the guest runs at boot as well lives in the image
// instead (berth-boot, berth-mounts).

/**
 * The ports watcher: prints the listener tables whenever they change; a line on stdin forces a
 * re-scan now. One line: TCP listeners (state 0A), then UDP servers prefixed `u/` (unconnected
 * sockets, state 07, with no remote address: a connect()ed client socket has one). Bash builtins
 * only — no cat/awk/sort per tick: under TCG every fork costs milliseconds of emulated CPU, and a
 * forking 250 ms poll measured 40 % of a core on an idle VM.
 */
export const PORT_WATCH_SCRIPT = [
  'prev=""',
  'while :; do',
  '  cur=""',
  '  for f in /proc/net/tcp /proc/net/tcp6; do',
  '    while read -r _ a _ st _; do [ "$st" = 0A ] && cur+="$a "; done < "$f"',
  '  done',
  '  for f in /proc/net/udp /proc/net/udp6; do',
  '    while read -r _ a r st _; do [ "$st" = 07 ] && [[ $r =~ ^0+:0000$ ]] && cur+="u/$a "; done < "$f"',
  '  done',
  '  if [ "$cur" != "$prev" ]; then echo "L $cur"; prev=$cur; fi',
  '  read -r -t 0.25 _ || [ $? -gt 128 ] || exit 0',
  'done',
].join('\n');

/**
 * Sends every DNS query for QEMU's resolver (10.0.2.3:53, UDP and TCP) — the VM's own (nat
 * OUTPUT) and its containers' (nat PREROUTING; Docker's embedded DNS forwards from the container's
 * namespace) — to the engine's DNS server, which the VM reaches at 10.0.2.2:`port`. With no port,
 * the rules go and QEMU's resolver answers again. The rules live in their own chain, rewritten in
 * one iptables-restore (no moment without them), with one jump from each built-in chain, so
 * applying it again changes nothing else and Docker's own rules stay as they are. `iptables` is
 * the same binary (and nf_tables or legacy flavour) dockerd uses.
 */
export function dnsRedirectScript(port: number | null): string {
  if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`not a port: ${port}`);
  const rules = port === null ? '' : ['udp', 'tcp'].map((p) => `-A BERTH-DNS -d 10.0.2.3/32 -p ${p} --dport 53 -j DNAT --to-destination 10.0.2.2:${port}`).join('\n');
  return String.raw`
set -eu
command -v iptables-restore >/dev/null || { echo "iptables-restore is not in the VM" >&2; exit 1; }
iptables-restore --noflush <<'RULES'
*nat
:BERTH-DNS - [0:0]
-F BERTH-DNS
${rules}
COMMIT
RULES
for c in OUTPUT PREROUTING; do
  iptables -t nat -C "$c" -j BERTH-DNS 2>/dev/null || iptables -t nat -I "$c" 1 -j BERTH-DNS
done
iptables -t nat -S BERTH-DNS
`;
}
