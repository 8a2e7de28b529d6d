// The shell scripts the engine runs in the guest (through the guest's exec). Only the guest module
// (guest.ts, commands.ts) uses them. Logic the guest runs at boot as well lives in the image
// instead (berth-boot, berth-mounts).

/**
 * The ports watcher: prints the listener table whenever it changes; a line on stdin forces a
 * re-scan now. Bash builtins only — no cat/awk/sort per tick: under TCG every fork costs
 * milliseconds of emulated CPU, and a forking 250 ms poll measured 40 % of a core on an idle VM.
 */
export const PORT_WATCH_SCRIPT = [
  'prev=""',
  'while :; do',
  '  cur=""',
  '  for f in /proc/net/tcp /proc/net/tcp6; do',
  '    while read -r _ a _ st _; do [ "$st" = 0A ] && cur+="$a "; done < "$f"',
  '  done',
  '  if [ "$cur" != "$prev" ]; then echo "L $cur"; prev=$cur; fi',
  '  read -r -t 0.25 _ || [ $? -gt 128 ] || exit 0',
  'done',
].join('\n');
