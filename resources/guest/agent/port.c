#define _GNU_SOURCE
#include "port.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int scan(char *dev, size_t cap) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int found = -1;
  while (found < 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], name[64];
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n <= 0) continue;
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == ' ')) n--;
    name[n] = 0;
    if (strcmp(name, PORT_NAME)) continue;
    snprintf(dev, cap, "/dev/%s", e->d_name);
    found = 0;
  }
  closedir(d);
  return found;
}

/* The agent starts before udev's coldplug (DefaultDependencies=no), so it loads the driver
 * itself rather than wait for udev to. */
static void modprobe(void) {
  char *argv[] = {"modprobe", "-q", "virtio_console", NULL};
  const char *paths[] = {"/usr/sbin/modprobe", "/sbin/modprobe"};
  for (size_t i = 0; i < 2; i++) {
    pid_t pid;
    if (access(paths[i], X_OK) || posix_spawn(&pid, paths[i], NULL, NULL, argv, environ)) continue;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return;
  }
}

int port_find(char *dev, size_t cap, int load_module) {
  if (!scan(dev, cap)) return 0;
  if (!load_module) return -1;
  modprobe();
  return scan(dev, cap);
}
