/*
 * dnslat: queries a DNS server over UDP at a fixed rate and records the
 * latency of every answer, for the benchmarks' latency runs (bench/cpu-split.ts).
 *
 *   dnslat -s ADDR -p PORT -d QUERYFILE -l SECONDS -Q RATE [-c SOCKETS] [-t TIMEOUT_S] -o OUT [-m SENT]
 *
 * QUERYFILE has dnsperf's format ("name TYPE" per line), asked in order,
 * round and round. Every answer's latency goes to OUT as a little-endian
 * uint32 of nanoseconds, in the order the answers came; with -m, when each of
 * those answers' queries was sent goes to SENT, in the same order, as a
 * uint32 of microseconds after "start_mono_ns" (CLOCK_MONOTONIC, the clock
 * the scheduler trace is read with: bench/cpu-split.ts). A JSON summary goes to
 * stdout: {"sent":…,"answered":…,"lost":…,"late":…,"seconds":…,"start_mono_ns":…,"rcodes":{…}}.
 *
 * Why not dnsperf -v: it formats and writes a line per answer, which costs
 * it about 10 µs of CPU per query here, three times what skydns spends
 * answering one; on a 2-core machine the load generator was the bottleneck of
 * every latency run at 100k queries a second. dnslat keeps latencies in
 * memory and writes them at the end, and takes each answer's time from the
 * kernel (SO_TIMESTAMPNS: when the datagram reached the socket), so its own
 * scheduling delays do not count as the server's. Each query's send time is
 * read just before the sendmmsg() carrying it. It wakes every 100 µs (not
 * at every answer), sends what fell due meanwhile and reads what came: about
 * a third of the CPU dnsperf -v needs at 80k queries a second.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXSOCK 64
#define MAXQ 512

struct query {
  uint8_t wire[MAXQ];
  uint16_t len;
};

struct sock {
  int fd;
  uint16_t next_id;
  uint64_t sent_ns[65536];
  uint8_t busy[65536];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  fprintf(stderr, "dnslat: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int qtype_of(const char *t) {
  static const struct { const char *name; int code; } types[] = {
    {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"DS", 43}, {"DNSKEY", 48}, {"ANY", 255},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcasecmp(t, types[i].name) == 0) return types[i].code;
  return -1;
}

/* Encodes "name TYPE" as a query (RD set, as dnsperf sends); -1 if the line is no query. */
static int encode(const char *line, struct query *q) {
  char name[300], type[32];
  if (sscanf(line, "%299s %31s", name, type) != 2) return -1;
  int qt = qtype_of(type);
  if (qt < 0) return -1;
  uint8_t *p = q->wire;
  memset(p, 0, 12);
  p[2] = 0x01; /* RD */
  p[5] = 1;    /* QDCOUNT */
  size_t at = 12;
  const char *s = name;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t n = dot ? (size_t)(dot - s) : strlen(s);
    if (n == 0 || n > 63 || at + n + 1 > MAXQ - 6) return -1;
    p[at++] = (uint8_t)n;
    memcpy(p + at, s, n);
    at += n;
    s += n;
    if (*s == '.') s++;
  }
  p[at++] = 0;
  p[at++] = (uint8_t)(qt >> 8);
  p[at++] = (uint8_t)qt;
  p[at++] = 0;
  p[at++] = 1; /* IN */
  q->len = (uint16_t)at;
  return 0;
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1", *file = NULL, *out = NULL, *sent_out = NULL;
  int port = 53, nsock = 4, opt;
  double seconds = 5, rate = 1000, timeout = 2;
  while ((opt = getopt(argc, argv, "s:p:d:l:Q:c:t:o:m:")) != -1) {
    switch (opt) {
      case 's': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'd': file = optarg; break;
      case 'l': seconds = atof(optarg); break;
      case 'Q': rate = atof(optarg); break;
      case 'c': nsock = atoi(optarg); break;
      case 't': timeout = atof(optarg); break;
      case 'o': out = optarg; break;
      case 'm': sent_out = optarg; break;
      default: fprintf(stderr, "usage: dnslat -s ADDR -p PORT -d FILE -l SECONDS -Q RATE [-c SOCKETS] [-t TIMEOUT] -o OUT [-m SENT]\n"); return 2;
    }
  }
  if (!file || !out || port <= 0 || port > 65535 || nsock < 1 || nsock > MAXSOCK || rate <= 0 || seconds <= 0 || timeout <= 0) {
    fprintf(stderr, "dnslat: bad arguments (need -d FILE -o OUT; 1 <= -c <= %d; positive -l -Q -t)\n", MAXSOCK);
    return 2;
  }
  struct in_addr ip;
  if (inet_pton(AF_INET, addr, &ip) != 1 || (ntohl(ip.s_addr) >> 24) != 127) {
    fprintf(stderr, "dnslat: -s must be an IPv4 loopback address (127.0.0.0/8), not %s\n", addr);
    return 2;
  }

  /* The queries. */
  FILE *f = fopen(file, "r");
  if (!f) die(file);
  size_t nq = 0, cap = 1024;
  struct query *qs = malloc(cap * sizeof *qs);
  char line[1024];
  while (qs && fgets(line, sizeof line, f)) {
    if (nq == cap) qs = realloc(qs, (cap *= 2) * sizeof *qs);
    if (qs && encode(line, &qs[nq]) == 0) nq++;
  }
  fclose(f);
  if (!qs || nq == 0) {
    fprintf(stderr, "dnslat: no queries in %s\n", file);
    return 2;
  }

  /* The sockets, connected to the server, with kernel receive timestamps. */
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = ip};
  struct sock *socks = calloc((size_t)nsock, sizeof *socks);
  if (!socks) die("calloc");
  for (int i = 0; i < nsock; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1, buf = 4 << 20;
    if (fd < 0) die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) die("SO_TIMESTAMPNS");
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    socks[i].fd = fd;
    socks[i].next_id = (uint16_t)(i * 7919);
  }

  uint64_t total = (uint64_t)(seconds * rate);
  uint32_t *lat = malloc((total + 1) * sizeof *lat);
  uint32_t *sent_us = malloc((total + 1) * sizeof *sent_us);
  if (!lat || !sent_us) die("malloc");
  uint64_t sent = 0, answered = 0, lost = 0, late = 0, rcodes[16] = {0};
  uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
  double ns_per_query = 1e9 / rate;

  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  uint8_t rbuf[BATCH][512];
  char ctrl[BATCH][64];
  size_t qi = 0;
  int next_sock = 0;
  uint64_t start = now_ns(), start_mono = mono_ns(), end_send = start + (uint64_t)(seconds * 1e9);

  for (;;) {
    uint64_t now = now_ns();
    /* Send what is due (one socket per batch, in turn). */
    if (sent < total) {
      uint64_t due = now >= end_send ? total : (uint64_t)((double)(now - start) / ns_per_query) + 1;
      if (due > total) due = total;
      while (sent < due) {
        struct sock *s = &socks[next_sock];
        next_sock = (next_sock + 1) % nsock;
        int n = (int)(due - sent < BATCH ? due - sent : BATCH);
        uint16_t ids[BATCH];
        for (int k = 0; k < n; k++) {
          struct query *q = &qs[qi];
          qi = (qi + 1) % nq;
          uint16_t id = s->next_id++;
          if (s->busy[id]) lost++; /* never answered, and its id is needed again */
          ids[k] = id;
          q->wire[0] = (uint8_t)(id >> 8);
          q->wire[1] = (uint8_t)id;
          memcpy(rbuf[k], q->wire, q->len);
          iov[k].iov_base = rbuf[k];
          iov[k].iov_len = q->len;
          memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
        }
        uint64_t t = now_ns();
        int done = 0;
        while (done < n) {
          int r = sendmmsg(s->fd, msgs + done, (unsigned)(n - done), 0);
          if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) break; /* counted as lost below */
            die("sendmmsg");
          }
          done += r;
        }
        for (int k = 0; k < n; k++) {
          if (k < done) {
            s->sent_ns[ids[k]] = t;
            s->busy[ids[k]] = 1;
          } else {
            s->busy[ids[k]] = 0;
            lost++;
          }
        }
        sent += (uint64_t)n;
      }
    }
    /* Read what came. */
    for (int i = 0; i < nsock; i++) {
      struct sock *s = &socks[i];
      for (;;) {
        for (int k = 0; k < BATCH; k++) {
          iov[k].iov_base = rbuf[k];
          iov[k].iov_len = sizeof rbuf[k];
          memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
          msgs[k].msg_hdr.msg_iov = &iov[k];
          msgs[k].msg_hdr.msg_iovlen = 1;
          msgs[k].msg_hdr.msg_control = ctrl[k];
          msgs[k].msg_hdr.msg_controllen = sizeof ctrl[k];
        }
        int r = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (r < 0) {
          if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) break;
          die("recvmmsg");
        }
        uint64_t fallback = now_ns();
        for (int k = 0; k < r; k++) {
          if (msgs[k].msg_len < 12) continue;
          uint16_t id = (uint16_t)((rbuf[k][0] << 8) | rbuf[k][1]);
          if (!s->busy[id]) { late++; continue; }
          s->busy[id] = 0;
          uint64_t at = fallback;
          for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[k].msg_hdr); c; c = CMSG_NXTHDR(&msgs[k].msg_hdr, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
              struct timespec ts;
              memcpy(&ts, CMSG_DATA(c), sizeof ts);
              at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
            }
          }
          uint64_t d = at > s->sent_ns[id] ? at - s->sent_ns[id] : 0;
          if (d > timeout_ns) { lost++; continue; }
          sent_us[answered] = (uint32_t)((s->sent_ns[id] - start) / 1000);
          lat[answered++] = d > 0xffffffffull ? 0xffffffffu : (uint32_t)d;
          rcodes[rbuf[k][3] & 15]++;
        }
        if (r < BATCH) break;
      }
    }
    now = now_ns();
    if (sent >= total) {
      uint64_t pending = sent - answered - lost;
      if (pending == 0 || now > end_send + timeout_ns) {
        lost += pending;
        break;
      }
    }
    /* Sleep 100 µs: answers wait in the sockets meanwhile, stamped by the kernel on arrival,
       and the queries that fall due go out together (8 at 80k a second). */
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }

  FILE *o = fopen(out, "wb");
  if (!o || fwrite(lat, sizeof *lat, answered, o) != answered || fclose(o) != 0) die(out);
  if (sent_out) {
    FILE *m = fopen(sent_out, "wb");
    if (!m || fwrite(sent_us, sizeof *sent_us, answered, m) != answered || fclose(m) != 0) die(sent_out);
  }
  printf("{\"sent\":%llu,\"answered\":%llu,\"lost\":%llu,\"late\":%llu,\"seconds\":%.3f,\"start_mono_ns\":%llu,\"rcodes\":{", (unsigned long long)sent,
         (unsigned long long)answered, (unsigned long long)lost, (unsigned long long)late, (double)(now_ns() - start) / 1e9, (unsigned long long)start_mono);
  int first = 1;
  for (int i = 0; i < 16; i++)
    if (rcodes[i]) {
      printf("%s\"%d\":%llu", first ? "" : ",", i, (unsigned long long)rcodes[i]);
      first = 0;
    }
  printf("}}\n");
  return 0;
}
