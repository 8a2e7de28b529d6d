// The shell scripts the engine runs in the guest (through the guest's exec). Only the guest module
// (guest.ts, commands.ts) uses them. The mount table berth-boot used is in /run/berth/mounts.tsv
// (tag, path, ro|rw, 9p options).

/**
 * QEMU refuses to save a VM while a 9p share is mounted (the guest holds state QEMU cannot
 * migrate), so every share is unmounted first. Fails, naming the path, if something in the VM
 * still uses one (a shell's working directory, an open file).
 */
export const UNMOUNT_SHARES = String.raw`
set -u
sync
rc=0
[ -r /run/berth/mounts.tsv ] || exit 0
while IFS="$(printf '\t')" read -r tag path mode opts; do
  [ -n "$tag" ] || continue
  mountpoint -q "$path" || continue
  if ! err=$(umount "$path" 2>&1); then
    echo "$err" >&2
    rc=1
  fi
done < /run/berth/mounts.tsv
exit $rc
`;

/** After a resume: the same mounts berth-boot made at boot, and the same status file. */
export const REMOUNT_SHARES = String.raw`
set -u
[ -r /run/berth/mounts.tsv ] || exit 0
: > /run/berth/mounts.status
while IFS="$(printf '\t')" read -r tag path mode opts; do
  [ -n "$tag" ] || continue
  o="trans=virtio,version=9p2000.L,$opts"
  [ "$mode" = ro ] && o="$o,ro"
  mkdir -p "$path"
  if mountpoint -q "$path" || mount -t 9p -o "$o" "$tag" "$path" 2>/run/berth/mount.err; then
    printf '%s\t%s\tok\t\n' "$tag" "$path" >> /run/berth/mounts.status
  else
    printf '%s\t%s\tfailed\t%s\n' "$tag" "$path" "$(tr '\n' ' ' < /run/berth/mount.err)" >> /run/berth/mounts.status
  fi
done < /run/berth/mounts.tsv
`;

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
