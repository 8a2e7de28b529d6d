#define _GNU_SOURCE
#include "session.h"
#include "frame.h"
#include "out.h"
#include "streams.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *boot_id_file = "/run/berth/boot-id";

static struct buf in;
static int scanning = 1;

struct buf *session_input(void) { return &in; }

void session_reset(void) {
  streams_reset();
  out_drop();
}

void session_link_changed(void) {
  streams_reset();
  out_reset();
  buf_clear(&in);
  scanning = 1;
}

/* The boot id is read at every HELLO: berth-boot writes it after the agent may have started. */
static size_t read_boot_id(char *dst, size_t cap) {
  char raw[128];
  ssize_t n = -1;
  int fd = open(boot_id_file, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = read(fd, raw, sizeof raw);
    close(fd);
  }
  size_t o = 0;
  for (ssize_t i = 0; i < n && o + 7 < cap; i++) {
    unsigned char c = (unsigned char)raw[i];
    if (c == '\n' || c == '\r') break;
    if (c == '"' || c == '\\') {
      dst[o++] = '\\';
      dst[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
    } else {
      dst[o++] = (char)c;
    }
  }
  dst[o] = 0;
  return o;
}

static void hello(const uint8_t *nonce) {
  session_reset();
  char id[160], payload[8 + 256];
  read_boot_id(id, sizeof id);
  memcpy(payload, nonce, 8);
  int n = snprintf(payload + 8, sizeof payload - 8,
                   "{\"version\":1,\"bootId\":\"%s\",\"agent\":\"berth-guestd 1\"}", id);
  out_marker();
  out_frame(T_HELLO, 0, 0, payload, 8 + (size_t)n);
  scanning = 0;
}

static void resync(const char *why) {
  fprintf(stderr, "berth-guestd: lost my place in the host's bytes (%s): RESYNC\n", why);
  session_reset();
  out_frame(T_RESYNC, 0, 0, NULL, 0);
  scanning = 1;
}

static void dispatch(const struct frame_hdr *h, const uint8_t *p) {
  switch (h->type) {
  case T_HELLO:
    /* A HELLO without a marker still means the host started over. */
    if (h->len >= 8) hello(p);
    break;
  case T_OPEN: streams_open(h->id, p, h->len); break;
  case T_DATA: streams_data(h->id, p, h->len); break;
  case T_EOF: streams_eof(h->id); break;
  case T_CLOSE: streams_close(h->id); break;
  case T_CREDIT:
    if (h->len == 4) streams_credit(h->id, get_be32(p));
    break;
  case T_PING: out_frame(T_PONG, 0, h->id, p, h->len); break;
  default: break; /* guest-to-host types: nothing to do */
  }
}

/* Scanning: skip to the marker; a marker followed by anything but a HELLO is skipped too. */
static int scan_step(void) {
  long at = frame_find_marker(buf_head(&in), in.len);
  if (at < 0) {
    /* A marker may be split across reads: keep what could be its start. */
    if (in.len > SYNC_LEN - 1) buf_consume(&in, in.len - (SYNC_LEN - 1));
    return 0;
  }
  buf_consume(&in, (size_t)at);
  if (in.len < SYNC_LEN + FRAME_HDR) return 0;
  struct frame_hdr h;
  if (frame_parse(buf_head(&in) + SYNC_LEN, &h) < 0 || h.type != T_HELLO || h.len < 8) {
    buf_consume(&in, 1);
    return 1;
  }
  if (in.len < SYNC_LEN + FRAME_HDR + h.len) return 0;
  hello(buf_head(&in) + SYNC_LEN + FRAME_HDR);
  buf_consume(&in, SYNC_LEN + FRAME_HDR + h.len);
  return 1;
}

static int frame_step(void) {
  const uint8_t *p = buf_head(&in);
  if (p[0] == SYNC_MARKER[0]) {
    size_t k = in.len < SYNC_LEN ? in.len : SYNC_LEN;
    if (memcmp(p, SYNC_MARKER, k)) {
      resync("bad check bytes");
      return 1;
    }
    if (k < SYNC_LEN) return 0;
    scanning = 1; /* the host started a new session where a header was due */
    return 1;
  }
  if (in.len >= 2 && (p[0] != 0xB3 || p[1] != 0x27)) {
    resync("bad check bytes");
    return 1;
  }
  if (in.len < FRAME_HDR) return 0;
  struct frame_hdr h;
  if (frame_parse(p, &h) < 0) {
    resync(p[2] < T_HELLO || p[2] > T_LAST ? "unknown frame type" : "frame too long");
    return 1;
  }
  if (in.len < FRAME_HDR + h.len) return 0;
  dispatch(&h, p + FRAME_HDR);
  buf_consume(&in, FRAME_HDR + h.len);
  return 1;
}

void session_process(void) {
  while (in.len && (scanning ? scan_step() : frame_step())) {
  }
}
