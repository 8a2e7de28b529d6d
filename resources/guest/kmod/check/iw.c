// A minimal inotify watcher for guest-check.sh: one line per event (wd, mask, cookie, name).
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>
int main(int c, char **v) {
  int fd = inotify_init1(0);
  for (int i = 1; i < c; i++) if (inotify_add_watch(fd, v[i], IN_CREATE|IN_DELETE|IN_MODIFY|IN_CLOSE_WRITE|IN_MOVED_FROM|IN_MOVED_TO|IN_ATTRIB) < 0) { perror(v[i]); return 1; }
  setvbuf(stdout, 0, _IOLBF, 0);
  char buf[8192] __attribute__((aligned(8)));
  for (;;) { ssize_t n = read(fd, buf, sizeof buf); if (n <= 0) return 1;
    for (char *p = buf; p < buf + n; ) { struct inotify_event *e = (void *)p;
      printf("wd=%d mask=%x cookie=%u name=%s\n", e->wd, e->mask, e->cookie, e->len ? e->name : "");
      p += sizeof *e + e->len; } }
}
