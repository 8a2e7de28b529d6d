#define _GNU_SOURCE
#include "frame.h"
#include <string.h>

const uint8_t SYNC_MARKER[SYNC_LEN] = "BERTH-SYNC-v1\r\n";

uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void put_be32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

int frame_parse(const uint8_t *p, struct frame_hdr *h) {
  if (p[0] != 0xB3 || p[1] != 0x27) return -1;
  h->type = p[2];
  h->flags = p[3];
  h->id = get_be32(p + 4);
  h->len = get_be32(p + 8);
  if (h->type < T_HELLO || h->type > T_LAST || h->len > FRAME_MAX) return -1;
  return 0;
}

void frame_put(uint8_t *p, uint8_t type, uint8_t flags, uint32_t id, uint32_t len) {
  p[0] = 0xB3; p[1] = 0x27; p[2] = type; p[3] = flags;
  put_be32(p + 4, id);
  put_be32(p + 8, len);
}

long frame_find_marker(const uint8_t *p, size_t n) {
  const uint8_t *m = memmem(p, n, SYNC_MARKER, SYNC_LEN);
  return m ? m - p : -1;
}
