/*
 * Test helper: sends UDP datagrams to 127.0.0.1 with source port 0, which no
 * UDP socket can do (binding port 0 means "any port"). A raw socket writes
 * the UDP header itself; the kernel adds the IP header. Needs CAP_NET_RAW.
 *
 *   rawudp <dst-ipv4> <dst-port> <payload-hex> [count]
 *
 * The UDP checksum is 0, "none", which IPv4 allows. Exit 0 when every
 * datagram was handed to the kernel, else 1 with the reason on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rawudp <dst-ipv4> <dst-port> <payload-hex> [count]\n");
    return 1;
  }
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
    fprintf(stderr, "rawudp: %s is not an IPv4 address\n", argv[1]);
    return 1;
  }
  int port = atoi(argv[2]);
  size_t hexlen = strlen(argv[3]);
  if (port < 1 || port > 65535 || hexlen % 2 != 0 || hexlen / 2 > 1400) {
    fprintf(stderr, "rawudp: bad port or payload\n");
    return 1;
  }
  int count = argc > 4 ? atoi(argv[4]) : 1;
  unsigned char pkt[8 + 1400];
  size_t n = hexlen / 2;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(argv[3][2 * i]), lo = hexval(argv[3][2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "rawudp: payload is not hex\n");
      return 1;
    }
    pkt[8 + i] = (unsigned char)(hi << 4 | lo);
  }
  uint16_t sport = htons(0), dport = htons((uint16_t)port), len = htons((uint16_t)(8 + n)), sum = 0;
  memcpy(pkt, &sport, 2);
  memcpy(pkt + 2, &dport, 2);
  memcpy(pkt + 4, &len, 2);
  memcpy(pkt + 6, &sum, 2);
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
  if (fd < 0) {
    fprintf(stderr, "rawudp: socket(SOCK_RAW): %s\n", strerror(errno));
    return 1;
  }
  for (int k = 0; k < count; k++) {
    if (sendto(fd, pkt, 8 + n, 0, (struct sockaddr *)&dst, sizeof dst) < 0) {
      fprintf(stderr, "rawudp: sendto: %s\n", strerror(errno));
      close(fd);
      return 1;
    }
  }
  close(fd);
  return 0;
}
