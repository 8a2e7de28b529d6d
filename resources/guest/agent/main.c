/* berth-guestd: the guest end of Berth's host channel (docs/guest-channel.md). It carries the
 * host agent's streams — the Docker socket, TCP and UDP to guest ports, commands, the listener
 * watch — over one virtio-serial port.
 *
 * Why C: the guest image has no language runtime to lean on, and this process runs for the VM's
 * whole life beside dockerd: plain C11 and Linux APIs (epoll, signalfd, timerfd, posix_spawn), no
 * third-party libraries, built static with -Os, stays under 1 MB RSS and is serving within
 * milliseconds of its start — it must be up as early in the boot as the host wants to talk.
 *
 * One epoll loop, one thread: nothing here blocks except a local unix connect (bounded). */
#define _GNU_SOURCE
#include "link.h"
#include "loop.h"
#include "out.h"
#include "session.h"
#include "streams.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static volatile int stopping;

static void signal_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  struct signalfd_siginfo si;
  while (read(w->fd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGCHLD) streams_reap();
    else stopping = 1;
  }
}

static void usage(FILE *f) {
  fputs("usage: berth-guestd [--connect <unix socket>] [--boot-id-file <path>]\n"
        "  Serves the host channel on the virtio port " "org.berth.guest.0" ";\n"
        "  --connect connects to a unix socket instead (tests), reconnecting when it drops.\n",
        f);
}

int main(int argc, char **argv) {
  const char *connect_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--connect") && i + 1 < argc) connect_path = argv[++i];
    else if (!strcmp(argv[i], "--boot-id-file") && i + 1 < argc) boot_id_file = argv[++i];
    else if (!strcmp(argv[i], "--version")) return puts("berth-guestd 1") < 0;
    else if (!strcmp(argv[i], "--help")) return usage(stdout), 0;
    else return usage(stderr), 2;
  }
  /* fds 0-2 must be taken: a pipe landing there would be dup2()ed onto itself for an exec and stay
   * close-on-exec, leaving the command without its stdin or stdout. */
  int nfd;
  while ((nfd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && nfd <= 2) fcntl(nfd, F_SETFD, 0);
  if (nfd > 2) close(nfd);
  setvbuf(stderr, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  /* Every stream holds a descriptor or three: take what the system allows. */
  struct rlimit rl;
  if (!getrlimit(RLIMIT_NOFILE, &rl)) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGCHLD);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  struct watch sig;
  int sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0 || loop_init() < 0 || link_start(connect_path) < 0) {
    perror("berth-guestd: setup");
    return 1;
  }
  watch_init(&sig, sfd, signal_cb, NULL);
  watch_want(&sig, EPOLLIN);
  int was_full = 0;
  while (!stopping) {
    if (loop_run_once(-1) < 0) {
      perror("berth-guestd: epoll_wait");
      return 1;
    }
    link_flush();
    /* Streams stop reading while the queue to the host is full and resume when it drained. A
     * stream that saw it full for a moment during this iteration stopped itself: wake it too. */
    int full = out_full();
    if (out_take_high() || full != was_full) streams_sync_all();
    was_full = full;
    streams_collect();
  }
  /* Stopped (systemd, a test): no exec may outlive the agent's streams. */
  streams_reset();
  streams_collect();
  out_reset();
  return 0;
}
