/* The one epoll loop: each fd the agent waits on is a watch with a callback. A watch that wants
 * nothing is taken out of epoll, so a hung-up fd nobody reads cannot spin the loop. */
#ifndef BERTH_LOOP_H
#define BERTH_LOOP_H
#include <stdint.h>
#include <sys/epoll.h>

struct watch;
typedef void (*watch_cb)(struct watch *w, uint32_t events);

struct watch {
  int fd;
  uint32_t want;   /* what the owner asked for */
  uint32_t in_epoll; /* what epoll has (0: not registered) */
  watch_cb cb;
  void *owner;
};

int loop_init(void);
void watch_init(struct watch *w, int fd, watch_cb cb, void *owner);
void watch_want(struct watch *w, uint32_t events);
/* Unregisters and, when close_fd, closes; the watch then has fd -1 and its callback never runs. */
void watch_stop(struct watch *w, int close_fd);
/* Waits up to timeout_ms and runs the callbacks of what is ready; returns -1 on a loop failure. */
int loop_run_once(int timeout_ms);
#endif
