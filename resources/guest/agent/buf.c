#define _GNU_SOURCE
#include "buf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *buf_reserve(struct buf *b, size_t n) {
  if (b->off + b->len + n <= b->cap) return b->p + b->off + b->len;
  if (b->off && b->len + n <= b->cap) {
    memmove(b->p, b->p + b->off, b->len);
    b->off = 0;
    return b->p + b->len;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + n) cap *= 2;
  uint8_t *p = malloc(cap);
  if (!p) {
    fputs("berth-guestd: out of memory\n", stderr);
    exit(1);
  }
  if (b->len) memcpy(p, b->p + b->off, b->len);
  free(b->p);
  b->p = p;
  b->cap = cap;
  b->off = 0;
  return p + b->len;
}

void buf_append(struct buf *b, const void *p, size_t n) {
  memcpy(buf_reserve(b, n), p, n);
  b->len += n;
}

void buf_consume(struct buf *b, size_t n) {
  b->off += n;
  b->len -= n;
  if (b->len) return;
  b->off = 0;
  /* Small buffers stay for the next burst; a window's worth goes back at once. */
  if (b->cap > 80 * 1024) buf_clear(b);
}

void buf_clear(struct buf *b) {
  free(b->p);
  b->p = NULL;
  b->off = b->len = b->cap = 0;
}
