/* The link to the host: the virtio-serial port, or (for tests) a unix socket the host side
 * listens on. A lost host (the port's host-disconnected state, or the socket's peer gone) resets
 * every stream; the agent then waits for the host and a new sync marker. */
#ifndef BERTH_LINK_H
#define BERTH_LINK_H

/* connect_path NULL: the virtio port. */
int link_start(const char *connect_path);
/* Writes queued output, and waits for the link to take more when it is full. */
void link_flush(void);
#endif
