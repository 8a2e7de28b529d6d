/* Everything the guest sends to the host, in order: one queue of frames written to the link as it
 * accepts them. Streams stop reading their sockets while it holds OUT_HIGH bytes or more. */
#ifndef BERTH_OUT_H
#define BERTH_OUT_H
#include <stddef.h>
#include <stdint.h>

#define OUT_HIGH (256 * 1024)

void out_frame(uint8_t type, uint8_t flags, uint32_t id, const void *payload, size_t len);
void out_marker(void);
/* Room for a DATA frame of up to max payload bytes; out_data_commit sends the first len of them. */
uint8_t *out_data_begin(size_t max);
void out_data_commit(uint8_t flags, uint32_t id, size_t len);
size_t out_pending(void);
int out_full(void);
/* 1 when the queue reached OUT_HIGH since the last call (it may have drained again since). */
int out_take_high(void);
/* Drops what is not sent yet, except the rest of a frame already partly written (the host must
 * still find the next header where it expects one). */
void out_drop(void);
/* Forgets everything: the link it was written to is gone. */
void out_reset(void);
/* Writes what fd takes; 0, or -1 with errno on a write error (not EAGAIN). */
int out_flush(int fd);
#endif
