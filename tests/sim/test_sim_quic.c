/* QUIC endpoints in the simulator: a client behind a NAT downloads from a public
 * server... uploads, rather: the client sends N bytes on one stream and the server
 * checks every byte. Scenarios: random loss 0/5/20 % with reordering, every NAT
 * type, a NAT rebinding mid-transfer, with many seeds. A failure prints its seed
 * (rerun one with SIM_SEED=<n>). */
#include <math.h>
#include <string.h>

#include "crypto/cert.h"
#include "p2pq/quic.h"
#include "sim_test.h"

typedef struct quic_node {
  sim *s;
  sim_host *host;
  p2pq_endpoint *ep;
  p2pq_conn *conn;
  int is_server;
  int connected, closed, close_err;
  /* client: what to send */
  const uint8_t *data;
  size_t len, off;
  uint64_t sid;
  int stream_open;
  /* server: what arrived */
  uint64_t rx_stream;
  size_t rx_len;
  int rx_fin, rx_bad;
  const uint8_t *expect;
  int migrated;
  int observed_events;
  p2pq_addr observed;
} quic_node;

static void node_events(quic_node *q) {
  p2pq_event ev;
  while (p2pq_endpoint_poll_event(q->ep, &ev)) {
    switch (ev.type) {
    case P2PQ_EV_CONN_NEW: q->conn = ev.conn; break;
    case P2PQ_EV_CONNECTED: q->connected = 1; break;
    case P2PQ_EV_CLOSED:
      q->closed = 1;
      q->close_err = ev.error;
      break;
    case P2PQ_EV_MIGRATED: q->migrated++; break;
    case P2PQ_EV_OBSERVED_ADDRESS:
      q->observed_events++;
      q->observed = ev.addr;
      break;
    case P2PQ_EV_STREAM_OPENED:
    case P2PQ_EV_STREAM_READABLE: q->rx_stream = ev.stream_id; break;
    default: break;
    }
  }
}

static void node_pump(quic_node *q) {
  if (q->conn == NULL || q->closed)
    return;
  if (!q->is_server && q->connected) {
    if (!q->stream_open && p2pq_conn_open_stream(q->conn, 1, &q->sid) == 0)
      q->stream_open = 1;
    while (q->stream_open && q->off < q->len) {
      int64_t w = p2pq_stream_write(q->conn, q->sid, q->data + q->off, q->len - q->off, 1);
      if (w <= 0)
        break;
      q->off += (size_t)w;
    }
  }
  if (q->is_server && q->rx_stream != UINT64_MAX && !q->rx_fin) {
    uint8_t buf[65536];
    for (;;) {
      int fin = 0;
      int64_t r = p2pq_stream_read(q->conn, q->rx_stream, buf, sizeof(buf), &fin);
      if (r > 0) {
        if (q->rx_len + (size_t)r > q->len || memcmp(buf, q->expect + q->rx_len, (size_t)r) != 0)
          q->rx_bad = 1;
        q->rx_len += (size_t)r;
      }
      if (fin)
        q->rx_fin = 1;
      if (r <= 0 || fin)
        break;
    }
  }
}

static void node_flush(quic_node *q, sim_host *h) {
  uint8_t buf[1500];
  p2pq_tx tx;
  int n, guard = 0;
  while ((n = p2pq_endpoint_send(q->ep, buf, sizeof(buf), 1, &tx, sim_now(q->s))) > 0 &&
         guard++ < 4096)
    sim_send(h, tx.local.family ? &tx.local : NULL, &tx.remote, buf, (size_t)n);
}

static void app_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                     const uint8_t *d, size_t n, p2pq_tstamp now) {
  quic_node *q = app;
  p2pq_endpoint_recv(q->ep, d, n, local, remote, 0, now);
  node_events(q);
  node_pump(q);
  node_flush(q, h);
}

static p2pq_tstamp app_next(void *app) {
  quic_node *q = app;
  return p2pq_endpoint_next_timeout(q->ep);
}

static void app_timeout(void *app, sim_host *h, p2pq_tstamp now) {
  quic_node *q = app;
  p2pq_endpoint_on_timeout(q->ep, now);
  node_events(q);
  node_pump(q);
  node_flush(q, h);
}

static const sim_app_ops quic_app_ops = {app_recv, app_next, app_timeout};

static char *g_cert, *g_key;
static size_t g_cert_len, g_key_len;
static p2pq_creds *g_screds, *g_ccreds;

static void node_init(quic_node *q, sim *s, sim_host *h, int is_server) {
  static const char *alpn[] = {"p2pq-test"};
  p2pq_config cfg;
  memset(q, 0, sizeof(*q));
  q->s = s;
  q->host = h;
  q->is_server = is_server;
  q->rx_stream = UINT64_MAX;
  memset(&cfg, 0, sizeof(cfg));
  p2pq_settings_default(&cfg.settings);
  cfg.is_server = is_server;
  cfg.rand = sim_rand_fill;
  cfg.rand_user = s;
  cfg.creds = is_server ? g_screds : g_ccreds;
  cfg.alpn = alpn;
  cfg.n_alpn = 1;
  cfg.settings.idle_timeout_ms = 120000; /* 20% loss can stall a while */
  /* address discovery: the server reports, the client wants reports */
  cfg.settings.address_discovery = is_server ? 0 : 1;
  assert_int_equal(p2pq_endpoint_new(&q->ep, &cfg), 0);
  sim_host_set_app(h, &quic_app_ops, q);
}

typedef struct scenario {
  const sim_nat_cfg *nat; /* NULL: client has a public address */
  const sim_nat_cfg *cgn; /* non-NULL: nat sits behind this carrier-grade NAT */
  double loss, reorder;
  p2pq_tstamp jitter;
  size_t size;
  int rebind_midway;
} scenario;

/* Client (peer 0, maybe behind NATs) uploads sc->size bytes to the server (peer 1). */
static void run_scenario(uint64_t seed, const scenario *sc) {
  sim *s = sim_new(seed);
  sim_topo topo;
  sim_link_cfg lc;
  quic_node cli, srv;
  p2pq_addr saddr;
  uint8_t *data = malloc(sc->size);
  int rebound = 0;
  sim_rand_fill(s, data, sc->size);
  memset(&lc, 0, sizeof(lc));
  lc.delay = 10 * P2PQ_MS;
  lc.jitter = sc->jitter;
  lc.keep_order = sc->jitter == 0;
  /* per link, so that the three hops peer-NAT-internet-server lose sc->loss */
  lc.loss = 1.0 - pow(1.0 - sc->loss, 1.0 / 3.0);
  lc.reorder = sc->reorder;
  lc.reorder_delay = 5 * P2PQ_MS;
  lc.bandwidth = 100000000; /* 100 Mbit/s */
  lc.queue_limit = 256 * 1024;
  sim_host *ch;
  sim_nat *rebind_nat;
  if (sc->cgn != NULL) {
    /* home NAT behind a carrier-grade NAT */
    sim_nat *cgn, *home;
    assert_int_equal(sim_topo_two_peers_behind_nats(s, NULL, NULL, &lc, &topo), 0);
    cgn = sim_attach_nat(s, &topo.internet->node, "cgn", sc->cgn, "198.51.100.50", &lc);
    home = sim_attach_nat(s, &cgn->node, "home", sc->nat, "100.64.0.2", &lc);
    ch = sim_attach_host(s, &home->node, "inner", "192.168.7.2", &lc);
    rebind_nat = cgn;
  } else if (sc->nat != NULL && sc->nat->firewall) {
    /* public addresses behind a stateful firewall */
    sim_nat *fw;
    assert_int_equal(sim_topo_two_peers_behind_nats(s, NULL, NULL, &lc, &topo), 0);
    fw = sim_attach_firewall(s, &topo.internet->node, "fw", sc->nat, "198.51.100.128", 25, &lc);
    ch = sim_attach_host(s, &fw->node, "fwpeer", "198.51.100.130", &lc);
    rebind_nat = NULL;
  } else {
    assert_int_equal(sim_topo_two_peers_behind_nats(s, sc->nat, NULL, &lc, &topo), 0);
    ch = topo.peer[0];
    rebind_nat = topo.nat[0];
  }
  assert_non_null(ch);
  node_init(&srv, s, topo.peer[1], 1);
  node_init(&cli, s, ch, 0);
  srv.len = cli.len = sc->size;
  srv.expect = data;
  cli.data = data;
  assert_int_equal(sim_host_addr(topo.peer[1], 4, 4433, &saddr), 0);
  {
    p2pq_addr local;
    assert_int_equal(sim_host_addr(ch, 4, 5000, &local), 0);
    assert_int_equal(p2pq_endpoint_connect(cli.ep, &cli.conn, &local, &saddr, NULL, sim_now(s)),
                     0);
  }
  node_flush(&cli, ch);
  sim_host_timer_update(ch);
  while (!srv.rx_fin && !cli.closed && sim_now(s) < 1500 * P2PQ_S) {
    if (!sim_step(s))
      break;
    if (sc->rebind_midway && !rebound && srv.rx_len >= sc->size / 2 && rebind_nat != NULL) {
      sim_nat_rebind(rebind_nat);
      rebound = 1;
    }
  }
  if (getenv("SIM_DEBUG")) {
    p2pq_conn_stats cs;
    if (cli.conn != NULL) {
      p2pq_conn_get_stats(cli.conn, &cs);
      fprintf(stderr,
              "seed %llu: t=%.3fs connected=%d closed=%d err=%d sent=%llu lost=%llu cwnd=%llu "
              "srtt=%.1fms off=%zu rx=%zu fin=%d\n",
              (unsigned long long)seed, (double)sim_now(s) / 1e9, cli.connected, cli.closed,
              cli.close_err, (unsigned long long)cs.pkts_sent, (unsigned long long)cs.pkts_lost,
              (unsigned long long)cs.cwnd, (double)cs.srtt_ns / 1e6, cli.off, srv.rx_len,
              srv.rx_fin);
    }
  }
  SIM_ASSERT(seed, cli.connected);
  SIM_ASSERT(seed, !srv.rx_bad);
  SIM_ASSERT(seed, srv.rx_fin);
  SIM_ASSERT(seed, srv.rx_len == sc->size);
  SIM_ASSERT(seed, !cli.closed);
  if (sc->rebind_midway && rebind_nat != NULL)
    SIM_ASSERT(seed, srv.migrated >= 1);
  /* address discovery: the client learned the address the NAT gave it, and
   * learned the new one after a rebinding */
  {
    p2pq_addr local, ext;
    assert_int_equal(sim_host_addr(ch, 4, 5000, &local), 0);
    SIM_ASSERT(seed, cli.observed_events >= 1);
    if (rebind_nat != NULL && sc->cgn == NULL) {
      SIM_ASSERT(seed, sim_nat_lookup(rebind_nat, &local, &saddr, &ext) == 0);
      SIM_ASSERT(seed, p2pq_addr_equal(&cli.observed, &ext));
      if (sc->rebind_midway)
        SIM_ASSERT(seed, cli.observed_events >= 2);
    } else if (rebind_nat == NULL) {
      SIM_ASSERT(seed, p2pq_addr_equal(&cli.observed, &local)); /* no translation */
    }
  }
  p2pq_endpoint_free(cli.ep);
  p2pq_endpoint_free(srv.ep);
  sim_free(s);
  free(data);
}

static sim_nat_cfg nat_cfg(sim_nat_behaviour map, sim_nat_behaviour filt, sim_port_alloc pa) {
  sim_nat_cfg c;
  sim_nat_cfg_default(&c);
  c.mapping = map;
  c.filtering = filt;
  c.port_alloc = pa;
  return c;
}

static void test_loss_matrix(void **state) {
  sim_nat_cfg pr = nat_cfg(SIM_EI, SIM_APD, SIM_PORT_PRESERVE);
  scenario sc = {.nat = &pr, .size = 10u << 20};
  (void)state;
  SIM_FOR_SEEDS(seed, 100, 3) run_scenario(seed, &sc);
  sc.loss = 0.05;
  sc.reorder = 0.02;
  SIM_FOR_SEEDS(seed, 200, 3) run_scenario(seed, &sc);
  sc.loss = 0.20;
  SIM_FOR_SEEDS(seed, 300, 2) run_scenario(seed, &sc);
}

static void test_many_seeds_small(void **state) {
  sim_nat_cfg pr = nat_cfg(SIM_EI, SIM_APD, SIM_PORT_PRESERVE);
  scenario sc = {.nat = &pr, .size = 64u << 10, .loss = 0.10, .reorder = 0.05,
                 .jitter = 2 * P2PQ_MS};
  (void)state;
  SIM_FOR_SEEDS(seed, 1000, 40) run_scenario(seed, &sc);
}

static void test_every_nat_with_rebinding(void **state) {
  sim_nat_cfg cfgs[5];
  cfgs[0] = nat_cfg(SIM_EI, SIM_EI, SIM_PORT_PRESERVE);    /* full cone */
  cfgs[1] = nat_cfg(SIM_EI, SIM_AD, SIM_PORT_SEQUENTIAL);  /* restricted cone */
  cfgs[2] = nat_cfg(SIM_EI, SIM_APD, SIM_PORT_PRESERVE);   /* port-restricted cone */
  cfgs[3] = nat_cfg(SIM_APD, SIM_APD, SIM_PORT_RANDOM);    /* symmetric */
  cfgs[4] = nat_cfg(SIM_EI, SIM_APD, SIM_PORT_PRESERVE);
  cfgs[4].firewall = 1;                                     /* firewall, no NAT */
  sim_nat_cfg cgn = nat_cfg(SIM_EI, SIM_APD, SIM_PORT_RANDOM);
  (void)state;
  for (int i = 0; i < 6; i++) {
    scenario sc = {.nat = &cfgs[i < 5 ? i : 2], .size = 2u << 20, .loss = 0.01,
                   .rebind_midway = 1};
    if (i == 5)
      sc.cgn = &cgn; /* double NAT: the carrier-grade one rebinds */
    if (sc.nat->firewall)
      sc.rebind_midway = 0; /* nothing to rebind without translation */
    SIM_FOR_SEEDS(seed, 500 + 10 * (uint64_t)i, 3) run_scenario(seed, &sc);
  }
}

static int setup(void **state) {
  p2pq_creds_config cc;
  (void)state;
  if (p2pq_cert_self_signed("sim", 3600, &g_cert, &g_cert_len, &g_key, &g_key_len) != 0)
    return -1;
  memset(&cc, 0, sizeof(cc));
  cc.is_server = 1;
  cc.cert_pem = g_cert;
  cc.cert_pem_len = g_cert_len;
  cc.key_pem = g_key;
  cc.key_pem_len = g_key_len;
  if (p2pq_creds_new(&g_screds, &cc) != 0)
    return -1;
  memset(&cc, 0, sizeof(cc));
  cc.verify = P2PQ_VERIFY_NONE;
  return p2pq_creds_new(&g_ccreds, &cc);
}

static int teardown(void **state) {
  (void)state;
  p2pq_creds_free(g_screds);
  p2pq_creds_free(g_ccreds);
  free(g_cert);
  free(g_key);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loss_matrix),
      cmocka_unit_test(test_many_seeds_small),
      cmocka_unit_test(test_every_nat_with_rebinding),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
