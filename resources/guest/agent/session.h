/* Sessions (docs/guest-channel.md, "Sessions"): scanning for the host's sync marker + HELLO,
 * answering it, reading frames, and RESYNC when the host's bytes stop making sense. */
#ifndef BERTH_SESSION_H
#define BERTH_SESSION_H
#include "buf.h"

extern const char *boot_id_file;

/* Where the link reads the host's bytes into; session_process() then consumes them. */
struct buf *session_input(void);
void session_process(void);
/* The link came up or went away: either way the next session starts with a marker. */
void session_link_changed(void);
/* Closes every stream and drops unsent output: a new session, a RESYNC or a lost link. */
void session_reset(void);
#endif
