// berth-fsnotify: hands a host batch to /dev/berth-fsnotify (docs/mount-events.md).
//
//   berth-fsnotify [--device PATH] [--watch DIR]... < lines
//
// Each stdin line (`<mask-hex> <cookie> <absolute guest path>`, from the host's deviceLines) is one
// write(), because the module takes one command per write and answers it with its own result:
// success (the event was raised), EEXIST (the echo of the guest's own change: dropped), ENOENT (the
// folder is gone), anything else a failure. --watch DIR first puts the module's superblock mark on
// the share holding DIR. Prints one summary line, then up to MAX_REPORTED failures:
//
//   delivered N echoes N missing N failed N
//   error <errno name> <line>
//
// Exit 0 when every command was taken (a failed line is counted, not fatal), 2 for bad usage, 3
// when the device cannot be opened (the module is not loaded): the host reports that per mount.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_REPORTED 5

static int put(int fd, const char *cmd, size_t len) {
  ssize_t n;
  do n = write(fd, cmd, len);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

int main(int argc, char **argv) {
  const char *device = "/dev/berth-fsnotify";
  const char *watch[64];
  int nwatch = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
    else if (!strcmp(argv[i], "--watch") && i + 1 < argc && nwatch < 64) watch[nwatch++] = argv[++i];
    else {
      fprintf(stderr, "usage: berth-fsnotify [--device PATH] [--watch DIR]... < lines\n");
      return 2;
    }
  }
  int fd = open(device, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "berth-fsnotify: cannot open %s: %s (is the berth_fsnotify module loaded?)\n", device, strerror(errno));
    return 3;
  }

  unsigned long delivered = 0, echoes = 0, missing = 0, failed = 0;
  char reported[MAX_REPORTED][MAX_LINE + 64];
  int nrep = 0;
  char cmd[MAX_LINE + 3];
  for (int i = 0; i < nwatch; i++) {
    int n = snprintf(cmd, sizeof cmd, "W %s", watch[i]);
    int e = n > 0 && (size_t)n < sizeof cmd ? put(fd, cmd, (size_t)n) : ENAMETOOLONG;
    if (e) {
      failed++;
      if (nrep < MAX_REPORTED) snprintf(reported[nrep++], sizeof reported[0], "error %s W %s", strerrorname_np(e) ? strerrorname_np(e) : "?", watch[i]);
    }
  }

  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    int e = len <= MAX_LINE ? put(fd, line, (size_t)len) : ENAMETOOLONG;
    if (!e) delivered++;
    else if (e == EEXIST) echoes++;
    else if (e == ENOENT) missing++;
    else {
      failed++;
      if (nrep < MAX_REPORTED) snprintf(reported[nrep++], sizeof reported[0], "error %s %.*s", strerrorname_np(e) ? strerrorname_np(e) : "?", MAX_LINE, line);
    }
  }
  free(line);
  close(fd);
  printf("delivered %lu echoes %lu missing %lu failed %lu\n", delivered, echoes, missing, failed);
  for (int i = 0; i < nrep; i++) printf("%s\n", reported[i]);
  return 0;
}
