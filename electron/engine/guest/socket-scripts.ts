// The VM's own Docker socket at the host-side socket path, for containers started with
// `-v <instance>/docker.sock:/var/run/docker.sock` (Testcontainers' reaper, docker-in-docker CI
// runners: they compute that path from DOCKER_HOST on the host). Inside the VM that path is either
// the 9p view of the host's socket (the instance folder is under a shared folder), which no
// connect() can pass, or missing. Only the guest module uses these.

/** Where the bound path is remembered, for the unbind before a save. */
const RECORD = '/run/berth/docker-sock.bind';

/**
 * `$1`: the host-side socket path. Idempotent: a bind that is already the live socket stays; one
 * left over from an earlier dockerd (another inode) is replaced. A missing path is made in the
 * VM's own filesystem, never inside a shared folder (that would create files on the host).
 * Exit 3: the path is missing inside a shared folder.
 */
export const BIND_DOCKER_SOCKET = String.raw`
set -eu
p=$1
sock=/run/docker.sock
[ -S "$sock" ] || { echo "the VM has no $sock" >&2; exit 1; }
id() { stat -L -c %d:%i "$1" 2>/dev/null || true; }
if mountpoint -q "$p" 2>/dev/null; then
  [ "$(id "$p")" = "$(id "$sock")" ] && { printf '%s\n' "$p" > ${RECORD}; echo bound; exit 0; }
  umount "$p"
fi
if [ ! -e "$p" ] && [ ! -L "$p" ]; then
  a=$(dirname "$p")
  while [ ! -d "$a" ]; do a=$(dirname "$a"); done
  # by the mount table and by the filesystem magic (0x01021997): stat's type names vary
  case "$(findmnt -n -o FSTYPE -T "$a" 2>/dev/null || true):$(stat -f -c %t "$a" 2>/dev/null || true)" in
    9p:*|*:1021997) echo "$p is missing inside a shared folder ($a): nothing is created on the host" >&2; exit 3 ;;
  esac
  mkdir -p "$(dirname "$p")"
  touch "$p"
fi
mount --bind "$sock" "$p"
printf '%s\n' "$p" > ${RECORD}
echo bound
`;

/** Before the shares are unmounted for a save: a bind inside a share would keep it busy. */
export const UNBIND_DOCKER_SOCKET = String.raw`
[ -r ${RECORD} ] || exit 0
p=$(cat ${RECORD})
while mountpoint -q "$p" 2>/dev/null; do umount "$p" || exit 1; done
rm -f ${RECORD}
`;
