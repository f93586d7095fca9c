/* A small RFC 5780-style NAT classifier run against every configured NAT type, single
 * and chained, across many seeds: what the probes see must match the configuration. */
#include <string.h>

#include "sim_test.h"

typedef struct verdict {
  sim_nat_behaviour mapping, filtering;
  sim_port_alloc ports;
  int hairpin;
} verdict;

typedef struct lab {
  sim *s;
  sim_topo t;
  sim_recorder client; /* peer-a's app */
  p2pq_addr s1a, s1b, s2; /* server-1:3478, server-1:3479, server-2:3478 */
} lab;

static uint16_t base_port(sim *s) { return (uint16_t)(2000 + sim_rand_below(s, 20000)); }

static sim_nat_behaviour classify_mapping(lab *L, uint16_t lport) {
  p2pq_addr m1, m2, m3;
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, lport, &L->s1a, &m1), 0);
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, lport, &L->s1b, &m2), 0);
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, lport, &L->s2, &m3), 0);
  if (!p2pq_addr_equal(&m1, &m2))
    return SIM_APD;
  return p2pq_addr_equal(&m1, &m3) ? SIM_EI : SIM_AD;
}

/* Opens a binding towards server-1:3478 only, then lets others knock: record all. */
static sim_nat_behaviour classify_filtering(lab *L, uint16_t lport) {
  p2pq_addr m, from;
  size_t before;
  int third, other_port, same;
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, lport, &L->s1a, &m), 0);
  before = L->client.total;
  assert_int_equal(sim_host_addr(L->t.server[1], 4, 3478, &from), 0);
  sim_send(L->t.server[1], &from, &m, (const uint8_t *)"3rd", 3);
  sim_run_until(L->s, sim_now(L->s) + P2PQ_S);
  third = L->client.total > before;
  before = L->client.total;
  assert_int_equal(sim_host_addr(L->t.server[0], 4, 4000, &from), 0);
  sim_send(L->t.server[0], &from, &m, (const uint8_t *)"port", 4);
  sim_run_until(L->s, sim_now(L->s) + P2PQ_S);
  other_port = L->client.total > before;
  before = L->client.total;
  sim_send(L->t.server[0], &L->s1a, &m, (const uint8_t *)"same", 4);
  sim_run_until(L->s, sim_now(L->s) + P2PQ_S);
  same = L->client.total > before;
  assert_true(same); /* the contacted endpoint always gets through */
  if (third) {
    assert_true(other_port);
    return SIM_EI;
  }
  return other_port ? SIM_AD : SIM_APD;
}

static sim_port_alloc classify_ports(lab *L, uint16_t lport) {
  uint16_t q[4];
  int preserve = 1, seq = 1;
  for (int i = 0; i < 4; i++) {
    p2pq_addr m;
    assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client,
                                     (uint16_t)(lport + 100 * i), &L->s1a, &m), 0);
    q[i] = m.port;
    preserve &= q[i] == lport + 100 * i;
    if (i)
      seq &= q[i] == (uint16_t)(q[i - 1] + 1);
  }
  return preserve ? SIM_PORT_PRESERVE : seq ? SIM_PORT_SEQUENTIAL : SIM_PORT_RANDOM;
}

/* Two sockets of the client: each learns its mapping, A knocks on B's (opening
 * A's filter towards B), then B sends to A's mapping through the NAT. */
static int classify_hairpin(lab *L, uint16_t pa, uint16_t pb) {
  p2pq_addr ma, mb;
  size_t before;
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, pa, &L->s1a, &ma), 0);
  assert_int_equal(sim_test_mapped(L->s, L->t.peer[0], &L->client, pb, &L->s1a, &mb), 0);
  sim_test_send(L->s, L->t.peer[0], pa, &mb);
  before = L->client.total;
  sim_test_send(L->s, L->t.peer[0], pb, &ma);
  for (size_t i = 0; i < L->client.n; i++)
    if (L->client.e[i].local.port == pa && !p2pq_addr_equal(&L->client.e[i].remote, &L->s1a)) {
      /* Hairpinned packets carry the sender's external address (RFC 4787 REQ-9). */
      assert_true(L->client.e[i].remote.ip[0] != 192);
    }
  return L->client.total > before;
}

static void lab_init(lab *L, uint64_t seed, const sim_nat_cfg *cfg, const sim_nat_cfg *cgn) {
  sim_link_cfg lc = {0};
  memset(L, 0, sizeof(*L));
  L->s = sim_new(seed);
  lc.delay = 5 * P2PQ_MS;
  lc.jitter = 2 * P2PQ_MS;
  if (!cgn) {
    assert_int_equal(sim_topo_two_peers_behind_nats(L->s, cfg, NULL, &lc, &L->t), 0);
  } else {
    /* peer-a behind a home NAT (100.64.0.2 outside) behind a carrier-grade NAT. */
    sim_nat *c, *home;
    memset(&L->t, 0, sizeof(L->t));
    L->t.internet = sim_router_new(L->s, "internet");
    L->t.server[0] = sim_attach_host(L->s, &L->t.internet->node, "server-1", "198.51.100.200", &lc);
    L->t.server[1] = sim_attach_host(L->s, &L->t.internet->node, "server-2", "203.0.113.200", &lc);
    c = sim_attach_nat(L->s, &L->t.internet->node, "cgn", cgn, "198.51.100.50", &lc);
    assert_non_null(c);
    home = sim_attach_nat(L->s, &c->node, "home", cfg, "100.64.0.2", &lc);
    assert_non_null(home);
    L->t.nat[0] = home;
    L->t.peer[0] = sim_attach_host(L->s, &home->node, "peer-a", "192.168.1.2", &lc);
    assert_non_null(L->t.peer[0]);
    sim_host_set_app(L->t.server[0], &sim_reflector_ops, &L->t.rec[0]);
    sim_host_set_app(L->t.server[1], &sim_reflector_ops, &L->t.rec[1]);
  }
  sim_host_set_app(L->t.peer[0], &sim_recorder_ops, &L->client);
  L->s1a = sim_test_addr("198.51.100.200:3478");
  L->s1b = sim_test_addr("198.51.100.200:3479");
  L->s2 = sim_test_addr("203.0.113.200:3478");
}

static verdict classify(lab *L) {
  verdict v;
  uint16_t p = base_port(L->s);
  v.mapping = classify_mapping(L, p);
  v.filtering = classify_filtering(L, (uint16_t)(p + 10));
  v.ports = classify_ports(L, (uint16_t)(p + 20));
  v.hairpin = classify_hairpin(L, (uint16_t)(p + 30), (uint16_t)(p + 31));
  return v;
}

static void test_single_nat_types(void **state) {
  (void)state;
  for (int m = SIM_EI; m <= SIM_APD; m++)
    for (int f = SIM_EI; f <= SIM_APD; f++)
      for (int pa = SIM_PORT_PRESERVE; pa <= SIM_PORT_RANDOM; pa++)
        for (int hp = 0; hp <= 1; hp++) {
          sim_nat_cfg c;
          sim_nat_cfg_default(&c);
          c.mapping = (sim_nat_behaviour)m;
          c.filtering = (sim_nat_behaviour)f;
          c.port_alloc = (sim_port_alloc)pa;
          c.hairpin = hp;
          SIM_FOR_SEEDS(seed, 1 + 1000 * (uint64_t)(m * 18 + f * 6 + pa * 2 + hp), 8) {
            lab L;
            verdict v;
            lab_init(&L, seed, &c, NULL);
            v = classify(&L);
            if (v.mapping != c.mapping || v.filtering != c.filtering || v.ports != c.port_alloc)
              print_error("config m%d f%d p%d h%d -> m%d f%d p%d h%d\n", m, f, pa, hp,
                          v.mapping, v.filtering, v.ports, v.hairpin);
            SIM_ASSERT(seed, v.mapping == c.mapping);
            SIM_ASSERT(seed, v.filtering == c.filtering);
            SIM_ASSERT(seed, v.ports == c.port_alloc);
            /* Hairpinning is visible when the filter lets the knock through. */
            SIM_ASSERT(seed, v.hairpin == (hp && (m == SIM_EI || f == SIM_EI)));
            SIM_ASSERT(seed, L.t.nat[0]->stats.hairpinned == 0 ? !v.hairpin : 1);
            sim_free(L.s);
          }
        }
}

static int max_b(int a, int b) { return a > b ? a : b; }

static void test_chained_nats(void **state) {
  (void)state;
  for (int hm = SIM_EI; hm <= SIM_APD; hm++)
    for (int hf = SIM_EI; hf <= SIM_APD; hf++)
      for (int cm = SIM_EI; cm <= SIM_APD; cm++)
        for (int cf = SIM_EI; cf <= SIM_APD; cf++) {
          sim_nat_cfg home, cgn;
          sim_nat_cfg_default(&home);
          sim_nat_cfg_default(&cgn);
          home.mapping = (sim_nat_behaviour)hm;
          home.filtering = (sim_nat_behaviour)hf;
          cgn.mapping = (sim_nat_behaviour)cm;
          cgn.filtering = (sim_nat_behaviour)cf;
          cgn.port_alloc = SIM_PORT_RANDOM;
          SIM_FOR_SEEDS(seed, 500000 + 100 * (uint64_t)(hm * 27 + hf * 9 + cm * 3 + cf), 3) {
            lab L;
            uint16_t p;
            lab_init(&L, seed, &home, &cgn);
            p = base_port(L.s);
            /* The chain behaves like its most restrictive member. */
            SIM_ASSERT(seed, (int)classify_mapping(&L, p) == max_b(hm, cm));
            SIM_ASSERT(seed, (int)classify_filtering(&L, (uint16_t)(p + 10)) == max_b(hf, cf));
            /* The servers saw the CGN's address. */
            SIM_ASSERT(seed, L.t.rec[0].n > 0);
            SIM_ASSERT(seed, L.t.rec[0].e[0].remote.ip[0] == 198 &&
                                 L.t.rec[0].e[0].remote.ip[3] == 50);
            sim_free(L.s);
          }
        }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_nat_types),
      cmocka_unit_test(test_chained_nats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
