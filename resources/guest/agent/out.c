#define _GNU_SOURCE
#include "out.h"
#include "buf.h"
#include "frame.h"
#include <errno.h>
#include <unistd.h>

static struct buf q;
/* Bytes of q's first element (a frame or the marker) not yet written; 0 when none is started. */
static size_t head_left;
/* The queue reached OUT_HIGH since out_take_high(): streams switched their reading off then. */
static int hit_high;

void out_frame(uint8_t type, uint8_t flags, uint32_t id, const void *payload, size_t len) {
  uint8_t *p = buf_reserve(&q, FRAME_HDR + len);
  frame_put(p, type, flags, id, (uint32_t)len);
  for (size_t i = 0; i < len; i++) p[FRAME_HDR + i] = ((const uint8_t *)payload)[i];
  q.len += FRAME_HDR + len;
  if (q.len >= OUT_HIGH) hit_high = 1;
}

void out_marker(void) { buf_append(&q, SYNC_MARKER, SYNC_LEN); }

uint8_t *out_data_begin(size_t max) { return buf_reserve(&q, FRAME_HDR + max) + FRAME_HDR; }

void out_data_commit(uint8_t flags, uint32_t id, size_t len) {
  frame_put(q.p + q.off + q.len, T_DATA, flags, id, (uint32_t)len);
  q.len += FRAME_HDR + len;
  if (q.len >= OUT_HIGH) hit_high = 1;
}

int out_take_high(void) {
  int h = hit_high;
  hit_high = 0;
  return h;
}

size_t out_pending(void) { return q.len; }
int out_full(void) { return q.len >= OUT_HIGH; }

/* The length of the element starting at p (only whole frames and markers are ever queued). */
static size_t element_len(const uint8_t *p) {
  return p[0] == SYNC_MARKER[0] ? SYNC_LEN : FRAME_HDR + get_be32(p + 8);
}

void out_drop(void) {
  if (!head_left) {
    buf_clear(&q);
    return;
  }
  q.len = head_left;
}

void out_reset(void) {
  buf_clear(&q);
  head_left = 0;
}

int out_flush(int fd) {
  while (q.len) {
    ssize_t n = write(fd, buf_head(&q), q.len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    size_t left = (size_t)n;
    while (left) {
      if (!head_left) head_left = element_len(buf_head(&q));
      size_t k = left < head_left ? left : head_left;
      head_left -= k;
      left -= k;
      buf_consume(&q, k);
    }
  }
  return 0;
}
