/* p2pquic whoami: connect over QUIC with address discovery and print the
 * address the server observed for us (draft-ietf-quic-address-discovery). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto/cert.h"

static const char usage[] =
    "usage: p2pquic whoami HOST:PORT (--pin FINGERPRINT | --insecure) [--timeout SECONDS]\n"
    "\n"
    "Connects to a p2pquic server over QUIC, asks it for address discovery\n"
    "(OBSERVED_ADDRESS frames) and prints the address it saw us come from: our\n"
    "public address and port behind a NAT. The last line is machine-readable:\n"
    "  result observed=IP:PORT local=IP:PORT\n"
    "\n"
    "  --pin FINGERPRINT   accept only the server key with this fingerprint\n"
    "  --insecure          accept any server key (testing only)\n"
    "  --timeout SECONDS   give up after this long (default 5)\n"
    "Exit status 0 with an observation, 1 without one, 2 for usage errors.\n";

typedef struct whoami {
  p2pq_conn *conn;
  p2pq_addr server;
  int unreachable;
  p2pq_addr observed;
  int have, connected, closed, closing;
  int error;
} whoami;

static int on_event(void *user, p2pq_runtime *rt, const p2pq_event *ev) {
  whoami *w = user;
  switch (ev->type) {
  case P2PQ_EV_NONE:
    /* ICMP port unreachable before the handshake: nobody listens there */
    if (!w->connected && p2pq_runtime_unreachable(rt, &w->server) != 0) {
      w->unreachable = 1;
      return 1;
    }
    break;
  case P2PQ_EV_CONNECTED: w->connected = 1; break;
  case P2PQ_EV_OBSERVED_ADDRESS:
    w->observed = ev->addr;
    w->have = 1;
    break;
  case P2PQ_EV_CLOSED:
    w->closed = 1;
    w->error = ev->error;
    return 1;
  default: break;
  }
  if (w->have && !w->closing) {
    w->closing = 1;
    p2pq_conn_close(w->conn, 1, 0, "whoami done", p2pq_runtime_now());
  }
  return 0;
}

typedef struct opts {
  const char *server, *pin;
  int insecure;
  double timeout;
} opts;

static int parse(int argc, char **argv, opts *o) {
  static const struct option lo[] = {{"pin", required_argument, NULL, 'p'},
                                     {"insecure", no_argument, NULL, 'k'},
                                     {"timeout", required_argument, NULL, 't'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  int c;
  memset(o, 0, sizeof(*o));
  o->timeout = 5;
  optind = 1;
  while ((c = getopt_long(argc, argv, "p:kt:h", lo, NULL)) != -1) {
    switch (c) {
    case 'p': o->pin = optarg; break;
    case 'k': o->insecure = 1; break;
    case 't':
      o->timeout = atof(optarg);
      if (o->timeout <= 0 || o->timeout > 3600)
        return p2pq_cli_usage_err("whoami", "--timeout takes seconds (0 < S <= 3600)");
      break;
    case 'h': fputs(usage, stdout); return -1;
    default: return p2pq_cli_usage_err("whoami", "bad option for whoami");
    }
  }
  if (optind != argc - 1)
    return p2pq_cli_usage_err("whoami", "whoami needs one HOST:PORT");
  o->server = argv[optind];
  if (!!o->pin + o->insecure != 1)
    return p2pq_cli_usage_err("whoami", "say how to check the server: --pin sha256:... or "
                                        "--insecure (exactly one)");
  return 0;
}

static int make_creds(const opts *o, p2pq_creds **out) {
  p2pq_creds_config cc;
  uint8_t pin[32];
  int rv;
  memset(&cc, 0, sizeof(cc));
  if (o->pin != NULL) {
    if (p2pq_fingerprint_parse(o->pin, pin) != 0)
      return p2pq_cli_usage_err("whoami", "--pin '%s' is not a fingerprint (sha256:<64 hex>)",
                                o->pin);
    cc.verify = P2PQ_VERIFY_PIN;
    cc.pins = (const uint8_t(*)[32])pin;
    cc.n_pins = 1;
  }
  if ((rv = p2pq_creds_new(out, &cc)) != 0) {
    p2pq_cli_err("cannot set up TLS: %s", p2pq_strerror(rv));
    return P2PQ_CLI_FAIL;
  }
  return 0;
}

int p2pq_cli_whoami(int argc, char **argv) {
  static const char *alpn[] = {"hq-interop"};
  static const uint8_t zero[16];
  opts o;
  whoami w;
  p2pq_creds *creds = NULL;
  p2pq_runtime *rt = NULL;
  p2pq_runtime_config rc;
  p2pq_config qc;
  p2pq_addr server, any, local;
  char err[512], a[P2PQ_ADDR_STRLEN], b[P2PQ_ADDR_STRLEN];
  p2pq_tstamp deadline;
  int rv;
  if ((rv = parse(argc, argv, &o)) != 0)
    return rv < 0 ? P2PQ_CLI_OK : rv;
  if (p2pq_addr_parse(&server, o.server, -1) != 0)
    return p2pq_cli_usage_err("whoami", "cannot parse '%s': use IP:PORT or [IPv6]:PORT",
                              o.server);
  if ((rv = make_creds(&o, &creds)) != 0)
    return rv;
  if (server.family == 4)
    p2pq_addr_v4(&any, zero, 0);
  else
    p2pq_addr_v6(&any, zero, 0);
  memset(&rc, 0, sizeof(rc));
  rc.bind = &any;
  rc.n_bind = 1;
  rc.icmp_errors = 1;
  memset(&qc, 0, sizeof(qc));
  qc.creds = creds;
  qc.alpn = alpn;
  qc.n_alpn = 1;
  p2pq_settings_default(&qc.settings);
  qc.settings.address_discovery = 1; /* receive observations only */
  qc.settings.handshake_timeout_ms = (uint64_t)(o.timeout * 1000);
  if ((rv = p2pq_runtime_new(&rt, &rc, &qc, err, sizeof(err))) != 0) {
    p2pq_cli_err("%s", err[0] ? err : p2pq_strerror(rv));
    p2pq_creds_free(creds);
    return P2PQ_CLI_FAIL;
  }
  memset(&w, 0, sizeof(w));
  w.server = server;
  if ((rv = p2pq_runtime_connect(rt, &w.conn, &server, NULL)) != 0) {
    p2pq_cli_err("cannot connect to %s: %s", o.server, p2pq_strerror(rv));
    p2pq_runtime_free(rt);
    p2pq_creds_free(creds);
    return P2PQ_CLI_FAIL;
  }
  p2pq_cli_catch_signals(rt, 130);
  deadline = p2pq_runtime_now() + (p2pq_tstamp)(o.timeout * 1e9);
  rv = p2pq_runtime_run(rt, deadline, on_event, &w);
  if (!w.closed && !w.unreachable && rv != 130) { /* out of time: close politely, briefly */
    if (!w.closing)
      p2pq_conn_close(w.conn, 1, 0, "whoami timeout", p2pq_runtime_now());
    (void)p2pq_runtime_run(rt, p2pq_runtime_now() + 300 * P2PQ_MS, on_event, &w);
  }
  p2pq_cli_catch_signals(NULL, 0);
  p2pq_runtime_local_addr(rt, 0, &local);
  if (w.have) {
    p2pq_addr_format(&w.observed, a, sizeof(a));
    printf("server %s observed this host as %s (local socket %s)\n", o.server, a,
           p2pq_addr_format(&local, b, sizeof(b)));
    printf("result observed=%s local=%s\n", a, b);
    rv = P2PQ_CLI_OK;
  } else {
    if (rv == 130)
      p2pq_cli_err("interrupted");
    else if (w.unreachable)
      p2pq_cli_err("no QUIC server at %s (port unreachable)", o.server);
    else if (w.connected)
      p2pq_cli_err("connected to %s, but it sent no observed address (does it offer "
                   "address discovery?)", o.server);
    else
      p2pq_cli_err("no QUIC connection to %s: %s", o.server,
                   w.closed ? p2pq_strerror(w.error) : "timed out");
    rv = P2PQ_CLI_FAIL;
  }
  p2pq_runtime_free(rt);
  p2pq_creds_free(creds);
  return rv;
}
