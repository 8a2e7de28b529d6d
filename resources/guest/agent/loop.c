#define _GNU_SOURCE
#include "loop.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int epfd = -1;

int loop_init(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  return epfd < 0 ? -1 : 0;
}

void watch_init(struct watch *w, int fd, watch_cb cb, void *owner) {
  w->fd = fd;
  w->want = 0;
  w->in_epoll = 0;
  w->cb = cb;
  w->owner = owner;
}

void watch_want(struct watch *w, uint32_t events) {
  w->want = events;
  if (w->fd < 0 || w->in_epoll == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = w};
  int op = !events ? EPOLL_CTL_DEL : w->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(epfd, op, w->fd, &ev) < 0)
    fprintf(stderr, "berth-guestd: epoll_ctl fd %d: %s\n", w->fd, strerror(errno));
  w->in_epoll = events;
}

void watch_stop(struct watch *w, int close_fd) {
  if (w->fd < 0) return;
  watch_want(w, 0);
  if (close_fd) close(w->fd);
  w->fd = -1;
}

int loop_run_once(int timeout_ms) {
  struct epoll_event evs[64];
  int n = epoll_wait(epfd, evs, 64, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -1;
  for (int i = 0; i < n; i++) {
    struct watch *w = evs[i].data.ptr;
    /* A callback earlier in this batch may have stopped this watch (its memory lives on until
     * the end of the iteration, see streams_collect). */
    if (w->fd >= 0 && w->want) w->cb(w, evs[i].events);
  }
  return 0;
}
