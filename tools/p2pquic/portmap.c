/* p2pquic portmap: open a UDP port on the home router (PCP, NAT-PMP, UPnP IGD). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "peer/portmap.h"

static const char usage[] =
    "usage: p2pquic portmap --port N [--proto pcp|natpmp|upnp] [--lifetime S]\n"
    "                       [--external-port N] [--gateway IP] [--hold S | --delete]\n"
    "                       [--timeout S]\n"
    "\n"
    "Asks the router for an inbound UDP mapping of local port N, trying PCP,\n"
    "NAT-PMP and UPnP IGD in that order (or only --proto), each for a bounded\n"
    "time, and prints the public address and port it got. Without --hold the\n"
    "mapping stays until its lifetime ends. The last line is machine-readable:\n"
    "  result proto=pcp|natpmp|upnp external=IP:PORT lifetime=S\n"
    "  result failed error=TEXT\n"
    "\n"
    "  --port N            local UDP port to open (required)\n"
    "  --proto NAME        only this protocol (pcp, natpmp or upnp)\n"
    "  --lifetime S        requested lifetime in seconds (default 7200)\n"
    "  --external-port N   wanted public port (default: N)\n"
    "  --gateway IP        router address (default: the default gateway)\n"
    "  --hold S            keep the mapping S seconds (0: until Ctrl-C), renewing it,\n"
    "                      then delete it\n"
    "  --delete            remove the mapping: map (refresh) and delete at once. A PCP\n"
    "                      mapping made by another process cannot be removed (its\n"
    "                      nonce is unknown); it ends with its lifetime\n"
    "  --timeout S         bound on each protocol's attempt (default 3)\n"
    "Exit status 0 on success, 1 when no protocol worked (within the bound), 2 for\n"
    "usage errors.\n";

typedef struct opts {
  long port, ext_port, lifetime, hold;
  unsigned protocols;
  const char *gateway;
  int del, holding;
  double timeout;
} opts;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static int parse_num(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

static int parse(int argc, char **argv, opts *o) {
  static const struct option lo[] = {
      {"port", required_argument, NULL, 'p'},     {"proto", required_argument, NULL, 'P'},
      {"lifetime", required_argument, NULL, 'l'}, {"external-port", required_argument, NULL, 'e'},
      {"gateway", required_argument, NULL, 'g'},  {"hold", required_argument, NULL, 'H'},
      {"delete", no_argument, NULL, 'd'},         {"timeout", required_argument, NULL, 't'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  int c;
  memset(o, 0, sizeof(*o));
  o->timeout = 3;
  optind = 1;
  while ((c = getopt_long(argc, argv, "p:P:l:e:g:H:dt:h", lo, NULL)) != -1) {
    switch (c) {
    case 'p':
      if (parse_num(optarg, 1, 65535, &o->port))
        return p2pq_cli_usage_err("portmap", "--port takes 1..65535");
      break;
    case 'e':
      if (parse_num(optarg, 1, 65535, &o->ext_port))
        return p2pq_cli_usage_err("portmap", "--external-port takes 1..65535");
      break;
    case 'l':
      if (parse_num(optarg, 1, 604800, &o->lifetime))
        return p2pq_cli_usage_err("portmap", "--lifetime takes 1..604800 seconds");
      break;
    case 'H':
      if (parse_num(optarg, 0, 86400 * 365, &o->hold))
        return p2pq_cli_usage_err("portmap", "--hold takes seconds (0: until Ctrl-C)");
      o->holding = 1;
      break;
    case 'P':
      if (strcmp(optarg, "pcp") == 0)
        o->protocols = P2PQ_PORTMAP_PCP;
      else if (strcmp(optarg, "natpmp") == 0)
        o->protocols = P2PQ_PORTMAP_NATPMP;
      else if (strcmp(optarg, "upnp") == 0)
        o->protocols = P2PQ_PORTMAP_UPNP;
      else
        return p2pq_cli_usage_err("portmap", "--proto is pcp, natpmp or upnp");
      break;
    case 'g': o->gateway = optarg; break;
    case 'd': o->del = 1; break;
    case 't':
      o->timeout = atof(optarg);
      if (o->timeout <= 0 || o->timeout > 120)
        return p2pq_cli_usage_err("portmap", "--timeout takes seconds (0 < S <= 120)");
      break;
    case 'h': fputs(usage, stdout); return -1;
    default: return p2pq_cli_usage_err("portmap", "bad option for portmap");
    }
  }
  if (optind < argc)
    return p2pq_cli_usage_err("portmap", "unexpected argument '%s'", argv[optind]);
  if (o->port == 0)
    return p2pq_cli_usage_err("portmap", "portmap needs --port N (the local UDP port)");
  if (o->del && o->holding)
    return p2pq_cli_usage_err("portmap", "--hold and --delete do not go together");
  return 0;
}

static const char *short_name(int proto) {
  return proto == P2PQ_PORTMAP_PCP ? "pcp" : proto == P2PQ_PORTMAP_NATPMP ? "natpmp" : "upnp";
}

static void on_event(void *user, const p2pq_portmap_event *ev) {
  char a[P2PQ_ADDR_STRLEN];
  (void)user;
  switch (ev->type) {
  case P2PQ_PORTMAP_EV_MAPPED:
    printf("%s: mapped, public address %s, lifetime %u s\n", p2pq_portmap_proto_name(ev->proto),
           p2pq_addr_format(&ev->external, a, sizeof(a)), (unsigned)ev->lifetime);
    break;
  case P2PQ_PORTMAP_EV_PROTO_FAILED:
  case P2PQ_PORTMAP_EV_LOST:
  case P2PQ_PORTMAP_EV_DELETED: printf("%s\n", ev->detail); break;
  default: break;
  }
  fflush(stdout);
}

static void hold(p2pq_portmap *pm, const opts *o) {
  struct sigaction sa;
  p2pq_tstamp end = o->hold ? p2pq_portmap_now() + (p2pq_tstamp)o->hold * P2PQ_S
                            : P2PQ_TSTAMP_MAX;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("holding the mapping %s; then deleting it\n",
         o->hold ? "for the given time" : "until Ctrl-C");
  fflush(stdout);
  while (!g_stop && p2pq_portmap_now() < end &&
         p2pq_portmap_get_state(pm) == P2PQ_PORTMAP_MAPPED) {
    p2pq_tstamp step = p2pq_portmap_now() + 200 * P2PQ_MS;
    (void)p2pq_portmap_run(pm, step < end ? step : end, 1);
  }
}

static int finish_delete(p2pq_portmap *pm, const opts *o) {
  if (p2pq_portmap_delete(pm) != 0)
    return P2PQ_CLI_FAIL;
  (void)p2pq_portmap_run(pm, p2pq_portmap_now() + (p2pq_tstamp)((o->timeout + 3) * 1e9), 0);
  if (p2pq_portmap_last_error(pm, NULL) != 0)
    return P2PQ_CLI_FAIL;
  return P2PQ_CLI_OK;
}

int p2pq_cli_portmap(int argc, char **argv) {
  opts o;
  p2pq_portmap_config c;
  p2pq_portmap *pm;
  p2pq_addr gw, local, ext;
  const char *detail;
  char a[P2PQ_ADDR_STRLEN], b[P2PQ_ADDR_STRLEN];
  uint32_t life;
  int rv, proto;
  p2pq_tstamp bound;
  if ((rv = parse(argc, argv, &o)) != 0)
    return rv < 0 ? P2PQ_CLI_OK : rv;
  bound = (p2pq_tstamp)(o.timeout * 1e9);
  memset(&c, 0, sizeof(c));
  c.internal_port = (uint16_t)o.port;
  c.external_port = (uint16_t)o.ext_port;
  c.lifetime = (uint32_t)o.lifetime;
  c.protocols = o.protocols;
  c.pcp_timeout = c.natpmp_timeout = c.upnp_timeout = bound;
  c.cb = on_event;
  c.keep_on_free = !o.holding && !o.del; /* the mapping outlives this process */
  if (o.gateway != NULL && p2pq_addr_parse(&c.gateway, o.gateway, 0) != 0)
    return p2pq_cli_usage_err("portmap", "cannot parse --gateway '%s' (an IP address)",
                              o.gateway);
  if ((rv = p2pq_portmap_new(&pm, &c)) != 0) {
    p2pq_cli_err("%s", rv == P2PQ_ERR_NO_GATEWAY ? "no default gateway (give --gateway IP)"
                                                 : p2pq_strerror(rv));
    printf("result failed error=%s\n", rv == P2PQ_ERR_NO_GATEWAY ? "no-gateway" : "io");
    return P2PQ_CLI_FAIL;
  }
  p2pq_portmap_addrs(pm, &gw, &local);
  local.port = (uint16_t)o.port;
  printf("gateway %s, asking for a mapping of UDP %s\n", p2pq_addr_format(&gw, a, sizeof(a)),
         p2pq_addr_format(&local, b, sizeof(b)));
  fflush(stdout);
  p2pq_portmap_start(pm);
  /* every protocol is bounded; this is only a backstop */
  (void)p2pq_portmap_run(pm, p2pq_portmap_now() + 4 * bound + 2 * P2PQ_S, 0);
  if (p2pq_portmap_get_state(pm) != P2PQ_PORTMAP_MAPPED) {
    p2pq_portmap_last_error(pm, &detail);
    printf("%s\nresult failed error=%s\n", detail,
           p2pq_strerror(p2pq_portmap_last_error(pm, NULL)));
    p2pq_portmap_free(pm);
    return P2PQ_CLI_FAIL;
  }
  p2pq_portmap_mapping(pm, &proto, &ext, &life);
  printf("mapped UDP %s -> public %s via %s for %u s\n", b,
         p2pq_addr_format(&ext, a, sizeof(a)), p2pq_portmap_proto_name(proto), (unsigned)life);
  printf("result proto=%s external=%s lifetime=%u\n", short_name(proto), a, (unsigned)life);
  fflush(stdout);
  rv = P2PQ_CLI_OK;
  if (o.holding) {
    hold(pm, &o);
    if (p2pq_portmap_get_state(pm) != P2PQ_PORTMAP_MAPPED)
      rv = P2PQ_CLI_FAIL; /* lost while holding */
    else
      rv = finish_delete(pm, &o);
  } else if (o.del) {
    rv = finish_delete(pm, &o);
  }
  if (o.holding || o.del)
    printf("result %s\n", rv == 0 ? "deleted" : "delete-failed");
  p2pq_portmap_free(pm);
  return rv;
}
