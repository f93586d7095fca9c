/* natprobe: measures a NAT's mapping and filtering behaviour (RFC 4787 terms,
 * tested the way RFC 5780 section 4 does) over the lab's own tiny protocol
 * (probe_msg.h). Plain POSIX sockets; every wait is bounded.
 *
 *   natprobe server [-t SECS] IP1[,IP2] PORT1[,PORT2]
 *       answer requests on every IP x PORT socket (relay host; or one socket
 *       on a peer to show that a port mapping is reachable)
 *   natprobe classify [-w MS] IP1 IP2 PORT1 PORT2
 *       mapping: EIM / ADM / APDM (or none), port preservation,
 *       filtering: EIF / ADF / APDF; last line "result key=value ..."
 *   natprobe query [-w MS] [-b PORT] IP:PORT
 *       one request; prints the observed address and the round-trip time */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "p2pq/error.h"
#include "p2pq/types.h"
#include "probe_msg.h"

#define MAX_SOCKS 4
#define MAX_SEEN 32

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_msf(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *fmt(const p2pq_addr *a, char *buf) {
  return p2pq_addr_format(a, buf, P2PQ_ADDR_STRLEN);
}

/* A UDP socket bound to a; returns the fd or -1. */
static int udp_bind(const p2pq_addr *a) {
  struct sockaddr_storage ss;
  size_t sl = p2pq_addr_to_sockaddr(a, &ss);
  int fd = socket(a->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int one = 1;

  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int sock_local(int fd, p2pq_addr *a) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
    return -1;
  return p2pq_addr_from_sockaddr(a, (struct sockaddr *)&ss);
}

static int send_msg(int fd, const p2pq_probe_msg *m, const p2pq_addr *to) {
  uint8_t buf[P2PQ_PROBE_MAX_LEN];
  struct sockaddr_storage ss;
  size_t sl = p2pq_addr_to_sockaddr(to, &ss);
  int n = p2pq_probe_encode(m, buf, sizeof(buf));

  if (n < 0)
    return n;
  return sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, (socklen_t)sl) == n ? 0
                                                                                  : P2PQ_ERR_IO;
}

/* Receives one datagram with a timeout; returns 1 if a probe message came. */
static int recv_msg(int fd, int timeout_ms, p2pq_probe_msg *m, p2pq_addr *from) {
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  uint8_t buf[512];
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  ssize_t n;

  if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
    return 0;
  n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
  if (n < 0 || p2pq_addr_from_sockaddr(from, (struct sockaddr *)&ss) < 0)
    return 0;
  return p2pq_probe_decode(buf, (size_t)n, m) == 0;
}

/* ---------------------------------------------------------------- server */

typedef struct server {
  int fd[MAX_SOCKS]; /* index: bit 0 = second IP, bit 1 = second port */
  int nip, nport;
} server;

static int parse_list(const char *s, p2pq_addr out[2], int is_port) {
  char tmp[128];
  char *comma;
  int n = 0;

  snprintf(tmp, sizeof(tmp), "%s", s);
  for (char *p = tmp; p && n < 2; p = comma ? comma + 1 : NULL) {
    comma = strchr(p, ',');
    if (comma)
      *comma = 0;
    if (is_port) {
      long v = strtol(p, NULL, 10);
      if (v <= 0 || v > 65535)
        return -1;
      out[n++].port = (uint16_t)v;
    } else if (p2pq_addr_parse(&out[n++], p, 0) < 0) {
      return -1;
    }
  }
  return n;
}

static void server_answer(server *sv, int idx, const p2pq_probe_msg *req, const p2pq_addr *src) {
  static const uint8_t flag_to_idx[][2] = {{P2PQ_PROBE_F_OTHER_PORT, 2},
                                           {P2PQ_PROBE_F_OTHER_IP, 1},
                                           {P2PQ_PROBE_F_OTHER_BOTH, 3}};
  p2pq_probe_msg r = {.type = P2PQ_PROBE_RESP, .txid = req->txid, .observed = *src};

  if (!(req->flags & P2PQ_PROBE_F_NO_DIRECT)) {
    r.from = (uint8_t)idx;
    send_msg(sv->fd[idx], &r, src);
  }
  for (size_t i = 0; i < sizeof(flag_to_idx) / sizeof(flag_to_idx[0]); i++) {
    int other = idx ^ flag_to_idx[i][1];
    if (!(req->flags & flag_to_idx[i][0]) || sv->fd[other] < 0)
      continue;
    r.flags = flag_to_idx[i][0];
    r.from = (uint8_t)other;
    send_msg(sv->fd[other], &r, src);
  }
}

static int cmd_server(int argc, char **argv) {
  server sv;
  p2pq_addr ips[2] = {{0}}, ports[2] = {{0}};
  long secs = 0;
  int opt;
  uint64_t end;

  while ((opt = getopt(argc, argv, "t:")) != -1) {
    if (opt != 't')
      return 2;
    secs = strtol(optarg, NULL, 10);
  }
  if (argc - optind != 2)
    return 2;
  sv.nip = parse_list(argv[optind], ips, 0);
  sv.nport = parse_list(argv[optind + 1], ports, 1);
  if (sv.nip < 1 || sv.nport < 1) {
    fprintf(stderr, "natprobe server: bad address or port list\n");
    return 2;
  }
  for (int i = 0; i < MAX_SOCKS; i++) {
    int ii = i & 1, pi = i >> 1;
    sv.fd[i] = -1;
    if (ii >= sv.nip || pi >= sv.nport)
      continue;
    ips[ii].port = ports[pi].port;
    if ((sv.fd[i] = udp_bind(&ips[ii])) < 0) {
      char b[P2PQ_ADDR_STRLEN];
      fprintf(stderr, "natprobe server: bind %s: %s\n", fmt(&ips[ii], b), strerror(errno));
      return 1;
    }
  }
  end = secs > 0 ? now_ms() + (uint64_t)secs * 1000u : UINT64_MAX;
  while (!stop_flag && now_ms() < end) {
    struct pollfd pfd[MAX_SOCKS];
    for (int i = 0; i < MAX_SOCKS; i++)
      pfd[i] = (struct pollfd){.fd = sv.fd[i], .events = POLLIN};
    if (poll(pfd, MAX_SOCKS, 500) <= 0)
      continue;
    for (int i = 0; i < MAX_SOCKS; i++) {
      p2pq_probe_msg m;
      p2pq_addr src;
      if ((pfd[i].revents & POLLIN) && recv_msg(sv.fd[i], 0, &m, &src) &&
          m.type == P2PQ_PROBE_REQ)
        server_answer(&sv, i, &m, &src);
    }
  }
  for (int i = 0; i < MAX_SOCKS; i++)
    if (sv.fd[i] >= 0)
      close(sv.fd[i]);
  return 0;
}

/* ---------------------------------------------------------------- client */

/* One arrival: where it came from and what it said. */
typedef struct seen {
  p2pq_addr from;
  p2pq_probe_msg msg;
} seen;

typedef struct client {
  p2pq_addr srv[MAX_SOCKS]; /* same indexing as the server's sockets */
  p2pq_addr local;          /* this host's address towards the server */
  p2pq_addr mapped_local;   /* the socket the mapping test used */
  int wait_ms;              /* how long to wait for one answer */
  int tries;                /* requests sent before giving up */
  uint64_t txid;
  double best_rtt;
} client;

static uint64_t next_txid(client *c) { return ++c->txid ^ ((uint64_t)getpid() << 32); }

/* Sends req to dst up to c->tries times until the direct answer comes; records every
 * probe message that arrives on fd meanwhile and for linger_ms after. Returns
 * the number of records. */
static int exchange(client *c, int fd, const p2pq_addr *dst, uint8_t flags, int linger_ms,
                    seen *out, int max) {
  p2pq_probe_msg req = {.type = P2PQ_PROBE_REQ, .flags = flags, .txid = next_txid(c)};
  int n = 0, got_direct = 0;
  uint64_t end = 0;

  for (int attempt = 0; attempt < c->tries && !got_direct; attempt++) {
    double sent = now_msf();
    uint64_t deadline = now_ms() + (uint64_t)c->wait_ms;
    send_msg(fd, &req, dst);
    while (now_ms() < deadline && !got_direct) {
      seen s;
      if (!recv_msg(fd, (int)(deadline - now_ms()), &s.msg, &s.from) || s.msg.txid != req.txid ||
          s.msg.type != P2PQ_PROBE_RESP)
        continue;
      if (n < max)
        out[n++] = s;
      if (s.msg.flags == 0 && p2pq_addr_equal(&s.from, dst)) {
        double rtt = now_msf() - sent;
        got_direct = 1;
        if (c->best_rtt < 0 || rtt < c->best_rtt)
          c->best_rtt = rtt;
      }
    }
  }
  end = now_ms() + (uint64_t)linger_ms;
  while (now_ms() < end) {
    seen s;
    if (recv_msg(fd, (int)(end - now_ms()), &s.msg, &s.from) && s.msg.txid == req.txid &&
        s.msg.type == P2PQ_PROBE_RESP && n < max)
      out[n++] = s;
  }
  return n;
}

/* The observed address in the direct answer from dst, if any. */
static const p2pq_addr *direct_observed(const seen *s, int n, const p2pq_addr *dst) {
  for (int i = 0; i < n; i++)
    if (s[i].msg.flags == 0 && p2pq_addr_equal(&s[i].from, dst))
      return &s[i].msg.observed;
  return NULL;
}

static int seen_from(const seen *s, int n, const p2pq_addr *who) {
  for (int i = 0; i < n; i++)
    if (p2pq_addr_equal(&s[i].from, who))
      return 1;
  return 0;
}

/* This host's address on the route to the server (a connected UDP socket). */
static int route_local(const p2pq_addr *dst, p2pq_addr *local) {
  struct sockaddr_storage ss;
  size_t sl = p2pq_addr_to_sockaddr(dst, &ss);
  int fd = socket(dst->family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int rc = -1;

  if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, (socklen_t)sl) == 0)
    rc = sock_local(fd, local);
  if (fd >= 0)
    close(fd);
  local->port = 0;
  return rc;
}

/* RFC 5780 4.3, generalised: ask all four server sockets from one local port. */
static const char *classify_mapping(client *c, int *nat, int *preserved, p2pq_addr *mapped) {
  p2pq_addr m[MAX_SOCKS], loc;
  seen s[MAX_SEEN];
  int fd = udp_bind(&c->local);
  char b1[P2PQ_ADDR_STRLEN], b2[P2PQ_ADDR_STRLEN], b3[P2PQ_ADDR_STRLEN];

  if (fd < 0 || sock_local(fd, &loc) < 0)
    return NULL;
  for (int i = 0; i < MAX_SOCKS; i++) {
    int n = exchange(c, fd, &c->srv[i], 0, 0, s, MAX_SEEN);
    const p2pq_addr *o = direct_observed(s, n, &c->srv[i]);
    if (!o) {
      printf("mapping   no answer from %s\n", fmt(&c->srv[i], b1));
      close(fd);
      return NULL;
    }
    m[i] = *o;
    printf("mapping   %s -> %s seen as %s\n", fmt(&loc, b1), fmt(&c->srv[i], b2),
           fmt(&m[i], b3));
  }
  close(fd);
  c->mapped_local = loc;
  *mapped = m[0];
  *nat = !p2pq_addr_equal(&m[0], &loc);
  *preserved = m[0].port == loc.port;
  if (!*nat && p2pq_addr_equal(&m[1], &loc) && p2pq_addr_equal(&m[2], &loc) &&
      p2pq_addr_equal(&m[3], &loc))
    return "none";
  if (p2pq_addr_equal(&m[0], &m[1]) && p2pq_addr_equal(&m[0], &m[2]) &&
      p2pq_addr_equal(&m[0], &m[3]))
    return "EIM";
  /* same mapping per server IP (index bit 0), different across IPs */
  if (p2pq_addr_equal(&m[0], &m[2]) && p2pq_addr_equal(&m[1], &m[3]))
    return "ADM";
  return "APDM";
}

/* RFC 5780 4.4 in one exchange from a fresh port: the server answers from its
 * own socket and from the other IP/port ones; whatever the NAT lets in tells. */
static const char *classify_filtering(client *c, int linger_ms) {
  seen s[MAX_SEEN];
  int fd = udp_bind(&c->local), n = 0;
  const char *res;
  char b[P2PQ_ADDR_STRLEN];

  if (fd < 0)
    return NULL;
  /* twice, so that one lost unsolicited packet does not make EIF look APDF */
  for (int round = 0; round < 2; round++)
    n += exchange(c, fd, &c->srv[0],
                  P2PQ_PROBE_F_OTHER_PORT | P2PQ_PROBE_F_OTHER_IP | P2PQ_PROBE_F_OTHER_BOTH,
                  linger_ms, s + n, MAX_SEEN - n);
  close(fd);
  for (int i = 0; i < n; i++)
    printf("filtering got answer from %s (flags %u)\n", fmt(&s[i].from, b), s[i].msg.flags);
  if (!direct_observed(s, n, &c->srv[0]))
    return NULL;
  if (seen_from(s, n, &c->srv[3]) || seen_from(s, n, &c->srv[1]))
    res = "EIF";
  else if (seen_from(s, n, &c->srv[2]))
    res = "ADF";
  else
    res = "APDF";
  return res;
}

static int cmd_classify(int argc, char **argv) {
  client c = {.wait_ms = 400, .tries = 5, .best_rtt = -1};
  p2pq_addr ips[2], mapped;
  long ports[2];
  int opt, nat = 0, preserved = 0;
  const char *mapping, *filtering;
  char b[P2PQ_ADDR_STRLEN], b2[P2PQ_ADDR_STRLEN];

  while ((opt = getopt(argc, argv, "w:")) != -1) {
    if (opt != 'w')
      return 2;
    c.wait_ms = (int)strtol(optarg, NULL, 10);
  }
  if (argc - optind != 4 || c.wait_ms < 10 || c.wait_ms > 10000)
    return 2;
  for (int i = 0; i < 2; i++) {
    ports[i] = strtol(argv[optind + 2 + i], NULL, 10);
    if (p2pq_addr_parse(&ips[i], argv[optind + i], 0) < 0 || ports[i] <= 0 || ports[i] > 65535)
      return 2;
  }
  for (int i = 0; i < MAX_SOCKS; i++) {
    c.srv[i] = ips[i & 1];
    c.srv[i].port = (uint16_t)ports[i >> 1];
  }
  if (route_local(&c.srv[0], &c.local) < 0) {
    fprintf(stderr, "natprobe: no route to %s\n", fmt(&c.srv[0], b));
    return 1;
  }
  mapping = classify_mapping(&c, &nat, &preserved, &mapped);
  filtering = mapping ? classify_filtering(&c, c.wait_ms) : NULL;
  if (!mapping || !filtering) {
    printf("result error=no-answer\n");
    return 1;
  }
  printf("result nat=%s mapping=%s filtering=%s preserved=%s local=%s mapped=%s rtt_ms=%.1f\n",
         nat ? "yes" : "no", mapping, filtering, preserved ? "yes" : "no", fmt(&c.mapped_local, b),
         fmt(&mapped, b2), c.best_rtt);
  return 0;
}

static int cmd_query(int argc, char **argv) {
  client c = {.wait_ms = 500, .tries = 3, .best_rtt = -1};
  p2pq_addr dst, loc;
  seen s[MAX_SEEN];
  long bport = 0;
  int opt, fd, n;
  const p2pq_addr *o;
  char b[P2PQ_ADDR_STRLEN];

  while ((opt = getopt(argc, argv, "w:b:")) != -1) {
    if (opt == 'w')
      c.wait_ms = (int)strtol(optarg, NULL, 10);
    else if (opt == 'b')
      bport = strtol(optarg, NULL, 10);
    else
      return 2;
  }
  if (argc - optind != 1 || p2pq_addr_parse(&dst, argv[optind], -1) < 0 || !dst.port ||
      c.wait_ms < 10 || c.wait_ms > 10000 || bport < 0 || bport > 65535)
    return 2;
  memset(&loc, 0, sizeof(loc));
  loc.family = dst.family;
  loc.port = (uint16_t)bport;
  if ((fd = udp_bind(&loc)) < 0) {
    perror("natprobe query: bind");
    return 1;
  }
  n = exchange(&c, fd, &dst, 0, 0, s, MAX_SEEN);
  close(fd);
  if (!(o = direct_observed(s, n, &dst))) {
    printf("query %s: no answer\n", argv[optind]);
    return 1;
  }
  printf("query %s: observed=%s rtt_ms=%.1f\n", argv[optind], fmt(o, b), c.best_rtt);
  return 0;
}

int main(int argc, char **argv) {
  struct sigaction sa = {.sa_handler = on_signal};
  int rc = 2;

  setvbuf(stdout, NULL, _IOLBF, 0);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (argc >= 2 && strcmp(argv[1], "server") == 0)
    rc = cmd_server(argc - 1, argv + 1);
  else if (argc >= 2 && strcmp(argv[1], "classify") == 0)
    rc = cmd_classify(argc - 1, argv + 1);
  else if (argc >= 2 && strcmp(argv[1], "query") == 0)
    rc = cmd_query(argc - 1, argv + 1);
  if (rc == 2)
    fprintf(stderr, "usage: natprobe server [-t SECS] IP1[,IP2] PORT1[,PORT2]\n"
                    "       natprobe classify [-w MS] IP1 IP2 PORT1 PORT2\n"
                    "       natprobe query [-w MS] [-b PORT] IP:PORT\n");
  return rc;
}
