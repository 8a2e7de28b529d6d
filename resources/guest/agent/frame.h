/* The channel's wire format (docs/guest-channel.md, "Framing"): 12-byte big-endian headers, the
 * 16-byte sync marker that opens a session, and the limits both ends enforce. */
#ifndef BERTH_FRAME_H
#define BERTH_FRAME_H
#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR 12
#define FRAME_MAX 65536u
#define STREAM_WINDOW 262144
#define SYNC_LEN 16
extern const uint8_t SYNC_MARKER[SYNC_LEN];

enum frame_type {
  T_HELLO = 1, T_OPEN, T_OPEN_OK, T_OPEN_FAIL, T_DATA, T_EOF, T_CLOSE, T_CREDIT, T_EXIT,
  T_PING, T_PONG, T_RESYNC, T_LAST = T_RESYNC
};
#define F_STDERR 1

struct frame_hdr {
  uint8_t type, flags;
  uint32_t id, len;
};

/* 0 when p holds a well-formed header (check bytes, a known type, len <= FRAME_MAX), else -1. */
int frame_parse(const uint8_t *p, struct frame_hdr *h);
void frame_put(uint8_t *p, uint8_t type, uint8_t flags, uint32_t id, uint32_t len);
/* Where the marker starts in p[0..n), or -1. */
long frame_find_marker(const uint8_t *p, size_t n);
uint32_t get_be32(const uint8_t *p);
void put_be32(uint8_t *p, uint32_t v);
#endif
