/* Finding the channel's virtio-serial port in the guest. */
#ifndef BERTH_PORT_H
#define BERTH_PORT_H
#include <stddef.h>

#define PORT_NAME "org.berth.guest.0"

/* Fills dev with /dev/vportNpM for the port named PORT_NAME; 0 when found, else -1. With
 * load_module, loads virtio_console first when the port is not there. */
int port_find(char *dev, size_t cap, int load_module);
#endif
