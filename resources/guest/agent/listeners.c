/* The listener watch (listeners.h). The set is what /proc/net/{tcp,tcp6,udp,udp6} show; the kernel
 * tells us when to look again:
 *   - TCP: the sock/inet_sock_set_state tracepoint, filtered in the kernel to transitions into or
 *     out of TCP_LISTEN, so ordinary connections never wake us;
 *   - UDP: kretprobes on the functions that give a UDP socket its port, unhash it, connect it and
 *     disconnect it (a connect()ed socket leaves the list, a disconnected one comes back).
 * Both are enabled in a private trace instance whose trace_pipe we poll, so nothing else that uses
 * tracing sees or disturbs them. An event only says "look again": the tracepoint fires before the
 * listener is hashed, so the rescan waits QUICK_NS and is confirmed CONFIRM_NS later (a vCPU can
 * be descheduled between the two). Whatever no event covers is polled every FALLBACK_NS. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "listeners.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#define TRACEFS "/sys/kernel/tracing"
#define TRACEFS_MAGIC_NR 0x74726163
#define INSTANCE_PREFIX "berth-lw"
#define KGROUP "berth_lw"

#define MS 1000000LL
#define QUICK_NS (2 * MS)
#define CONFIRM_NS (50 * MS)
#define FALLBACK_NS (1000 * MS)
/* Under TCG: no trace events at all (see under_tcg), and a scan this often instead. */
#define TCG_POLL_NS (250 * MS)
/* With every change covered by events this only bounds the damage of an event the kernel lost
 * (a kretprobe over its maxactive); it costs one wakeup per 30 s. */
#define SAFETY_NS (30000 * MS)

enum { MAX_PROBES = 8 };

struct lw {
  int epfd, tfd, pipefd;
  char inst[128]; /* instance directory, "" when none */
  int nprobes;
  char probes[MAX_PROBES][64]; /* "berth_lw/<name>" created in kprobe_events */
  long long quick, confirm, periodic; /* CLOCK_MONOTONIC deadlines in ns, 0 = none */
  long long period;
  char *prev; /* the last returned set, canonical (sorted); NULL before the first */
};

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void say(char *buf, size_t len, const char *fmt, ...) {
  if (!len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

/* 0 or an errno. O_APPEND matters for kprobe_events: opening it with O_TRUNC drops every probe. */
static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t n = strlen(text);
  ssize_t w = write(fd, text, n);
  int e = w < 0 ? errno : (size_t)w != n ? EIO : 0;
  close(fd);
  return e;
}

static int write_at(const char *dir, const char *rel, const char *text) {
  char path[512];
  if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) return ENAMETOOLONG;
  return write_file(path, text);
}

/* The whole file, NUL-terminated, or NULL (missing, unreadable, out of memory). */
static char *read_all(const char *path, size_t *lenp) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (cap - len < 4096) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(buf);
      buf = NULL;
      break;
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  if (buf) {
    buf[len] = 0;
    if (lenp) *lenp = len;
  }
  return buf;
}

/* ---- the set ---------------------------------------------------------------------------- */

struct strv {
  char **v;
  size_t n, cap;
};

static int strv_push(struct strv *s, const char *a, size_t alen, const char *prefix) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    char **nv = realloc(s->v, cap * sizeof *nv);
    if (!nv) return -1;
    s->v = nv;
    s->cap = cap;
  }
  size_t plen = strlen(prefix);
  char *t = malloc(plen + alen + 1);
  if (!t) return -1;
  memcpy(t, prefix, plen);
  memcpy(t + plen, a, alen);
  t[plen + alen] = 0;
  s->v[s->n++] = t;
  return 0;
}

static void strv_free(struct strv *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
}

/* The same test as the shell script's [[ $r =~ ^0+:0000$ ]]. */
static int unconnected_remote(const char *r, size_t len) {
  size_t z = 0;
  while (z < len && r[z] == '0') z++;
  return z > 0 && len - z == 5 && memcmp(r + z, ":0000", 5) == 0;
}

/* Like `while read -r _ a r st _`: fields split on blanks; TCP keeps state 0A, UDP state 07 with
 * no remote end. Addresses are kept as /proc prints them. */
static int scan_file(const char *path, int udp, struct strv *out) {
  char *text = read_all(path, NULL);
  if (!text) return errno == ENOMEM ? -1 : 0; /* no tcp6 without IPv6: nothing listed, as the script */
  int rc = 0;
  for (char *line = text; *line && rc == 0;) {
    char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    const char *f[4];
    size_t fl[4];
    int nf = 0;
    for (char *p = line; p < end && nf < 4;) {
      while (p < end && (*p == ' ' || *p == '\t')) p++;
      if (p == end) break;
      char *s = p;
      while (p < end && *p != ' ' && *p != '\t') p++;
      f[nf] = s;
      fl[nf] = (size_t)(p - s);
      nf++;
    }
    if (nf == 4) {
      if (!udp && fl[3] == 2 && memcmp(f[3], "0A", 2) == 0)
        rc = strv_push(out, f[1], fl[1], "");
      else if (udp && fl[3] == 2 && memcmp(f[3], "07", 2) == 0 && unconnected_remote(f[2], fl[2]))
        rc = strv_push(out, f[1], fl[1], "u/");
    }
    line = *end ? end + 1 : end;
  }
  free(text);
  return rc;
}

/* The same rows from sock_diag, formatted as /proc prints them (the address words as native
 * integers, the port in host order). Reading /proc/net/tcp walks the whole established hash, twice
 * (the EOF read walks it again): ~12 ms of CPU per rescan on a 24 GB host, ~1.5 ms in a 4 GB
 * guest. A dump of listeners only walks the listening hash. 1 = not available (inet_diag,
 * tcp_diag or udp_diag modules missing), then the caller reads /proc. */
static int diag_scan(int family, int udp, struct strv *out) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return 1;
  struct {
    struct nlmsghdr nh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.r.sdiag_family = (unsigned char)family;
  req.r.sdiag_protocol = udp ? IPPROTO_UDP : IPPROTO_TCP;
  req.r.idiag_states = udp ? 1u << 7 : 1u << 10; /* TCP_CLOSE (an unconnected UDP socket), TCP_LISTEN */
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return 1;
  }
  static long buf[8192]; /* 64 KB, aligned for nlmsghdr */
  size_t start = out->n;
  int rc = 1, done = 0;
  while (!done) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) { /* the table changed under the dump: ask /proc */
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        int *err = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *err) || *err == 0) rc = 0;
        done = 1;
        break;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      const struct inet_diag_sockid *id = &m->id;
      if (udp && (id->idiag_dport || id->idiag_dst[0] || id->idiag_dst[1] || id->idiag_dst[2] || id->idiag_dst[3])) continue;
      char a[48];
      int len = m->idiag_family == AF_INET6
                    ? snprintf(a, sizeof a, "%08X%08X%08X%08X:%04X", id->idiag_src[0], id->idiag_src[1], id->idiag_src[2], id->idiag_src[3], ntohs(id->idiag_sport))
                    : snprintf(a, sizeof a, "%08X:%04X", id->idiag_src[0], ntohs(id->idiag_sport));
      if (strv_push(out, a, (size_t)len, udp ? "u/" : "")) {
        rc = -1;
        done = 1;
        break;
      }
    }
  }
  close(fd);
  if (rc != 0)
    while (out->n > start) free(out->v[--out->n]);
  return rc;
}

static char *join(char **v, size_t n, const char *head, const char *tail) {
  size_t len = strlen(head) + strlen(tail) + 1;
  for (size_t i = 0; i < n; i++) len += strlen(v[i]) + 1;
  char *s = malloc(len), *p = s;
  if (!s) return NULL;
  p = stpcpy(p, head);
  for (size_t i = 0; i < n; i++) {
    p = stpcpy(p, v[i]);
    *p++ = ' ';
  }
  strcpy(p, tail);
  return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The line in /proc's order ("L a b \n", the script's `echo "L $cur"` with cur="a b "), and the set
 * sorted, so that a reordering of /proc's hash chains is not a change. */
static int rescan(char **line, char **key) {
  static const struct {
    const char *path;
    int family, udp;
  } files[] = {{"/proc/net/tcp", AF_INET, 0}, {"/proc/net/tcp6", AF_INET6, 0}, {"/proc/net/udp", AF_INET, 1}, {"/proc/net/udp6", AF_INET6, 1}};
  struct strv s = {0};
  int rc = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0] && rc == 0; i++) {
    rc = getenv("BERTH_LW_PROC") ? 1 : diag_scan(files[i].family, files[i].udp, &s);
    if (rc == 1) rc = scan_file(files[i].path, files[i].udp, &s);
  }
  *line = *key = NULL;
  if (rc == 0) *line = join(s.v, s.n, "L ", "\n");
  if (rc == 0 && *line) {
    qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *key = join(s.v, s.n, "", "");
  }
  strv_free(&s);
  if (!*line || !*key) {
    free(*line);
    free(*key);
    *line = *key = NULL;
    return -1;
  }
  return 0;
}

/* ---- tracing ---------------------------------------------------------------------------- */

static int pid_alive(long pid) { return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM); }

/* "berth-lw-<pid>-<seq>" or "<x>_<pid>_<seq>" → pid; 0 when it carries none (a stale
 * instance from a version without one). */
static long owner_pid(const char *name, char sep) {
  const char *last = strrchr(name, sep);
  if (!last || last == name) return 0;
  const char *p = last - 1;
  while (p > name && *p >= '0' && *p <= '9') p--;
  if (*p != sep) return 0;
  return strtol(p + 1, NULL, 10);
}

static void remove_instance(const char *dir) {
  write_at(dir, "events/enable", "0");
  rmdir(dir);
}

/* A previous run killed before lw_close left its instance and probes; they would keep firing. */
static void remove_stale(void) {
  DIR *d = opendir(TRACEFS "/instances");
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strncmp(e->d_name, INSTANCE_PREFIX, strlen(INSTANCE_PREFIX)) != 0) continue;
      if (pid_alive(owner_pid(e->d_name, '-'))) continue;
      char dir[512];
      snprintf(dir, sizeof dir, TRACEFS "/instances/%s", e->d_name);
      remove_instance(dir);
    }
    closedir(d);
  }
  char *list = read_all(TRACEFS "/kprobe_events", NULL);
  if (!list) return;
  for (char *line = list; *line;) {
    char *end = strchr(line, '\n');
    if (end) *end = 0;
    char *name = strstr(line, ":" KGROUP "/");
    if (name) {
      name++;
      char *sp = strchr(name, ' ');
      if (sp) *sp = 0;
      if (!pid_alive(owner_pid(name, '_'))) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "-:%s", name);
        write_file(TRACEFS "/kprobe_events", cmd);
      }
    }
    if (!end) break;
    line = end + 1;
  }
  free(list);
}

static int ensure_tracefs(char *why, size_t len) {
  struct statfs sf;
  if (statfs(TRACEFS, &sf) == 0 && (unsigned long)sf.f_type == TRACEFS_MAGIC_NR) return 0;
  if (mount("nodev", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
    say(why, len, "mount tracefs on " TRACEFS ": %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* UDP: the function called when a socket gets its port (bind, or an implicit bind on the first
 * send), when it leaves the hash (close), and connect/disconnect, which move it out of and back
 * into the list. Return probes, so the rescan finds the work done. Later names are alternatives
 * for kernels that spell the function differently. */
static const struct probe {
  const char *name;
  const char *funcs[3];
  int optional; /* IPv6 may be a module not loaded */
} udp_probes[] = {
    {"getport", {"udp_lib_get_port", NULL}, 0},
    {"unhash", {"udp_lib_unhash", NULL}, 0},
    {"conn4", {"__ip4_datagram_connect", "ip4_datagram_connect", NULL}, 0},
    {"conn6", {"__ip6_datagram_connect", "ip6_datagram_connect", NULL}, 1},
    {"disconn", {"udp_disconnect", "__udp_disconnect", NULL}, 0},
};

static void remove_probes(struct lw *lw) {
  for (int i = 0; i < lw->nprobes; i++) {
    char cmd[96];
    snprintf(cmd, sizeof cmd, "-:%s", lw->probes[i]);
    write_file(TRACEFS "/kprobe_events", cmd);
  }
  lw->nprobes = 0;
}

static int add_udp_probes(struct lw *lw, unsigned seq, char *why, size_t len) {
  if (access(TRACEFS "/kprobe_events", F_OK) != 0) {
    say(why, len, "no " TRACEFS "/kprobe_events (kernel without CONFIG_KPROBE_EVENTS)");
    return -1;
  }
  for (size_t i = 0; i < sizeof udp_probes / sizeof udp_probes[0]; i++) {
    const struct probe *p = &udp_probes[i];
    char name[64];
    snprintf(name, sizeof name, KGROUP "/%s_%ld_%u", p->name, (long)getpid(), seq);
    int e = ENOENT;
    for (int f = 0; p->funcs[f] && e; f++) {
      char cmd[160];
      snprintf(cmd, sizeof cmd, "r:%s %s", name, p->funcs[f]);
      e = write_file(TRACEFS "/kprobe_events", cmd);
    }
    if (e) {
      if (p->optional) continue;
      say(why, len, "kretprobe on %s: %s", p->funcs[0], strerror(e));
      return -1;
    }
    snprintf(lw->probes[lw->nprobes++], sizeof lw->probes[0], "%s", name);
    char rel[128];
    snprintf(rel, sizeof rel, "events/%s/enable", name);
    if ((e = write_at(lw->inst, rel, "1"))) {
      say(why, len, "enable %s: %s", name, strerror(e));
      return -1;
    }
  }
  return 0;
}

enum { COVER_TCP = 1, COVER_UDP = 2, UDP_BIND = 4 };

static int start_tracing(struct lw *lw, char *why, size_t len) {
  static unsigned next_seq;
  unsigned seq = __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
  if (ensure_tracefs(why, len)) return 0;
  remove_stale();
  snprintf(lw->inst, sizeof lw->inst, TRACEFS "/instances/" INSTANCE_PREFIX "-%ld-%u", (long)getpid(), seq);
  int rc = mkdir(lw->inst, 0700);
  if (rc != 0 && errno == EEXIST) {
    /* left by a dead process that had our pid */
    remove_instance(lw->inst);
    rc = mkdir(lw->inst, 0700);
  }
  if (rc != 0) {
    say(why, len, "create trace instance %s: %s", lw->inst, strerror(errno));
    lw->inst[0] = 0;
    return 0;
  }
  /* An event must wake the reader at once: buffer_percent 0, so that no kernel version waits for
   * the buffer to fill (6.18's trace_pipe wakes at the first event even at the default 50). The
   * events are only wakeups, so a small buffer is plenty. */
  write_at(lw->inst, "buffer_percent", "0");
  write_at(lw->inst, "buffer_size_kb", "16");

  int cover = 0;
  char tcpwhy[160] = "", udpwhy[160] = "";
  int e = write_at(lw->inst, "events/sock/inet_sock_set_state/filter", "newstate == 10 || oldstate == 10");
  if (!e) e = write_at(lw->inst, "events/sock/inet_sock_set_state/enable", "1");
  if (e) say(tcpwhy, sizeof tcpwhy, "sock/inet_sock_set_state: %s", strerror(e));
  else cover |= COVER_TCP;

  if (add_udp_probes(lw, seq, udpwhy, sizeof udpwhy) == 0) {
    cover |= COVER_UDP;
  } else {
    write_at(lw->inst, "events/" KGROUP "/enable", "0");
    remove_probes(lw);
    /* New UDP sockets still arrive as events: a bind() of an IPv4 or IPv6 address (the length
     * of sockaddr_in, sockaddr_in6 or sockaddr_storage; not unix or netlink sockets, which bind
     * far more often). An implicit bind, on a first send, is left to the timer. */
    if (!write_at(lw->inst, "events/syscalls/sys_enter_bind/filter", "addrlen == 16 || addrlen == 28 || addrlen == 128") &&
        !write_at(lw->inst, "events/syscalls/sys_enter_bind/enable", "1"))
      cover |= UDP_BIND;
  }

  if (cover) {
    char pipe[256];
    snprintf(pipe, sizeof pipe, "%s/trace_pipe", lw->inst);
    lw->pipefd = open(pipe, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (lw->pipefd < 0) {
      say(tcpwhy, sizeof tcpwhy, "open %s: %s", pipe, strerror(errno));
      cover = 0;
    }
  }
  if (!cover) {
    remove_instance(lw->inst);
    remove_probes(lw);
    lw->inst[0] = 0;
    say(why, len, "%s%s%s", tcpwhy, *tcpwhy && *udpwhy ? "; " : "", udpwhy);
    return 0;
  }
  if (!(cover & COVER_TCP) && (cover & COVER_UDP))
    say(why, len, "TCP listeners polled every 1 s (%s); UDP sockets by kretprobes", tcpwhy);
  else if (!(cover & COVER_TCP))
    say(why, len, "TCP listeners polled every 1 s (%s); UDP sockets too (%s)", tcpwhy, udpwhy);
  else if (!(cover & COVER_UDP))
    say(why, len, "TCP listeners by the inet_sock_set_state tracepoint; UDP sockets polled every 1 s%s (%s)",
        cover & UDP_BIND ? ", new ones also at once on bind()" : "", udpwhy);
  return cover;
}

/* ---- the API ---------------------------------------------------------------------------- */

static void arm(struct lw *lw) {
  long long due = lw->periodic;
  if (lw->quick && lw->quick < due) due = lw->quick;
  if (lw->confirm && lw->confirm < due) due = lw->confirm;
  struct itimerspec it = {{0, 0}, {due / 1000000000LL, due % 1000000000LL}};
  timerfd_settime(lw->tfd, TFD_TIMER_ABSTIME, &it, NULL);
}

/*
 * Enabling or removing trace events and kprobes patches kernel text (int3, then the new bytes).
 * Under QEMU's multi-threaded TCG another vCPU can still run a stale translation holding the int3
 * after the patch is done: seen here as "Oops: int3" in ttwu_do_activate and a guest panic when
 * the watch was closed. On KVM and HVF the CPU runs the guest's code natively and the patching
 * protocol holds. The host says which accelerator it launched (berth.accel= on the kernel command
 * line); under TCG the tables are read by sock_diag every 250 ms (about 0.05 ms each).
 */
static int under_tcg(void) {
  char buf[4096];
  const char *path = getenv("BERTH_LW_CMDLINE"); /* tests: another command line than this kernel's */
  int fd = open(path ? path : "/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  return strstr(buf, "berth.accel=tcg") != NULL;
}

struct lw *lw_open(char *err, size_t errlen) {
  if (errlen) err[0] = 0;
  struct lw *lw = calloc(1, sizeof *lw);
  if (!lw) return NULL;
  lw->pipefd = -1;
  lw->epfd = epoll_create1(EPOLL_CLOEXEC);
  lw->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  if (lw->epfd < 0 || lw->tfd < 0 || epoll_ctl(lw->epfd, EPOLL_CTL_ADD, lw->tfd, &ev) != 0) {
    say(err, errlen, "%s", strerror(errno));
    if (lw->epfd >= 0) close(lw->epfd);
    if (lw->tfd >= 0) close(lw->tfd);
    free(lw);
    return NULL;
  }

  char why[400] = "";
  int cover = 0;
  int tcg = under_tcg();
  if (getenv("BERTH_LW_POLL")) say(why, sizeof why, "BERTH_LW_POLL is set");
  else if (tcg) say(why, sizeof why, "the VM runs under TCG, where patching kernel text for trace events is not safe");
  else cover = start_tracing(lw, why, sizeof why);
  if (cover && epoll_ctl(lw->epfd, EPOLL_CTL_ADD, lw->pipefd, &ev) != 0) {
    say(why, sizeof why, "epoll trace_pipe: %s", strerror(errno));
    close(lw->pipefd);
    lw->pipefd = -1;
    remove_instance(lw->inst);
    remove_probes(lw);
    lw->inst[0] = 0;
    cover = 0;
  }
  int full = (cover & COVER_TCP) && (cover & COVER_UDP);
  lw->period = full ? SAFETY_NS : tcg ? TCG_POLL_NS : FALLBACK_NS;
  int ms = (int)(lw->period / MS);
  if (!cover && ms % 1000 == 0) say(err, errlen, "polling every %d s, no trace events: %s", ms / 1000, why);
  else if (!cover) say(err, errlen, "polling every %d ms, no trace events: %s", ms, why);
  else if (!full) say(err, errlen, "%s", why);
  lw->periodic = now_ns(); /* the first lw_poll scans */
  arm(lw);
  return lw;
}

int lw_fd(struct lw *lw) { return lw->epfd; }

int lw_poll(struct lw *lw, char **line, int force) {
  int events = 0;
  if (lw->pipefd >= 0) {
    /* The events only say "look again"; what they carry is not needed. Bounded, so that a storm
     * of them (a burst of DNS lookups) still lets the caller run; the fd stays readable. */
    char buf[8192];
    for (int i = 0; i < 64; i++) {
      ssize_t r = read(lw->pipefd, buf, sizeof buf);
      if (r > 0) events = 1;
      if (r <= 0 && !(r < 0 && errno == EINTR)) break;
    }
  }
  uint64_t ticks;
  while (read(lw->tfd, &ticks, sizeof ticks) < 0 && errno == EINTR) {
  }

  long long now = now_ns();
  if (events && !lw->quick) lw->quick = now + QUICK_NS;
  int due = force || now >= lw->periodic;
  if (lw->quick && now >= lw->quick) {
    lw->quick = 0;
    lw->confirm = now + CONFIRM_NS;
    due = 1;
  } else if (lw->confirm && now >= lw->confirm) {
    lw->confirm = 0;
    due = 1;
  }

  int changed = 0;
  if (due) {
    char *l, *key;
    if (rescan(&l, &key) == 0) {
      lw->periodic = now + lw->period;
      if (force || !lw->prev || strcmp(key, lw->prev) != 0) {
        free(lw->prev);
        lw->prev = key;
        *line = l;
        changed = 1;
      } else {
        free(l);
        free(key);
      }
    } else {
      lw->periodic = now + QUICK_NS * 50; /* out of memory: try again soon */
    }
  }
  arm(lw);
  return changed;
}

void lw_close(struct lw *lw) {
  if (!lw) return;
  if (lw->pipefd >= 0) close(lw->pipefd);
  if (lw->inst[0]) remove_instance(lw->inst); /* before the probes: an enabled probe cannot go */
  remove_probes(lw);
  close(lw->tfd);
  close(lw->epfd);
  free(lw->prev);
  free(lw);
}
