#define _GNU_SOURCE
#include "link.h"
#include "frame.h"
#include "loop.h"
#include "out.h"
#include "port.h"
#include "session.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define RETRY_MS 100
#define SEARCH_MS 1000

static const char *sock_path;
static struct watch lw_link, lw_timer;
static int fd = -1;     /* the port or socket, open or not */
static int up;          /* fd is in the loop and the host is there */
static int searched;    /* virtio_console was loaded once already */
static int waited;      /* polls of a host-disconnected port since it went away */

static void arm(int ms) {
  struct itimerspec t = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000}};
  timerfd_settime(lw_timer.fd, 0, &t, NULL);
}

static void go_up(void) {
  up = 1;
  session_link_changed();
  /* The host may still hold a session with an agent that ran before this one (berth-guestd
     restarted; the host's socket to QEMU never closed): RESYNC makes it start a new session now
     instead of waiting on streams nobody here knows. A host that is just connecting ignores it
     (it reads nothing before the sync marker). */
  out_frame(T_RESYNC, 0, 0, NULL, 0);
  watch_init(&lw_link, fd, lw_link.cb, NULL);
  watch_want(&lw_link, EPOLLIN);
  fprintf(stderr, "berth-guestd: host connected, waiting for its sync marker\n");
}

static void go_down(const char *why) {
  if (up) fprintf(stderr, "berth-guestd: host gone (%s): streams reset\n", why);
  up = 0;
  watch_stop(&lw_link, 0);
  session_link_changed();
  /* The port stays open: it tells when the host is back. A socket is reconnected. */
  if (sock_path && fd >= 0) {
    close(fd);
    fd = -1;
  }
  arm(RETRY_MS);
}

static void lost_port(const char *why) {
  fprintf(stderr, "berth-guestd: port: %s\n", why);
  go_down(why);
  if (fd >= 0) close(fd);
  fd = -1;
  arm(SEARCH_MS);
}

static void try_connect(void) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return go_up();
  if (fd >= 0) close(fd);
  fd = -1;
  arm(RETRY_MS);
}

static void try_port(void) {
  if (fd < 0) {
    char dev[300];
    if (port_find(dev, sizeof dev, !searched) < 0) {
      if (!searched) fprintf(stderr, "berth-guestd: no virtio port named %s yet\n", PORT_NAME);
      searched = 1;
      return arm(SEARCH_MS);
    }
    searched = 1;
    fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      static int last_errno;
      if (errno != last_errno) fprintf(stderr, "berth-guestd: open %s: %s (retrying every second)\n", dev, strerror(errno));
      last_errno = errno;
      return arm(SEARCH_MS);
    }
    fprintf(stderr, "berth-guestd: opened %s\n", dev);
  }
  /* Host-disconnected, the port polls as POLLHUP and reads 0; epoll would report that without
   * end, so the port is polled on a timer until the host is back. */
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, 0) < 0 || (p.revents & POLLNVAL)) return lost_port("poll failed");
  if (p.revents & POLLHUP) {
    /* A host that stays away (the SSH transport) costs one wakeup a second, not ten. */
    return arm(++waited > 100 ? SEARCH_MS : RETRY_MS);
  }
  waited = 0;
  go_up();
}

static void timer_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  uint64_t n;
  if (read(w->fd, &n, sizeof n) < 0) {
  }
  if (up) return;
  if (sock_path) try_connect();
  else try_port();
}

static void link_cb(struct watch *w, uint32_t ev) {
  if (ev & EPOLLOUT) link_flush();
  if (!up) return;
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    struct buf *in = session_input();
    uint8_t *p = buf_reserve(in, FRAME_MAX);
    ssize_t n = read(w->fd, p, FRAME_MAX);
    if (n > 0) {
      in->len += (size_t)n;
      session_process();
    } else if (n == 0) {
      return go_down("end of file");
    } else if (errno == ENODEV || errno == EBADF) {
      if (!sock_path) return lost_port(strerror(errno));
      return go_down(strerror(errno));
    } else if (errno != EAGAIN && errno != EINTR) {
      return go_down(strerror(errno));
    } else if (ev & EPOLLHUP) {
      return go_down("hang-up");
    }
  }
}

void link_flush(void) {
  if (!up) return;
  if (out_flush(fd) < 0) {
    if (!sock_path && errno == ENODEV) return lost_port(strerror(errno));
    return go_down(strerror(errno));
  }
  watch_want(&lw_link, EPOLLIN | (out_pending() ? EPOLLOUT : 0));
}

int link_start(const char *connect_path) {
  sock_path = connect_path;
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t < 0) return -1;
  watch_init(&lw_timer, t, timer_cb, NULL);
  watch_want(&lw_timer, EPOLLIN);
  watch_init(&lw_link, -1, link_cb, NULL);
  arm(1); /* the first attempt runs from the loop */
  return 0;
}
