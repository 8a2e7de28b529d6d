/* Streams (docs/guest-channel.md, "Opening", "Flow control", "Order of endings"): what each OPEN
 * kind connects to, the windows both ways, EOF and CLOSE. */
#ifndef BERTH_STREAMS_H
#define BERTH_STREAMS_H
#include "buf.h"
#include "loop.h"
#include <stdint.h>
#include <sys/types.h>

struct stream {
  uint32_t id;
  char kind; /* u t d x l */
  struct stream *hnext, *next, *prev;
  int64_t win;         /* DATA bytes the guest may still send before the host's next CREDIT */
  unsigned host_eof : 1, guest_eof : 1, connecting : 1, dead : 1, wr_shut : 1, finished : 1;
  struct buf in;       /* the host's bytes not yet handed on (at most a window) */
  struct watch io;     /* the socket; an exec's stdin; the listener watch's fd */
  struct watch out, err; /* an exec's stdout and stderr */
  pid_t pid;
  int exited, status;
  struct lw *lw;
  char *line;          /* a listener line waiting for window */
};

void streams_open(uint32_t id, const uint8_t *p, uint32_t len);
void streams_data(uint32_t id, const uint8_t *p, uint32_t len);
void streams_eof(uint32_t id);
void streams_close(uint32_t id);
void streams_credit(uint32_t id, uint32_t n);
void streams_reset(void);
/* SIGCHLD: collects exited children and finishes their exec streams. */
void streams_reap(void);
/* The output queue crossed OUT_HIGH: every stream's reading is switched on or off. */
void streams_sync_all(void);
/* Frees the streams ended during this loop iteration (their watches may still be in its batch). */
void streams_collect(void);

/* Shared with exec.c. */
int stream_can_read(struct stream *s);
void stream_sync(struct stream *s);
void stream_flush_in(struct stream *s);
void stream_free(struct stream *s);
int exec_start(struct stream *s, const char *cmd, char *err, size_t errlen);
void exec_maybe_finish(struct stream *s);
void exec_sync(struct stream *s);
void exec_kill(struct stream *s);
#endif
