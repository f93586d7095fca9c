/* The sans-I/O endpoint adapter: a toy stop-and-wait endpoint (datagrams, timers,
 * randomness all from the simulation) transfers messages through NATs over lossy,
 * jittery links, deterministically. */
#include <string.h>

#include "sim_test.h"

/* Toy protocol: "D" seq32 payload / "A" seq32. The client retransmits after 50 ms. */
typedef struct toy {
  int is_client;
  p2pq_rand_fn rand;
  void *rand_user;
  p2pq_addr peer;   /* client: server address; server: last sender */
  uint16_t lport;
  uint32_t first, cur, count; /* client: sequence being sent, done at first + count */
  uint32_t expect, delivered;         /* server: in-order delivery */
  int want_send, want_ack;
  uint32_t ack_seq;
  p2pq_tstamp rto_at;
  uint64_t retransmits;
} toy;

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int toy_recv(void *ep, const uint8_t *d, size_t n, const p2pq_addr *local,
                    const p2pq_addr *remote, p2pq_tstamp now) {
  toy *t = ep;
  if (n < 5)
    return P2PQ_ERR_TRUNCATED;
  uint32_t seq = get32(d + 1);
  if (!t->is_client && d[0] == 'D') {
    if (t->delivered == 0 && t->expect == 0)
      t->expect = seq; /* first message fixes the random initial sequence */
    if (seq == t->expect) {
      t->expect++;
      t->delivered++;
    }
    t->peer = *remote;
    t->want_ack = 1;
    t->ack_seq = t->expect;
    return 0;
  }
  if (t->is_client && d[0] == 'A') {
    /* The ack names the next sequence the server expects; old ones are ignored. */
    if (seq == t->cur + 1 && t->cur < t->first + t->count) {
      t->cur++;
      t->want_send = t->cur < t->first + t->count;
      t->rto_at = now + 250 * P2PQ_MS;
    }
    return 0;
  }
  return P2PQ_ERR_PROTOCOL;
}

static int toy_send(void *ep, uint8_t *buf, size_t cap, p2pq_addr *local, p2pq_addr *remote,
                    p2pq_tstamp now) {
  toy *t = ep;
  if (cap < 100)
    return P2PQ_ERR_NOBUF;
  if (t->is_client && t->want_send && t->cur < t->first + t->count) {
    t->want_send = 0;
    buf[0] = 'D';
    put32(buf + 1, t->cur);
    memset(buf + 5, 0x5a, 95);
    local->port = t->lport; /* family 0: the adapter picks the host address */
    *remote = t->peer;
    return 100;
  }
  if (!t->is_client && t->want_ack) {
    t->want_ack = 0;
    buf[0] = 'A';
    put32(buf + 1, t->ack_seq);
    local->port = t->lport;
    *remote = t->peer;
    return 5;
  }
  return 0;
}

static p2pq_tstamp toy_next(void *ep) {
  toy *t = ep;
  return t->is_client && t->cur < t->first + t->count ? t->rto_at : P2PQ_TSTAMP_MAX;
}

static void toy_timeout(void *ep, p2pq_tstamp now) {
  toy *t = ep;
  t->want_send = 1;
  t->retransmits++;
  t->rto_at = now + 250 * P2PQ_MS;
}

static const sim_ep_ops toy_ops = {toy_recv, toy_send, toy_next, toy_timeout};

static void client_start(toy *c, sim *s, uint32_t count) {
  uint8_t r[4];
  c->rand(c->rand_user, r, sizeof(r));
  c->first = get32(r) >> 4; /* random initial sequence, room to count up */
  c->cur = c->first;
  c->count = count;
  c->want_send = 1;
  c->rto_at = sim_now(s) + 250 * P2PQ_MS;
}

static uint64_t transfer(uint64_t seed, double loss, const sim_nat_cfg *nat, toy *srv_out,
                         toy *cli_out) {
  sim *s = sim_new(seed);
  sim_topo topo;
  sim_link_cfg lc = {0};
  toy cli = {0}, srv = {0};
  sim_ep_app ca, sa;
  uint64_t h;
  lc.delay = 15 * P2PQ_MS;
  lc.jitter = 3 * P2PQ_MS;
  lc.loss = loss;
  assert_int_equal(sim_topo_two_peers_behind_nats(s, nat, NULL, &lc, &topo), 0);
  cli.is_client = 1;
  cli.rand = sim_rand_fill;
  cli.rand_user = s;
  cli.lport = 50000;
  cli.peer = sim_test_addr("198.51.100.200:4433");
  srv.lport = 4433;
  sim_ep_app_init(&ca, &toy_ops, &cli);
  sim_ep_app_init(&sa, &toy_ops, &srv);
  sim_host_set_app(topo.server[0], &sim_ep_app_ops, &sa);
  sim_host_set_app(topo.peer[0], &sim_ep_app_ops, &ca);
  client_start(&cli, s, 50);
  assert_int_equal(sim_ep_app_flush(&ca, topo.peer[0]), 1);
  sim_run_until(s, 60 * P2PQ_S);
  if (ca.errors + sa.errors)
    sim_free(s);
  assert_int_equal(ca.errors + sa.errors, 0);
  *srv_out = srv;
  *cli_out = cli;
  h = sim_trace_hash(s);
  sim_free(s);
  return h;
}

static void test_transfer_through_nat(void **state) {
  sim_nat_cfg nat;
  toy srv, cli, srv2, cli2;
  (void)state;
  sim_nat_cfg_default(&nat);
  nat.mapping = SIM_APD;
  nat.port_alloc = SIM_PORT_RANDOM;
  SIM_FOR_SEEDS(seed, 300, 20) {
    uint64_t h1 = transfer(seed, 0.05, &nat, &srv, &cli);
    SIM_ASSERT(seed, srv.delivered == 50);
    SIM_ASSERT(seed, cli.cur == cli.first + 50);
    SIM_ASSERT(seed, cli.retransmits > 0); /* 5 % loss on each of six links */
    /* The server answered the NAT's public address, not the private one. */
    SIM_ASSERT(seed, srv.peer.ip[0] == 198 && srv.peer.ip[3] == 10);
    uint64_t h2 = transfer(seed, 0.05, &nat, &srv2, &cli2);
    SIM_ASSERT(seed, h1 == h2 && cli.first == cli2.first);
    SIM_ASSERT(seed, cli.retransmits == cli2.retransmits);
    SIM_ASSERT(seed, transfer(seed + 1, 0.05, &nat, &srv2, &cli2) != h1);
  }
  /* Without loss nothing is retransmitted. */
  transfer(1, 0, &nat, &srv, &cli);
  assert_int_equal(srv.delivered, 50);
  assert_int_equal(cli.retransmits, 0);
}

/* Endpoint errors are counted, not fatal. */
static int bad_recv(void *ep, const uint8_t *d, size_t n, const p2pq_addr *local,
                    const p2pq_addr *remote, p2pq_tstamp now) {
  return P2PQ_ERR_MALFORMED;
}
static int chatty_send(void *ep, uint8_t *buf, size_t cap, p2pq_addr *local, p2pq_addr *remote,
                       p2pq_tstamp now) {
  *remote = sim_test_addr("[2001:db8::1]:1"); /* no v6 address on the host */
  buf[0] = 1;
  return 1;
}
static const sim_ep_ops bad_ops = {bad_recv, chatty_send, NULL, NULL};

static void test_adapter_errors(void **state) {
  sim *s = sim_new(1);
  sim_router *r = sim_router_new(s, "r");
  sim_host *a = sim_attach_host(s, &r->node, "a", "198.51.100.1", NULL);
  sim_host *b = sim_attach_host(s, &r->node, "b", "198.51.100.2", NULL);
  sim_ep_app app;
  p2pq_addr from = sim_test_addr("198.51.100.2:1"), to = sim_test_addr("198.51.100.1:2");
  (void)state;
  sim_ep_app_init(&app, &bad_ops, NULL);
  sim_host_set_app(a, &sim_ep_app_ops, &app);
  assert_int_equal(a->timer_at, P2PQ_TSTAMP_MAX);
  assert_int_equal(sim_send(b, &from, &to, (const uint8_t *)"x", 1), 0);
  sim_run_until_idle(s, 0);
  assert_int_equal(app.rx, 1);
  /* One recv error plus a capped burst of unroutable datagrams. */
  assert_int_equal(app.errors, 1 + SIM_EP_MAX_BURST);
  assert_int_equal(app.last_err, P2PQ_ERR_NO_VIABLE_PATH);
  assert_int_equal(app.tx, 0);
  sim_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_transfer_through_nat),
      cmocka_unit_test(test_adapter_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
