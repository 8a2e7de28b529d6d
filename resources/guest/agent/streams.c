#define _GNU_SOURCE
#include "streams.h"
#include "frame.h"
#include "listeners.h"
#include "out.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBUCKETS 256
static struct stream *buckets[NBUCKETS];
static struct stream *all;       /* every live stream */
static struct stream *graveyard; /* ended this iteration, freed by streams_collect */

static struct stream *find(uint32_t id) {
  for (struct stream *s = buckets[id % NBUCKETS]; s; s = s->hnext)
    if (s->id == id) return s;
  return NULL;
}

static void open_fail(uint32_t id, const char *fmt, const char *what, int err) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, fmt, what, strerror(err));
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  out_frame(T_OPEN_FAIL, 0, id, msg, (size_t)n);
}

static void credit(struct stream *s, size_t n) {
  uint8_t p[4];
  put_be32(p, (uint32_t)n);
  out_frame(T_CREDIT, 0, s->id, p, 4);
}

void stream_free(struct stream *s) {
  if (s->dead) return;
  s->dead = 1;
  struct stream **pp = &buckets[s->id % NBUCKETS];
  while (*pp != s) pp = &(*pp)->hnext;
  *pp = s->hnext;
  if (s->prev) s->prev->next = s->next; else all = s->next;
  if (s->next) s->next->prev = s->prev;
  if (s->kind == 'x' && !s->finished) exec_kill(s);
  watch_stop(&s->io, s->kind != 'l');
  watch_stop(&s->out, 1);
  watch_stop(&s->err, 1);
  if (s->lw) lw_close(s->lw);
  buf_clear(&s->in);
  free(s->line);
  s->line = NULL;
  s->next = graveyard;
  graveyard = s;
}

/* The socket failed or closed under a stream the host still holds. */
static void stream_fail(struct stream *s) {
  out_frame(T_CLOSE, 0, s->id, NULL, 0);
  stream_free(s);
}

int stream_can_read(struct stream *s) { return !out_full() && s->win > 0 && !s->connecting; }

void stream_sync(struct stream *s) {
  if (s->dead) return;
  switch (s->kind) {
  case 'x': exec_sync(s); break;
  case 'd': watch_want(&s->io, out_full() ? 0 : EPOLLIN); break;
  case 'l': watch_want(&s->io, EPOLLIN); break;
  default: {
    uint32_t ev = 0;
    if (!s->guest_eof && stream_can_read(s)) ev |= EPOLLIN;
    if (s->connecting || (s->in.len && !s->wr_shut)) ev |= EPOLLOUT;
    watch_want(&s->io, ev);
  }
  }
}

static void maybe_finish(struct stream *s) {
  if (s->kind != 'u' && s->kind != 't') return;
  /* Both sides sent EOF and the host's last bytes are handed on: done, no CLOSE needed. */
  if (s->guest_eof && s->host_eof && s->wr_shut) stream_free(s);
}

void stream_flush_in(struct stream *s) {
  size_t done = 0;
  while (s->in.len && s->io.fd >= 0) {
    ssize_t n = write(s->io.fd, buf_head(&s->in), s->in.len);
    if (n > 0) {
      buf_consume(&s->in, (size_t)n);
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (s->kind != 'x') {
      stream_fail(s);
      return;
    }
    /* The process closed its stdin: what the host still sends for it is dropped (and credited,
     * so the host's side never waits on a reader that is gone). */
    done += s->in.len;
    buf_clear(&s->in);
    watch_stop(&s->io, 1);
  }
  if (done) credit(s, done);
  if (!s->in.len && s->host_eof && !s->wr_shut) {
    s->wr_shut = 1;
    if (s->kind == 'x') watch_stop(&s->io, 1);
    else shutdown(s->io.fd, SHUT_WR);
    maybe_finish(s);
  }
}

static void read_sock(struct stream *s) {
  size_t max = s->win < (int64_t)FRAME_MAX ? (size_t)s->win : FRAME_MAX;
  if (!max) return; /* a read of 0 bytes would look like EOF */
  uint8_t *p = out_data_begin(max);
  ssize_t n = read(s->io.fd, p, max);
  if (n > 0) {
    out_data_commit(0, s->id, (size_t)n);
    s->win -= n;
  } else if (n == 0) {
    s->guest_eof = 1;
    out_frame(T_EOF, 0, s->id, NULL, 0);
    maybe_finish(s);
  } else if (errno != EAGAIN && errno != EINTR) {
    stream_fail(s);
  }
}

static void finish_connect(struct stream *s) {
  int err = 0;
  socklen_t l = sizeof err;
  if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
  if (err == EINPROGRESS || err == EALREADY) return;
  if (err) {
    open_fail(s->id, "connect %s: %s", s->line ? s->line : "", err);
    s->finished = 1;
    stream_free(s);
    return;
  }
  free(s->line);
  s->line = NULL;
  s->connecting = 0;
  out_frame(T_OPEN_OK, 0, s->id, NULL, 0);
  stream_flush_in(s);
}

static void sock_cb(struct watch *w, uint32_t ev) {
  struct stream *s = w->owner;
  if (s->connecting) {
    finish_connect(s);
  } else {
    if (ev & EPOLLOUT) stream_flush_in(s);
    if (!s->dead && (w->want & EPOLLIN) && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) read_sock(s);
  }
  stream_sync(s);
}

static void udp_cb(struct watch *w, uint32_t ev) {
  struct stream *s = w->owner;
  (void)ev;
  uint8_t *p = out_data_begin(FRAME_MAX);
  ssize_t n = recv(w->fd, p, FRAME_MAX, MSG_DONTWAIT);
  /* Errors (ICMP port unreachable on a connected socket) are the datagram's, not the stream's. */
  if (n >= 0 && n <= s->win) {
    out_data_commit(0, s->id, (size_t)n);
    s->win -= n;
  }
  stream_sync(s);
}

static void send_line(struct stream *s) {
  if (!s->line) return;
  size_t len = strlen(s->line);
  if ((int64_t)len > s->win) return;
  for (size_t o = 0; o < len; o += FRAME_MAX) {
    size_t k = len - o < FRAME_MAX ? len - o : FRAME_MAX;
    out_frame(T_DATA, 0, s->id, s->line + o, k);
  }
  s->win -= (int64_t)len;
  free(s->line);
  s->line = NULL;
}

static void lw_update(struct stream *s, int force) {
  char *line = NULL;
  if (lw_poll(s->lw, &line, force) == 1 && line) {
    /* Only the newest set matters: an older line still waiting for window is replaced. */
    free(s->line);
    s->line = line;
  }
  send_line(s);
}

static void lw_cb(struct watch *w, uint32_t ev) {
  (void)ev;
  lw_update(w->owner, 0);
}

/* "<port> <address>", numeric only: the host names what it connects to. */
static int parse_addr(const char *text, struct sockaddr_storage *sa, socklen_t *len) {
  char *end;
  unsigned long port = strtoul(text, &end, 10);
  if (end == text || *end != ' ' || port == 0 || port > 65535) return -1;
  char host[INET6_ADDRSTRLEN + 2];
  snprintf(host, sizeof host, "%s", end + 1);
  char *h = host;
  size_t hl = strlen(h);
  if (hl > 1 && h[0] == '[' && h[hl - 1] == ']') {
    h[hl - 1] = 0;
    h++;
  }
  memset(sa, 0, sizeof *sa);
  struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
  if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
  }
  return -1;
}

static struct stream *stream_new(uint32_t id, char kind) {
  struct stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->id = id;
  s->kind = kind;
  s->win = STREAM_WINDOW;
  watch_init(&s->io, -1, sock_cb, s);
  watch_init(&s->out, -1, NULL, s);
  watch_init(&s->err, -1, NULL, s);
  s->hnext = buckets[id % NBUCKETS];
  buckets[id % NBUCKETS] = s;
  s->next = all;
  if (all) all->prev = s;
  all = s;
  return s;
}

/* Forgets a stream that never opened (its OPEN_FAIL is already queued). */
static void discard(struct stream *s) {
  s->finished = 1;
  stream_free(s);
}

static void open_unix(struct stream *s, const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) {
    open_fail(s->id, "connect %s: %s", path, ENAMETOOLONG);
    return discard(s);
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    open_fail(s->id, "socket %s: %s", path, errno);
    return discard(s);
  }
  /* A local connect is immediate unless the listener's backlog is full: bound that wait. */
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    open_fail(s->id, "connect %s: %s", path, e);
    return discard(s);
  }
  tv.tv_sec = 0;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  watch_init(&s->io, fd, sock_cb, s);
  out_frame(T_OPEN_OK, 0, s->id, NULL, 0);
}

static void open_inet(struct stream *s, const char *text, int udp) {
  struct sockaddr_storage sa;
  socklen_t sl;
  if (parse_addr(text, &sa, &sl) < 0) {
    open_fail(s->id, "connect %s: %s", text, EINVAL);
    return discard(s);
  }
  int fd = socket(sa.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    open_fail(s->id, "socket %s: %s", text, errno);
    return discard(s);
  }
  if (!udp) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (connect(fd, (struct sockaddr *)&sa, sl) < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    open_fail(s->id, "connect %s: %s", text, e);
    return discard(s);
  }
  if (udp) {
    watch_init(&s->io, fd, udp_cb, s);
    out_frame(T_OPEN_OK, 0, s->id, NULL, 0);
    return;
  }
  watch_init(&s->io, fd, sock_cb, s);
  s->connecting = 1;
  s->line = strdup(text); /* for the OPEN_FAIL reason if the connect fails later */
}

static void open_lw(struct stream *s) {
  char err[256] = "";
  s->lw = lw_open(err, sizeof err);
  if (err[0]) fprintf(stderr, "berth-guestd: listener watch: %s\n", err);
  if (!s->lw) {
    open_fail(s->id, "listener watch%s: %s", "", ENOMEM);
    return discard(s);
  }
  watch_init(&s->io, lw_fd(s->lw), lw_cb, s);
  out_frame(T_OPEN_OK, 0, s->id, NULL, 0);
  lw_update(s, 1);
}

void streams_open(uint32_t id, const uint8_t *p, uint32_t len) {
  if (!id || find(id)) {
    const char *why = id ? "stream id in use" : "stream id 0";
    out_frame(T_OPEN_FAIL, 0, id, why, strlen(why));
    return;
  }
  if (!len) {
    out_frame(T_OPEN_FAIL, 0, id, "empty OPEN", 10);
    return;
  }
  char *text = malloc(len);
  if (!text) return;
  memcpy(text, p + 1, len - 1);
  text[len - 1] = 0;
  char kind = (char)p[0];
  struct stream *s = kind && strchr("utdxl", kind) ? stream_new(id, kind) : NULL;
  if (!s) {
    char msg[32];
    int n = snprintf(msg, sizeof msg, "unknown OPEN kind 0x%02x", (unsigned char)kind);
    out_frame(T_OPEN_FAIL, 0, id, msg, (size_t)n);
  } else if (kind == 'u') {
    open_unix(s, text);
  } else if (kind == 't' || kind == 'd') {
    open_inet(s, text, kind == 'd');
  } else if (kind == 'x') {
    char err[300];
    if (exec_start(s, text, err, sizeof err) < 0) {
      out_frame(T_OPEN_FAIL, 0, id, err, strlen(err));
      discard(s);
    } else {
      out_frame(T_OPEN_OK, 0, id, NULL, 0);
    }
  } else {
    open_lw(s);
  }
  free(text);
  if (s) stream_sync(s);
}

void streams_data(uint32_t id, const uint8_t *p, uint32_t len) {
  struct stream *s = find(id);
  if (!s || s->host_eof) return;
  if (s->kind == 'd') {
    send(s->io.fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    credit(s, len);
  } else if (s->kind == 'l') {
    credit(s, len);
    lw_update(s, 1);
  } else if (s->kind == 'x' && s->io.fd < 0) {
    credit(s, len);
  } else if (s->in.len + len > STREAM_WINDOW) {
    fprintf(stderr, "berth-guestd: stream %u: the host overran its window\n", (unsigned)id);
    stream_fail(s);
    return;
  } else {
    buf_append(&s->in, p, len);
    if (!s->connecting) stream_flush_in(s);
  }
  stream_sync(s);
}

void streams_eof(uint32_t id) {
  struct stream *s = find(id);
  if (!s || s->host_eof) return;
  s->host_eof = 1;
  if ((s->kind == 'u' || s->kind == 't' || s->kind == 'x') && !s->connecting) stream_flush_in(s);
  stream_sync(s);
}

void streams_close(uint32_t id) {
  struct stream *s = find(id);
  if (s) stream_free(s);
}

void streams_credit(uint32_t id, uint32_t n) {
  struct stream *s = find(id);
  if (!s) return;
  s->win += n;
  if (s->kind == 'l') send_line(s);
  stream_sync(s);
}

void streams_reset(void) {
  while (all) stream_free(all);
}

void streams_reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    for (struct stream *s = all; s; s = s->next) {
      if (s->kind == 'x' && s->pid == pid) {
        s->exited = 1;
        s->status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
        exec_maybe_finish(s);
        break;
      }
    }
  }
}

void streams_sync_all(void) {
  for (struct stream *s = all; s; s = s->next) stream_sync(s);
}

void streams_collect(void) {
  while (graveyard) {
    struct stream *s = graveyard;
    graveyard = s->next;
    free(s);
  }
}
