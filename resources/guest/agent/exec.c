/* OPEN kind x: /bin/sh -c <command line> as root in its own process group, stdin a pipe the
 * host's EOF closes, stdout and stderr as DATA (stderr flagged), then EXIT and CLOSE. */
#define _GNU_SOURCE
#include "frame.h"
#include "out.h"
#include "streams.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static void pipe_read(struct stream *s, struct watch *w, uint8_t flags) {
  size_t max = s->win < (int64_t)FRAME_MAX ? (size_t)s->win : FRAME_MAX;
  if (!max) return; /* a read of 0 bytes would look like EOF */
  uint8_t *p = out_data_begin(max);
  ssize_t n = read(w->fd, p, max);
  if (n > 0) {
    out_data_commit(flags, s->id, (size_t)n);
    s->win -= n;
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    watch_stop(w, 1);
    exec_maybe_finish(s);
  }
}

static void out_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  struct stream *s = w->owner;
  pipe_read(s, w, 0);
  stream_sync(s);
}

static void err_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  struct stream *s = w->owner;
  pipe_read(s, w, F_STDERR);
  stream_sync(s);
}

static void in_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  struct stream *s = w->owner;
  stream_flush_in(s);
  stream_sync(s);
}

void exec_sync(struct stream *s) {
  uint32_t r = stream_can_read(s) ? EPOLLIN : 0;
  watch_want(&s->out, r);
  watch_want(&s->err, r);
  watch_want(&s->io, s->in.len ? EPOLLOUT : 0);
}

void exec_kill(struct stream *s) {
  if (s->pid > 0) kill(-s->pid, SIGKILL);
}

void exec_maybe_finish(struct stream *s) {
  /* EXIT only after the last output: both pipes at EOF and the shell reaped. */
  if (s->dead || !s->exited || s->out.fd >= 0 || s->err.fd >= 0) return;
  uint8_t st[4];
  put_be32(st, (uint32_t)s->status);
  out_frame(T_EXIT, 0, s->id, st, 4);
  out_frame(T_CLOSE, 0, s->id, NULL, 0);
  s->finished = 1;
  stream_free(s);
}

int exec_start(struct stream *s, const char *cmd, char *err, size_t errlen) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    goto fail;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, er[1], 2);
  posix_spawnattr_init(&at);
  sigset_t none, def;
  sigemptyset(&none);
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
  int e = posix_spawn(&s->pid, "/bin/sh", &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e) {
    s->pid = 0;
    snprintf(err, errlen, "exec /bin/sh: %s", strerror(e));
    goto fail;
  }
  close(in[0]);
  close(out[1]);
  close(er[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(er[0], F_SETFL, O_NONBLOCK);
  watch_init(&s->io, in[1], in_cb, s);
  watch_init(&s->out, out[0], out_cb, s);
  watch_init(&s->err, er[0], err_cb, s);
  return 0;
fail:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
    if (er[i] >= 0) close(er[i]);
  }
  return -1;
}
