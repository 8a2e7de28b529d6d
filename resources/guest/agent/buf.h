/* A byte queue: data at p+off, len bytes long. Emptied queues give their memory back, so an idle
 * agent holds no buffers. */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H
#include <stddef.h>
#include <stdint.h>

struct buf {
  uint8_t *p;
  size_t off, len, cap;
};

/* Room for n more bytes at buf_tail(); exits on OOM (the agent cannot do its job without memory,
 * and systemd restarts it). */
uint8_t *buf_reserve(struct buf *b, size_t n);
static inline uint8_t *buf_head(struct buf *b) { return b->p + b->off; }
void buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
#endif
