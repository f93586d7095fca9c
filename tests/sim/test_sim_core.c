/* Simulator core: PRNG, event order, routing, apps and timers, determinism. */
#include <string.h>

#include "sim_test.h"

static void test_rng(void **state) {
  sim_rng a, b;
  uint64_t x = 0, seen_hi = 0;
  (void)state;
  sim_rng_seed(&a, 42);
  sim_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++)
    assert_true(sim_rng_next(&a) == sim_rng_next(&b));
  sim_rng_seed(&b, 43);
  assert_true(sim_rng_next(&a) != sim_rng_next(&b));
  /* Bounded draws stay in range and cover it. */
  sim *s = sim_new(7);
  uint64_t hist[10] = {0};
  for (int i = 0; i < 10000; i++) {
    uint64_t v = sim_rand_below(s, 10);
    assert_true(v < 10);
    hist[v]++;
    double d = sim_rand_double(s);
    assert_true(d >= 0 && d < 1);
    if (d > 0.99)
      seen_hi++;
  }
  for (int i = 0; i < 10; i++)
    assert_in_range(hist[i], 850, 1150);
  assert_true(seen_hi > 50);
  uint8_t buf[13];
  memset(buf, 0, sizeof(buf));
  sim_rand_fill(s, buf, sizeof(buf));
  for (int i = 0; i < 13; i++)
    x |= buf[i];
  assert_true(x != 0);
  sim_free(s);
}

static void test_prefix_routes(void **state) {
  sim *s = sim_new(1);
  sim_router *r = sim_router_new(s, "r");
  sim_host *h0 = sim_attach_host(s, &r->node, "h0", "198.51.100.5", NULL);
  sim_host *h1 = sim_attach_host(s, &r->node, "h1", "198.51.100.130", NULL);
  sim_host *src = sim_attach_host(s, &r->node, "src", "203.0.113.1", NULL);
  sim_recorder rec0 = {0}, rec1 = {0};
  p2pq_addr a, from = sim_test_addr("203.0.113.1:1000");
  (void)state;
  assert_non_null(h1);
  /* /24 to h0's link, /25 upper half to h1's link: longest prefix wins. */
  assert_int_equal(sim_node_add_route(&r->node, "198.51.100.0", 24, 0), 0);
  assert_int_equal(sim_node_add_route(&r->node, "198.51.100.128", 25, 1), 0);
  assert_int_equal(sim_node_add_route(&r->node, "198.51.100.0", 33, 1), P2PQ_ERR_INVALID_ARG);
  a = sim_test_addr("198.51.100.77:1");
  assert_int_equal(sim_node_route(&r->node, &a), 0);
  a = sim_test_addr("198.51.100.200:1");
  assert_int_equal(sim_node_route(&r->node, &a), 1);
  a = sim_test_addr("192.0.2.1:1");
  assert_int_equal(sim_node_route(&r->node, &a), P2PQ_ERR_NOT_FOUND);
  a = sim_test_addr("[2001:db8::1]:1");
  assert_int_equal(sim_node_route(&r->node, &a), P2PQ_ERR_NOT_FOUND);
  sim_host_set_app(h0, &sim_recorder_ops, &rec0);
  sim_host_set_app(h1, &sim_recorder_ops, &rec1);
  a = sim_test_addr("198.51.100.5:9");
  assert_int_equal(sim_send(src, &from, &a, (const uint8_t *)"x", 1), 0);
  a = sim_test_addr("198.51.100.130:9");
  assert_int_equal(sim_send(src, &from, &a, (const uint8_t *)"y", 1), 0);
  a = sim_test_addr("192.0.2.1:9"); /* no route */
  assert_int_equal(sim_send(src, &from, &a, (const uint8_t *)"z", 1), 0);
  sim_run_until_idle(s, 0);
  assert_int_equal(rec0.n, 1);
  assert_int_equal(rec0.e[0].data[0], 'x');
  assert_int_equal(rec1.n, 1);
  assert_int_equal(rec1.e[0].data[0], 'y');
  assert_int_equal(r->node.stats.drop_no_route, 1);
  /* Bad sends: foreign source address, family mismatch. */
  a = sim_test_addr("198.51.100.5:9");
  assert_int_equal(sim_send(src, &a, &a, NULL, 0), P2PQ_ERR_INVALID_ARG);
  from = sim_test_addr("[2001:db8::9]:1");
  assert_int_equal(sim_send(src, &from, &a, NULL, 0), P2PQ_ERR_INVALID_ARG);
  assert_ptr_equal(sim_find(s, "h1"), &h1->node);
  assert_null(sim_find(s, "nope"));
  sim_free(s);
}

static void test_ipv6_and_multi_addr(void **state) {
  sim *s = sim_new(2);
  sim_topo t;
  p2pq_addr from, to, seen;
  sim_recorder rec = {0};
  (void)state;
  assert_int_equal(sim_topo_two_peers_behind_nats(s, NULL, NULL, NULL, &t), 0);
  assert_int_equal(sim_host_add_routed_addr(t.peer[0], &t.internet->node, "2001:db8:a::2"), 0);
  sim_host_set_app(t.peer[0], &sim_recorder_ops, &rec);
  assert_int_equal(sim_host_addr(t.peer[0], 6, 5000, &from), 0);
  assert_int_equal(sim_host_addr(t.server[1], 6, 3478, &to), 0);
  assert_int_equal(sim_send(t.peer[0], &from, &to, (const uint8_t *)"v6", 2), 0);
  assert_int_equal(sim_host_addr(t.peer[0], 4, 5001, &from), 0);
  assert_int_equal(sim_host_addr(t.server[1], 4, 3478, &to), 0);
  assert_int_equal(sim_send(t.peer[0], &from, &to, (const uint8_t *)"v4", 2), 0);
  sim_run_until_idle(s, 0);
  assert_int_equal(rec.n, 2);
  assert_int_equal(sim_reflect_decode(rec.e[0].data, rec.e[0].len, &seen), 0);
  assert_int_equal(seen.family, 6);
  assert_int_equal(seen.port, 5000);
  assert_int_equal(sim_reflect_decode(rec.e[1].data, rec.e[1].len, &seen), 0);
  assert_int_equal(seen.family, 4);
  assert_int_equal(seen.port, 5001);
  assert_int_equal(sim_host_addr(t.peer[1], 6, 1, &from), P2PQ_ERR_NOT_FOUND);
  sim_free(s);
}

static void test_reflect_codec(void **state) {
  p2pq_addr a = sim_test_addr("[2001:db8::7]:4433"), b;
  uint8_t buf[SIM_REFLECT_LEN];
  (void)state;
  assert_int_equal(sim_reflect_encode(&a, buf, sizeof(buf) - 1), 0);
  assert_int_equal(sim_reflect_encode(&a, buf, sizeof(buf)), SIM_REFLECT_LEN);
  assert_int_equal(sim_reflect_decode(buf, sizeof(buf), &b), 0);
  assert_true(p2pq_addr_equal(&a, &b));
  for (size_t n = 0; n < sizeof(buf); n++)
    assert_int_equal(sim_reflect_decode(buf, n, &b), P2PQ_ERR_TRUNCATED);
  buf[0] = 5;
  assert_int_equal(sim_reflect_decode(buf, sizeof(buf), &b), P2PQ_ERR_MALFORMED);
}

/* A ping-pong app with a retransmit timer: exercises timers and the event order. */
typedef struct pinger {
  p2pq_addr local, peer;
  p2pq_tstamp next;
  int sent, got, limit;
} pinger;

static void ping_send(pinger *p, sim_host *h, p2pq_tstamp now) {
  uint8_t msg[32];
  memset(msg, p->sent & 0xff, sizeof(msg));
  sim_send(h, &p->local, &p->peer, msg, (size_t)(8 + p->sent % 24));
  p->sent++;
  p->next = p->sent < p->limit ? now + 7 * P2PQ_MS : P2PQ_TSTAMP_MAX;
}
static void ping_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                      const uint8_t *d, size_t n, p2pq_tstamp now) {
  ((pinger *)app)->got++;
}
static p2pq_tstamp ping_next(void *app) { return ((pinger *)app)->next; }
static void ping_timeout(void *app, sim_host *h, p2pq_tstamp now) { ping_send(app, h, now); }
static const sim_app_ops ping_ops = {ping_recv, ping_next, ping_timeout};

static uint64_t scenario(uint64_t seed, int *got) {
  sim *s = sim_new(seed);
  sim_topo t;
  sim_nat_cfg nat;
  sim_link_cfg lc = {0};
  pinger p = {0};
  uint64_t h;
  lc.delay = 10 * P2PQ_MS;
  lc.jitter = 5 * P2PQ_MS;
  lc.loss = 0.1;
  lc.duplicate = 0.05;
  sim_nat_cfg_default(&nat);
  nat.port_alloc = SIM_PORT_RANDOM;
  nat.mapping = SIM_APD;
  assert_int_equal(sim_topo_two_peers_behind_nats(s, &nat, &nat, &lc, &t), 0);
  sim_host_addr(t.peer[0], 4, 4000, &p.local);
  sim_host_addr(t.server[0], 4, 3478, &p.peer);
  p.limit = 200;
  p.next = 0;
  sim_host_set_app(t.peer[0], &ping_ops, &p);
  sim_run_until(s, 10 * P2PQ_S);
  assert_int_equal(p.sent, 200);
  assert_int_equal(sim_now(s), 10 * P2PQ_S);
  *got = p.got;
  h = sim_trace_hash(s);
  sim_free(s);
  return h;
}

static void test_determinism(void **state) {
  int g1, g2, g3;
  (void)state;
  SIM_FOR_SEEDS(seed, 100, 20) {
    uint64_t a = scenario(seed, &g1), b = scenario(seed, &g2), c = scenario(seed + 1000, &g3);
    SIM_ASSERT(seed, a == b);
    SIM_ASSERT(seed, g1 == g2);
    SIM_ASSERT(seed, a != c);
    /* ~0.9^4 of 200 round trips survive, duplicates add a few. */
    SIM_ASSERT(seed, g1 > 90 && g1 < 180);
  }
}

static int calls[4], call_n;
static void note(sim *s, void *arg) { calls[call_n++] = (int)(intptr_t)arg; }

static void test_event_order(void **state) {
  sim *s = sim_new(3);
  (void)state;
  call_n = 0;
  assert_int_equal(sim_at(s, 5 * P2PQ_MS, note, (void *)2), 0);
  assert_int_equal(sim_at(s, 1 * P2PQ_MS, note, (void *)1), 0);
  assert_int_equal(sim_at(s, 5 * P2PQ_MS, note, (void *)3), 0); /* tie: insertion order */
  assert_int_equal(sim_at(s, 9 * P2PQ_MS, note, (void *)4), 0);
  assert_int_equal(sim_next_event(s), 1 * P2PQ_MS);
  assert_int_equal(sim_run_until(s, 5 * P2PQ_MS), 3);
  assert_int_equal(sim_now(s), 5 * P2PQ_MS);
  assert_int_equal(sim_at(s, 1 * P2PQ_MS, note, (void *)9), P2PQ_ERR_INVALID_ARG);
  assert_int_equal(sim_run_until_idle(s, 0), 1);
  assert_int_equal(call_n, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(calls[i], i + 1);
  assert_int_equal(sim_step(s), 0);
  assert_int_equal(sim_next_event(s), P2PQ_TSTAMP_MAX);
  sim_free(s);
}

typedef struct counts {
  int deliver, drop, timer, call;
} counts;
static void count_ev(void *user, const sim_trace_ev *ev) {
  counts *c = user;
  c->deliver += ev->kind == SIM_TR_DELIVER;
  c->drop += ev->kind == SIM_TR_DROP;
  c->timer += ev->kind == SIM_TR_TIMER;
  c->call += ev->kind == SIM_TR_CALL;
  if (ev->kind == SIM_TR_DROP)
    assert_int_equal(ev->detail, SIM_DROP_NO_APP);
}
static void nop(sim *s, void *arg) {}

static void test_trace(void **state) {
  sim *s = sim_new(4);
  sim_router *r = sim_router_new(s, "r");
  sim_host *a = sim_attach_host(s, &r->node, "a", "198.51.100.1", NULL);
  sim_host *b = sim_attach_host(s, &r->node, "b", "198.51.100.2", NULL);
  p2pq_addr from = sim_test_addr("198.51.100.1:1"), to = sim_test_addr("198.51.100.2:2");
  counts c = {0};
  char line[256];
  FILE *f = tmpfile();
  (void)state;
  assert_non_null(b);
  sim_set_trace(s, count_ev, &c);
  assert_int_equal(sim_send(a, &from, &to, (const uint8_t *)"x", 1), 0);
  sim_at(s, 5, nop, NULL);
  sim_run_until_idle(s, 0);
  /* Router then host saw it; the host has no app. */
  assert_int_equal(c.deliver, 2);
  assert_int_equal(c.drop, 1);
  assert_int_equal(c.call, 1);
  assert_int_equal(b->node.stats.drop_no_app, 1);
  assert_int_equal(r->node.stats.forwarded, 1);
  assert_non_null(f);
  sim_set_trace(s, sim_trace_print, f);
  assert_int_equal(sim_send(a, &from, &to, (const uint8_t *)"y", 1), 0);
  sim_run_until_idle(s, 0);
  rewind(f);
  assert_non_null(fgets(line, sizeof(line), f));
  assert_non_null(strstr(line, "deliver"));
  assert_non_null(strstr(line, "198.51.100.1:1 -> 198.51.100.2:2"));
  fclose(f);
  sim_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng),           cmocka_unit_test(test_prefix_routes),
      cmocka_unit_test(test_ipv6_and_multi_addr), cmocka_unit_test(test_reflect_codec),
      cmocka_unit_test(test_determinism),   cmocka_unit_test(test_event_order),
      cmocka_unit_test(test_trace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
