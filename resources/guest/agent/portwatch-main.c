/* berth-portwatch: the listener watch (listeners.h) as a command, for the SSH transport, where the
 * engine runs it instead of the old bash loop over /proc. stdout: a line "L ... \n" at once and
 * again whenever the set changes; a line on stdin asks for a fresh one now; stdin's EOF (the
 * engine or the SSH session went away) ends it. Notes about fallbacks go to stderr. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listeners.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static int emit(char *line) {
  size_t n = strlen(line), off = 0;
  while (off < n) {
    ssize_t w = write(1, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(line);
  return off == n ? 0 : -1;
}

int main(void) {
  /* A signal must still run lw_close, or the trace instance and probes outlive us (the next
   * start removes them, but until then they fire). Blocked except inside ppoll: no lost wakeup. */
  sigset_t block, empty;
  sigemptyset(&block);
  sigemptyset(&empty);
  int sigs[] = {SIGTERM, SIGINT, SIGHUP};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(sigs[i], &sa, NULL);
    sigaddset(&block, sigs[i]);
  }
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_BLOCK, &block, NULL);

  char err[512];
  struct lw *lw = lw_open(err, sizeof err);
  if (!lw) {
    fprintf(stderr, "berth-portwatch: listener watch: %s\n", err[0] ? err : "out of memory");
    return 1;
  }
  fprintf(stderr, "berth-portwatch: listener watch: %s\n", err[0] ? err : "every change by trace events");

  int rc = 0;
  char *line;
  if (lw_poll(lw, &line, 1) && emit(line)) rc = 1;
  struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = lw_fd(lw), .events = POLLIN}};
  while (!stop && rc == 0) {
    if (ppoll(fds, 2, NULL, &empty) < 0) {
      if (errno == EINTR) continue;
      rc = 1;
      break;
    }
    int force = 0;
    if (fds[0].revents) {
      char buf[512];
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      force = memchr(buf, '\n', (size_t)r) != NULL;
    }
    if ((force || fds[1].revents) && lw_poll(lw, &line, force) && emit(line)) rc = 1;
  }
  lw_close(lw);
  return rc;
}
