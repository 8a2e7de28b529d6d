/* The guest's listener watch: which TCP listeners and unconnected UDP sockets the guest's network
 * namespace has, told as a line whenever that set changes (docs/guest-channel.md, stream kind `l`).
 * Changes are noticed by kernel trace events (tracefs), not by polling; without tracefs or the
 * events it falls back to a 1 s timer. */
#ifndef BERTH_LISTENERS_H
#define BERTH_LISTENERS_H

#include <stddef.h>

struct lw;

/* Never NULL except when out of memory (or file descriptors). err is "" when every change arrives
 * as an event, else it says what is polled by the 1 s timer and why (for the caller's log). */
struct lw *lw_open(char *err, size_t errlen);

/* Poll it for readability; then call lw_poll(lw, &line, 0). */
int lw_fd(struct lw *);

/* Call when lw_fd is readable (force = 0) or on a host request (force = 1). Returns 1 and a
 * malloc'd "L <tcp> ... u/<udp> ... \n" line (the caller frees it) when the set changed since the
 * line last returned, or always when force = 1; else 0 and *line untouched. Never blocks. */
int lw_poll(struct lw *, char **line, int force);

/* Removes the trace instance and probe events it created. */
void lw_close(struct lw *);

#endif
