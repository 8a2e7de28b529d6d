#!/bin/sh
# The by-hand check of docs/mount-events.md ("Verified in a VM"): run inside the guest,
# from a share S holding this script, the module (berth_fsnotify.ko), iw (check/iw.c, static)
# and bb/bin/iw (+ bb/bin/busybox, else the guest's own is copied: a container image of the two): berth shell -- sh $S/guest-check.sh
S=${S:-/tmp/fsn/share}
cd /
ev() { sleep 1; echo "--- $1:"; cat /tmp/ev.log; : > /tmp/ev.log; }
dev() { printf '%s' "$1" > /dev/berth-fsnotify && echo "write ok: $1" || echo "write FAILED: $1"; }
mount | grep 9p
$S/iw $S/sub >> /tmp/ev.log 2>&1 &
W=$!
sleep 1
sh -c "echo g1 > $S/sub/guest1.txt"
ev "0. guest-local write, no module"
insmod $S/berth_fsnotify.ko; dmesg | tail -3; ls -l /dev/berth-fsnotify
dev "W $S"
sh -c "echo g2 > $S/sub/guest2.txt"
ev "1. guest-local write, module relay"
dev "100 0 $S/sub/guest2.txt"
ev "2. host echo of guest2 (expect write FAILED EEXIST, no event)"
dev "100 0 $S/sub/host1.txt"
ev "3. host create host1"
dev "2 0 $S/sub/host1.txt"
dev "8 0 $S/sub/host1.txt"
ev "4. host modify+close_write host1"
dev "40 7 $S/sub/host1.txt"
dev "80 7 $S/sub/host2.txt"
ev "5. host move host1->host2"
dev "200 0 $S/sub/host2.txt"
ev "6. host delete host2"
dev "40000100 0 $S/sub/newdir"
ev "7. host mkdir newdir"
dev "100 0 /tmp/x.txt"
dev "100 0 $S/nosuchdir/x.txt"
kill $W
# a container bind-mounting the share
[ -x $S/bb/bin/busybox ] || cp /bin/busybox $S/bb/bin/busybox
if [ -x $S/bb/bin/busybox ]; then
  tar -C $S/bb -c . | docker import - fsn/bb:1 >/dev/null
  docker run -d --name fsnw -v $S:/src fsn/bb:1 /bin/iw /src/sub >/dev/null
  sleep 3
  dev "100 0 $S/sub/host3.txt"
  dev "200 0 $S/sub/host3.txt"
  sh -c "echo g3 > $S/sub/guest3.txt"
  docker run --rm -v $S:/src fsn/bb:1 /bin/busybox sh -c 'echo g4 > /src/sub/guest4.txt'
  sleep 2
  echo "--- 8. container watcher (host3 create+delete, guest3 guest-local, guest4 from another container):"
  docker logs fsnw
  docker rm -f fsnw >/dev/null
fi
rmmod berth_fsnotify && echo "rmmod ok"
dmesg | tail -5
