/* A UDP echo server for the port-forwarding tests: every datagram goes back to its sender as it
   came (one recvfrom, one sendto: boundaries kept). The test image's busybox has no UDP server.
   usage: udp-echo PORT [ADDRESS]   (ADDRESS default 0.0.0.0; an IPv6 one such as :: binds IPv6) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: udp-echo PORT [ADDRESS]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *addr = argc > 2 ? argv[2] : "0.0.0.0";
  struct sockaddr_storage ss;
  socklen_t len;
  int fd;
  memset(&ss, 0, sizeof ss);
  if (strchr(addr, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1) return 2;
    len = sizeof *a;
    fd = socket(AF_INET6, SOCK_DGRAM, 0);
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) return 2;
    len = sizeof *a;
    fd = socket(AF_INET, SOCK_DGRAM, 0);
  }
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
    perror("udp-echo: bind");
    return 1;
  }
  printf("udp-echo listening on %s:%d\n", addr, port);
  fflush(stdout);
  static char buf[65536];
  for (;;) {
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    if (n < 0) continue;
    sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
  }
}
