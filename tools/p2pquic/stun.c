/* p2pquic stun: our reflexive address from STUN servers (RFC 8489) and, with
 * two server addresses, the NAT's mapping behaviour (RFC 5780 4.3). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "nat/stun_client.h"

static const char usage[] =
    "usage: p2pquic stun HOST:PORT [HOST2:PORT2] [--bind ADDR:PORT] [--timeout SECONDS]\n"
    "\n"
    "Sends STUN Binding requests from one UDP socket and prints the reflexive\n"
    "(public) address each server saw. With a second server, or when the first\n"
    "names an alternate address (RFC 5780 OTHER-ADDRESS), it also asks that one\n"
    "and says whether the NAT's mapping is endpoint-independent (the same public\n"
    "address and port for every destination, good for hole punching) or not.\n"
    "The last line is machine-readable:\n"
    "  result mapped=IP:PORT mapping=endpoint-independent|dependent|none|unknown\n"
    "\n"
    "  --bind ADDR:PORT    local address to send from (default any address, any port)\n"
    "  --timeout SECONDS   per server (default 3)\n"
    "Exit status 0 when the first server answered, 1 if not, 2 for usage errors.\n";

typedef struct opts {
  const char *s1, *s2, *bind;
  double timeout;
} opts;

static int parse(int argc, char **argv, opts *o) {
  static const struct option lo[] = {{"bind", required_argument, NULL, 'b'},
                                     {"timeout", required_argument, NULL, 't'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c;
  memset(o, 0, sizeof(*o));
  o->timeout = 3;
  optind = 1;
  while ((c = getopt_long(argc, argv, "b:t:h", lo, NULL)) != -1) {
    switch (c) {
    case 'b': o->bind = optarg; break;
    case 't':
      o->timeout = atof(optarg);
      if (o->timeout <= 0 || o->timeout > 60)
        return p2pq_cli_usage_err("stun", "--timeout takes seconds (0 < S <= 60)");
      break;
    case 'h': fputs(usage, stdout); return -1;
    default: return p2pq_cli_usage_err("stun", "bad option for stun");
    }
  }
  if (optind >= argc || argc - optind > 2)
    return p2pq_cli_usage_err("stun", "stun needs one or two servers, HOST:PORT");
  o->s1 = argv[optind];
  o->s2 = argc - optind == 2 ? argv[optind + 1] : NULL;
  return 0;
}

/* One Binding transaction from fd to server, bounded by timeout. */
static int transact(int fd, const p2pq_addr *server, double timeout, p2pq_stun_client *c) {
  p2pq_stun_client_cfg cfg;
  struct sockaddr_storage ss;
  uint8_t out[64], in[1500];
  size_t n = 0;
  p2pq_tstamp deadline = p2pq_runtime_now() + (p2pq_tstamp)(timeout * 1e9);
  size_t sl = p2pq_addr_to_sockaddr(server, &ss);
  int rv;
  memset(&cfg, 0, sizeof(cfg)); /* the default fills only some fields */
  p2pq_stun_client_cfg_default(&cfg);
  cfg.rto = 250 * P2PQ_MS; /* an interactive tool: answers come in ms or not at all */
  if ((rv = p2pq_stun_client_init(c, &cfg, server)) != 0 ||
      (rv = p2pq_stun_client_start(c, p2pq_runtime_now(), p2pq_runtime_random, NULL, out,
                                   sizeof(out), &n)) != 0)
    return rv;
  for (;;) {
    p2pq_tstamp now = p2pq_runtime_now(), next = p2pq_stun_client_next_timeout(c);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ms;
    if (n > 0 && sendto(fd, out, n, 0, (struct sockaddr *)&ss, (socklen_t)sl) < 0 &&
        errno != EAGAIN)
      return P2PQ_ERR_IO;
    n = 0;
    if (now >= deadline)
      return P2PQ_ERR_TIMEOUT;
    if (next > deadline)
      next = deadline;
    ms = next > now ? (int)((next - now) / P2PQ_MS) + 1 : 0;
    if (poll(&pfd, 1, ms) > 0) {
      struct sockaddr_storage from;
      socklen_t fl = sizeof(from);
      p2pq_addr fa;
      ssize_t r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
      if (r < 0 || p2pq_addr_from_sockaddr(&fa, (struct sockaddr *)&from) != 0)
        continue;
      rv = p2pq_stun_client_on_recv(c, in, (size_t)r, &fa, p2pq_runtime_now(), NULL);
      if (rv == 0 || rv == P2PQ_ERR_STUN)
        return rv;
      continue;
    }
    rv = p2pq_stun_client_on_timeout(c, p2pq_runtime_now(), out, sizeof(out), &n);
    if (rv != 0)
      return rv;
  }
}

/* The socket's own address towards server (the IP a connected socket would
 * use, with fd's port), to recognise "no NAT". */
static void local_addr(int fd, const p2pq_addr *server, p2pq_addr *out) {
  struct sockaddr_storage ss, me;
  socklen_t ml = sizeof(me);
  size_t sl = p2pq_addr_to_sockaddr(server, &ss);
  int probe = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  p2pq_addr port;
  memset(out, 0, sizeof(*out));
  if (probe < 0)
    return;
  if (connect(probe, (struct sockaddr *)&ss, (socklen_t)sl) == 0 &&
      getsockname(probe, (struct sockaddr *)&me, &ml) == 0)
    p2pq_addr_from_sockaddr(out, (struct sockaddr *)&me);
  close(probe);
  ml = sizeof(me);
  if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0 &&
      p2pq_addr_from_sockaddr(&port, (struct sockaddr *)&me) == 0)
    out->port = port.port;
}

static int open_socket(const opts *o, const p2pq_addr *server) {
  static const uint8_t zero[16];
  struct sockaddr_storage ss;
  p2pq_addr b;
  size_t sl;
  int fd;
  if (o->bind != NULL) {
    if (p2pq_addr_parse(&b, o->bind, 0) != 0) {
      p2pq_cli_usage_err("stun", "cannot parse --bind '%s'", o->bind);
      return -2;
    }
  } else if (server->family == 4) {
    p2pq_addr_v4(&b, zero, 0);
  } else {
    p2pq_addr_v6(&b, zero, 0);
  }
  sl = p2pq_addr_to_sockaddr(&b, &ss);
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0) {
    p2pq_cli_err("cannot bind %s: %s", o->bind ? o->bind : "a UDP socket", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static const char *mapping_name(p2pq_nat_mapping m) {
  switch (m) {
  case P2PQ_NAT_MAPPING_NONE: return "none";
  case P2PQ_NAT_MAPPING_ENDPOINT_INDEPENDENT: return "endpoint-independent";
  case P2PQ_NAT_MAPPING_DEPENDENT: return "dependent";
  default: return "unknown";
  }
}

static void report_failure(const char *server, int rv, const p2pq_stun_client *c, double t) {
  if (rv == P2PQ_ERR_TIMEOUT)
    p2pq_cli_err("no STUN answer from %s within %.1f s", server, t);
  else if (rv == P2PQ_ERR_STUN && c->error_code)
    p2pq_cli_err("%s answered with STUN error %u", server, (unsigned)c->error_code);
  else
    p2pq_cli_err("STUN to %s failed: %s", server, p2pq_strerror(rv));
}

int p2pq_cli_stun(int argc, char **argv) {
  opts o;
  p2pq_addr s1, s2, local;
  p2pq_stun_client c1, c2;
  char a[P2PQ_ADDR_STRLEN], b[P2PQ_ADDR_STRLEN];
  p2pq_nat_mapping verdict = P2PQ_NAT_MAPPING_UNKNOWN;
  int fd, rv, have2 = 0;
  if ((rv = parse(argc, argv, &o)) != 0)
    return rv < 0 ? P2PQ_CLI_OK : rv;
  if (p2pq_addr_parse(&s1, o.s1, P2PQ_STUN_PORT) != 0 ||
      (o.s2 != NULL && p2pq_addr_parse(&s2, o.s2, P2PQ_STUN_PORT) != 0))
    return p2pq_cli_usage_err("stun", "cannot parse the server: use IP[:PORT] or [IPv6]:PORT");
  if ((fd = open_socket(&o, &s1)) < 0)
    return fd == -2 ? P2PQ_CLI_USAGE : P2PQ_CLI_FAIL;
  local_addr(fd, &s1, &local);
  if ((rv = transact(fd, &s1, o.timeout, &c1)) != 0) {
    report_failure(o.s1, rv, &c1, o.timeout);
    close(fd);
    return P2PQ_CLI_FAIL;
  }
  printf("server %s: reflexive address %s", p2pq_addr_format(&s1, a, sizeof(a)),
         p2pq_addr_format(&c1.mapped, b, sizeof(b)));
  if (c1.other_address.family != 0)
    printf(" (other address %s)", p2pq_addr_format(&c1.other_address, a, sizeof(a)));
  printf("\n");
  if (o.s2 == NULL && c1.other_address.family == s1.family) {
    s2 = c1.other_address;
    have2 = 1;
  } else if (o.s2 != NULL) {
    have2 = 1;
  }
  if (have2) {
    p2pq_addr_format(&s2, a, sizeof(a));
    if ((rv = transact(fd, &s2, o.timeout, &c2)) == 0) {
      printf("server %s: reflexive address %s\n", a, p2pq_addr_format(&c2.mapped, b, sizeof(b)));
      verdict = p2pq_stun_mapping_behaviour(local.family ? &local : NULL, &s1, &c1.mapped, &s2,
                                            &c2.mapped);
    } else {
      report_failure(a, rv, &c2, o.timeout);
    }
  } else if (local.family != 0 && p2pq_addr_equal(&local, &c1.mapped)) {
    verdict = P2PQ_NAT_MAPPING_NONE;
  }
  if (verdict == P2PQ_NAT_MAPPING_ENDPOINT_INDEPENDENT)
    printf("mapping: endpoint-independent (same public address for both servers)\n");
  else if (verdict == P2PQ_NAT_MAPPING_DEPENDENT)
    printf("mapping: address/port-dependent (a new public port per destination: "
           "symmetric NAT)\n");
  else if (verdict == P2PQ_NAT_MAPPING_NONE)
    printf("mapping: none (the reflexive address is our own: no NAT)\n");
  else
    printf("mapping: unknown (needs a second server address)\n");
  printf("result mapped=%s mapping=%s local=%s\n", p2pq_addr_format(&c1.mapped, a, sizeof(a)),
         mapping_name(verdict), p2pq_addr_format(&local, b, sizeof(b)));
  close(fd);
  return P2PQ_CLI_OK;
}
