/* NAT boxes and firewalls: binding lifetime and refresh, rebinding, hairpinning,
 * double NAT, firewall, pooling, port limits, IPv6 through a NAT. */
#include <string.h>

#include "sim_test.h"

typedef struct net {
  sim *s;
  sim_topo t;
  sim_recorder peer_rec[2];
  p2pq_addr s1, s2;
} net;

static void net_init(net *n, uint64_t seed, const sim_nat_cfg *a, const sim_nat_cfg *b) {
  sim_link_cfg lc = {0};
  memset(n, 0, sizeof(*n));
  lc.delay = 10 * P2PQ_MS;
  n->s = sim_new(seed);
  assert_int_equal(sim_topo_two_peers_behind_nats(n->s, a, b, &lc, &n->t), 0);
  sim_host_set_app(n->t.peer[0], &sim_recorder_ops, &n->peer_rec[0]);
  sim_host_set_app(n->t.peer[1], &sim_recorder_ops, &n->peer_rec[1]);
  n->s1 = sim_test_addr("198.51.100.200:3478");
  n->s2 = sim_test_addr("203.0.113.200:3478");
}

/* server-2 sends one datagram to `to`; returns 1 if peer-a received it. */
static int knock(net *n, const p2pq_addr *to) {
  size_t before = n->peer_rec[0].total;
  p2pq_addr from = sim_test_addr("203.0.113.200:9999");
  assert_int_equal(sim_send(n->t.server[1], &from, to, (const uint8_t *)"k", 1), 0);
  sim_run_until(n->s, sim_now(n->s) + 100 * P2PQ_MS);
  return n->peer_rec[0].total > before;
}

static void full_cone(sim_nat_cfg *c) {
  sim_nat_cfg_default(c);
  c->filtering = SIM_EI;
}

static void test_binding_expiry(void **state) {
  sim_nat_cfg c;
  net n;
  p2pq_addr m;
  (void)state;
  full_cone(&c);
  SIM_FOR_SEEDS(seed, 10, 5) {
    net_init(&n, seed, &c, NULL);
    SIM_ASSERT(seed, sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m) == 0);
    /* Last outbound at ~0 s (the reply refreshes nothing: no inbound refresh). */
    SIM_ASSERT(seed, sim_nat_binding_count(n.t.nat[0]) == 1);
    sim_run_until(n.s, 29 * P2PQ_S);
    SIM_ASSERT(seed, knock(&n, &m));
    sim_run_until(n.s, 31 * P2PQ_S);
    SIM_ASSERT(seed, !knock(&n, &m));
    SIM_ASSERT(seed, n.t.nat[0]->stats.drop_no_binding == 1);
    SIM_ASSERT(seed, n.t.nat[0]->stats.bindings_expired == 1);
    SIM_ASSERT(seed, sim_nat_binding_count(n.t.nat[0]) == 0);
    sim_free(n.s);
  }
  /* A configured 5 s lifetime. */
  c.binding_timeout = 5 * P2PQ_S;
  net_init(&n, 1, &c, NULL);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m), 0);
  sim_run_until(n.s, 4 * P2PQ_S);
  assert_true(knock(&n, &m));
  sim_run_until(n.s, 6 * P2PQ_S);
  assert_false(knock(&n, &m));
  sim_free(n.s);
}

static void test_refresh(void **state) {
  sim_nat_cfg c;
  net n;
  p2pq_addr m, m2;
  (void)state;
  full_cone(&c);
  c.port_alloc = SIM_PORT_SEQUENTIAL;
  net_init(&n, 2, &c, NULL);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m), 0);
  /* Outbound keepalives every 20 s keep the same mapping alive. */
  for (int i = 1; i <= 5; i++) {
    sim_run_until(n.s, (p2pq_tstamp)i * 20 * P2PQ_S);
    assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m2), 0);
    assert_true(p2pq_addr_equal(&m, &m2));
  }
  sim_run_until(n.s, 125 * P2PQ_S);
  assert_true(knock(&n, &m));
  /* Let it lapse: a sequential NAT hands out a new port afterwards. */
  sim_run_until(n.s, 200 * P2PQ_S);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m2), 0);
  assert_false(p2pq_addr_equal(&m, &m2));
  assert_int_equal(n.t.nat[0]->stats.bindings_created, 2);
  sim_free(n.s);
}

static void test_inbound_refresh(void **state) {
  (void)state;
  for (int refresh = 0; refresh <= 1; refresh++) {
    sim_nat_cfg c;
    net n;
    p2pq_addr m;
    int last = 1;
    full_cone(&c);
    c.refresh_inbound = refresh;
    net_init(&n, 3, &c, NULL);
    assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m), 0);
    for (int i = 1; i <= 4; i++) {
      sim_run_until(n.s, (p2pq_tstamp)i * 20 * P2PQ_S);
      last = knock(&n, &m);
      if (i == 1)
        assert_true(last);
    }
    /* Only inbound traffic since 2 s: it keeps the binding only if it refreshes. */
    assert_int_equal(last, refresh);
    sim_free(n.s);
  }
  /* With port-restricted filtering the permission is refreshed along with it. */
  for (int refresh = 0; refresh <= 1; refresh++) {
    sim_nat_cfg c;
    net n;
    p2pq_addr m;
    int last = 1;
    sim_nat_cfg_default(&c);
    c.refresh_inbound = refresh;
    net_init(&n, 3, &c, NULL);
    assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m), 0);
    for (int i = 1; i <= 4; i++) {
      size_t before = n.peer_rec[0].total;
      sim_run_until(n.s, (p2pq_tstamp)i * 20 * P2PQ_S);
      assert_int_equal(sim_send(n.t.server[0], &n.s1, &m, (const uint8_t *)"k", 1), 0);
      sim_run_until(n.s, sim_now(n.s) + 100 * P2PQ_MS);
      last = n.peer_rec[0].total > before;
      if (i == 1)
        assert_true(last);
    }
    assert_int_equal(last, refresh);
    assert_false(knock(&n, &m)); /* other endpoints stay filtered */
    sim_free(n.s);
  }
}

static void test_rebind_and_flush(void **state) {
  sim_nat_cfg c;
  net n;
  p2pq_addr m, m2;
  (void)state;
  full_cone(&c); /* port preserving */
  SIM_FOR_SEEDS(seed, 20, 10) {
    net_init(&n, seed, &c, NULL);
    SIM_ASSERT(seed, sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m) == 0);
    SIM_ASSERT(seed, m.port == 5000);
    sim_nat_flush(n.t.nat[0]);
    SIM_ASSERT(seed, !knock(&n, &m));
    /* After a flush a preserving NAT gives the same port again ... */
    SIM_ASSERT(seed, sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m2) == 0);
    SIM_ASSERT(seed, p2pq_addr_equal(&m, &m2));
    /* ... a forced rebinding changes it and the old one is dead. */
    sim_nat_rebind(n.t.nat[0]);
    SIM_ASSERT(seed, sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5000, &n.s1, &m2) == 0);
    SIM_ASSERT(seed, !p2pq_addr_equal(&m, &m2));
    SIM_ASSERT(seed, !knock(&n, &m));
    SIM_ASSERT(seed, knock(&n, &m2));
    SIM_ASSERT(seed, sim_nat_lookup(n.t.nat[0], &n.peer_rec[0].e[0].local, &n.s1, &m) == 0);
    SIM_ASSERT(seed, p2pq_addr_equal(&m, &m2));
    sim_free(n.s);
  }
}

static void test_hairpin(void **state) {
  (void)state;
  for (int hp = 0; hp <= 1; hp++) {
    sim *s = sim_new(4);
    sim_router *inet = sim_router_new(s, "internet");
    sim_host *srv = sim_attach_host(s, &inet->node, "server", "198.51.100.200", NULL);
    sim_nat_cfg c;
    sim_nat *nat;
    sim_host *h1, *h2;
    sim_recorder r1 = {0}, r2 = {0}, rs = {0};
    p2pq_addr srv_a = sim_test_addr("198.51.100.200:3478"), m1, m2;
    full_cone(&c);
    c.hairpin = hp;
    nat = sim_attach_nat(s, &inet->node, "nat", &c, "203.0.113.10", NULL);
    h1 = sim_attach_host(s, &nat->node, "h1", "192.168.1.2", NULL);
    h2 = sim_attach_host(s, &nat->node, "h2", "192.168.1.3", NULL);
    assert_non_null(h2);
    sim_host_set_app(srv, &sim_reflector_ops, &rs);
    sim_host_set_app(h1, &sim_recorder_ops, &r1);
    sim_host_set_app(h2, &sim_recorder_ops, &r2);
    assert_int_equal(sim_test_mapped(s, h1, &r1, 6000, &srv_a, &m1), 0);
    assert_int_equal(sim_test_mapped(s, h2, &r2, 6000, &srv_a, &m2), 0);
    assert_int_equal(m1.port, 6000);
    assert_int_not_equal(m2.port, 6000); /* the preserved port was taken */
    assert_int_equal(sim_test_arrivals(s, h2, 6000, &m1, &r1), (size_t)hp);
    assert_int_equal(nat->stats.drop_hairpin, (uint64_t)!hp);
    assert_int_equal(nat->stats.hairpinned, (uint64_t)hp);
    if (hp) /* h1 sees h2's external address, not its private one */
      assert_true(p2pq_addr_equal(&r1.e[r1.n - 1].remote, &m2));
    /* Inside-to-inside by private address never touches the NAT tables. */
    p2pq_addr h1_priv = sim_test_addr("192.168.1.2:6000");
    assert_int_equal(sim_test_arrivals(s, h2, 6001, &h1_priv, &r1), 1);
    assert_true(p2pq_addr_equal_ip(&r1.e[r1.n - 1].remote, &h2->addrs[0]));
    sim_free(s);
  }
}

static void test_double_nat(void **state) {
  sim *s = sim_new(5);
  sim_router *inet = sim_router_new(s, "internet");
  sim_host *srv = sim_attach_host(s, &inet->node, "server", "198.51.100.200", NULL);
  sim_nat_cfg c;
  sim_nat *cgn, *home;
  sim_host *h;
  sim_recorder rh = {0}, rs = {0};
  p2pq_addr srv_a = sim_test_addr("198.51.100.200:3478"), m, inner;
  (void)state;
  sim_nat_cfg_default(&c);
  c.port_alloc = SIM_PORT_RANDOM;
  cgn = sim_attach_nat(s, &inet->node, "cgn", &c, "198.51.100.50", NULL);
  c.port_alloc = SIM_PORT_PRESERVE;
  home = sim_attach_nat(s, &cgn->node, "home", &c, "100.64.0.2", NULL);
  h = sim_attach_host(s, &home->node, "h", "192.168.1.2", NULL);
  assert_non_null(h);
  sim_host_set_app(srv, &sim_reflector_ops, &rs);
  sim_host_set_app(h, &sim_recorder_ops, &rh);
  assert_int_equal(sim_test_mapped(s, h, &rh, 7000, &srv_a, &m), 0);
  assert_true(p2pq_addr_equal_ip(&m, &cgn->cfg.pool[0]));
  /* home's external endpoint is 100.64.0.2:7000; the CGN mapped that. */
  assert_int_equal(sim_nat_lookup(home, &rh.e[0].local, &srv_a, &inner), 0);
  assert_true(p2pq_addr_equal(&inner, &(p2pq_addr){4, 7000, {100, 64, 0, 2}}));
  assert_int_equal(sim_nat_lookup(cgn, &inner, &srv_a, &inner), 0);
  assert_true(p2pq_addr_equal(&inner, &m));
  assert_int_equal(home->stats.out_translated, 1);
  assert_int_equal(cgn->stats.out_translated, 1);
  assert_int_equal(home->stats.in_translated, 1);
  assert_int_equal(cgn->stats.in_translated, 1);
  /* Unsolicited to the CGN address stops at the CGN. */
  p2pq_addr from = sim_test_addr("198.51.100.200:1");
  assert_int_equal(sim_send(srv, &from, &m, (const uint8_t *)"x", 1), 0);
  sim_run_until_idle(s, 0);
  assert_int_equal(cgn->stats.drop_filtered, 1);
  assert_int_equal(rh.total, 1);
  sim_free(s);
}

static void test_firewall(void **state) {
  (void)state;
  for (int f = SIM_EI; f <= SIM_APD; f++) {
    sim *s = sim_new(6);
    sim_router *inet = sim_router_new(s, "internet");
    sim_host *srv = sim_attach_host(s, &inet->node, "server", "203.0.113.200", NULL);
    sim_nat_cfg c;
    sim_nat *fw;
    sim_host *h;
    sim_recorder rh = {0}, rs = {0};
    p2pq_addr srv_a = sim_test_addr("203.0.113.200:3478"), m, h_a, from;
    sim_nat_cfg_default(&c);
    c.filtering = (sim_nat_behaviour)f;
    fw = sim_attach_firewall(s, &inet->node, "fw", &c, "198.51.100.128", 25, NULL);
    h = sim_attach_host(s, &fw->node, "h", "198.51.100.130", NULL);
    assert_non_null(h);
    sim_host_set_app(srv, &sim_reflector_ops, &rs);
    sim_host_set_app(h, &sim_recorder_ops, &rh);
    h_a = sim_test_addr("198.51.100.130:8000");
    /* Unsolicited inbound is dropped, whatever the filtering. */
    from = sim_test_addr("203.0.113.200:3478");
    assert_int_equal(sim_send(srv, &from, &h_a, (const uint8_t *)"x", 1), 0);
    sim_run_until_idle(s, 0);
    assert_int_equal(rh.total, 0);
    assert_int_equal(fw->stats.drop_no_binding, 1);
    /* Outbound passes untranslated; the reply comes back. */
    assert_int_equal(sim_test_mapped(s, h, &rh, 8000, &srv_a, &m), 0);
    assert_true(p2pq_addr_equal(&m, &h_a));
    assert_int_equal(fw->stats.out_translated, 0);
    /* Same IP other port passes only address-dependent or open filtering. */
    from = sim_test_addr("203.0.113.200:1111");
    assert_int_equal(sim_send(srv, &from, &h_a, (const uint8_t *)"y", 1), 0);
    sim_run_until_idle(s, 0);
    assert_int_equal(rh.total, f == SIM_APD ? 1 : 2);
    assert_int_equal(fw->stats.drop_filtered, f == SIM_APD ? 1 : 0);
    sim_free(s);
  }
}

static void test_v6_through_nat(void **state) {
  (void)state;
  for (int fw = 0; fw <= 1; fw++) {
    sim_nat_cfg c;
    net n;
    p2pq_addr m, s2_6 = sim_test_addr("[2001:db8:2::200]:3478"), h6, from;
    sim_nat_cfg_default(&c);
    c.v6_firewall = fw;
    net_init(&n, 7, &c, NULL);
    /* peer-a gets a global v6 address routed through its NAT box. */
    assert_int_equal(sim_host_add_routed_addr(n.t.peer[0], &n.t.nat[0]->node, "2001:db8:a::2"), 0);
    assert_int_equal(sim_node_add_route(&n.t.internet->node, "2001:db8:a::", 48, 2), 0);
    h6 = sim_test_addr("[2001:db8:a::2]:4000");
    from = sim_test_addr("[2001:db8:2::200]:3478");
    assert_int_equal(sim_send(n.t.server[1], &from, &h6, (const uint8_t *)"u", 1), 0);
    sim_run_until_idle(n.s, 0);
    assert_int_equal(n.peer_rec[0].total, (size_t)!fw); /* open router vs firewall */
    assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 4000, &s2_6, &m), 0);
    assert_true(p2pq_addr_equal(&m, &h6)); /* v6 is never translated */
    sim_free(n.s);
  }
}

static void test_pooling_and_limits(void **state) {
  (void)state;
  for (int pool = SIM_POOL_PAIRED; pool <= SIM_POOL_ARBITRARY; pool++) {
    sim_nat_cfg c;
    net n;
    int seen[2] = {0, 0};
    full_cone(&c);
    c.pooling = (sim_pooling)pool;
    assert_int_equal(sim_nat_cfg_add_public(&c, "198.51.100.10"), 0);
    assert_int_equal(sim_nat_cfg_add_public(&c, "198.51.100.11"), 0);
    net_init(&n, 8, &c, NULL);
    for (uint16_t p = 0; p < 20; p++) {
      p2pq_addr m;
      assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], (uint16_t)(5000 + p),
                                       &n.s1, &m), 0);
      assert_true(m.ip[3] == 10 || m.ip[3] == 11);
      seen[m.ip[3] - 10]++;
    }
    if (pool == SIM_POOL_PAIRED) /* one internal IP, one external IP */
      assert_true(seen[0] == 0 || seen[1] == 0);
    else
      assert_true(seen[0] > 0 && seen[1] > 0);
    sim_free(n.s);
  }
  /* Three ports in the range: the fourth mapping finds none. */
  sim_nat_cfg c;
  net n;
  p2pq_addr m;
  full_cone(&c);
  c.port_alloc = SIM_PORT_RANDOM;
  c.port_min = 40000;
  c.port_max = 40002;
  net_init(&n, 9, &c, NULL);
  for (uint16_t p = 0; p < 3; p++) {
    assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], (uint16_t)(5000 + p),
                                     &n.s1, &m), 0);
    assert_in_range(m.port, 40000, 40002);
  }
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 5003, &n.s1, &m),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(n.t.nat[0]->stats.drop_no_ports, 1);
  sim_free(n.s);
  /* A binding table limit. */
  full_cone(&c);
  c.max_bindings = 2;
  net_init(&n, 10, &c, NULL);
  for (uint16_t p = 0; p < 3; p++)
    sim_test_send(n.s, n.t.peer[0], (uint16_t)(5000 + p), &n.s1);
  assert_int_equal(n.t.nat[0]->stats.drop_limit, 1);
  assert_int_equal(sim_nat_binding_count(n.t.nat[0]), 2);
  sim_free(n.s);
  /* Invalid configurations are refused. */
  sim *s = sim_new(1);
  full_cone(&c); /* no public IP */
  assert_null(sim_nat_new(s, "x", &c));
  assert_int_equal(sim_nat_cfg_add_public(&c, "not-an-ip"), P2PQ_ERR_MALFORMED);
  sim_free(s);
}

/* Both peers behind NATs punch towards each other's mapping (learned from a server):
 * works for cone NATs, fails when both map per destination with random ports. */
static int punch(const sim_nat_cfg *a, const sim_nat_cfg *b, uint64_t seed) {
  net n;
  p2pq_addr ma, mb;
  int ok;
  net_init(&n, seed, a, b);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 4433, &n.s1, &ma), 0);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[1], &n.peer_rec[1], 4433, &n.s1, &mb), 0);
  sim_test_send(n.s, n.t.peer[0], 4433, &mb);
  sim_test_send(n.s, n.t.peer[1], 4433, &ma);
  sim_test_send(n.s, n.t.peer[0], 4433, &mb);
  ok = n.peer_rec[0].total >= 2 && n.peer_rec[1].total >= 2;
  sim_free(n.s);
  return ok;
}

static void test_hole_punching(void **state) {
  sim_nat_cfg cone, sym;
  (void)state;
  sim_nat_cfg_default(&cone);
  sim_nat_cfg_default(&sym);
  sym.mapping = SIM_APD;
  sym.port_alloc = SIM_PORT_RANDOM;
  SIM_FOR_SEEDS(seed, 30, 10) {
    SIM_ASSERT(seed, punch(&cone, &cone, seed));
    SIM_ASSERT(seed, punch(&cone, NULL, seed));
    SIM_ASSERT(seed, !punch(&sym, &sym, seed));
  }
}

static void test_port_mapping(void **state) {
  sim_nat_cfg c;
  net n;
  p2pq_addr in = sim_test_addr("192.168.1.2:4433"), ext, ext2, m;
  (void)state;
  sim_nat_cfg_default(&c);
  c.mapping = SIM_APD; /* symmetric, yet an explicit mapping is open to all */
  c.port_alloc = SIM_PORT_RANDOM;
  net_init(&n, 11, &c, NULL);
  assert_int_equal(sim_nat_map_port(n.t.nat[0], &in, 4433, 120 * P2PQ_S, &ext), 0);
  assert_int_equal(ext.port, 4433);
  assert_true(p2pq_addr_equal_ip(&ext, &n.t.nat[0]->cfg.pool[0]));
  assert_int_equal(sim_nat_map_port(n.t.nat[0], &in, 4433, P2PQ_S, &ext2), P2PQ_ERR_EXISTS);
  assert_int_equal(sim_nat_map_port(n.t.nat[0], &in, 0, 0, &ext2), P2PQ_ERR_INVALID_ARG);
  assert_true(knock(&n, &ext)); /* unsolicited, from anyone */
  /* Outbound from the mapped socket uses the mapping for every destination. */
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 4433, &n.s1, &m), 0);
  assert_true(p2pq_addr_equal(&m, &ext));
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 4433, &n.s2, &m), 0);
  assert_true(p2pq_addr_equal(&m, &ext));
  /* Its lifetime outlasts the 30 s idle timeout, then it lapses. */
  sim_run_until(n.s, 100 * P2PQ_S);
  assert_true(knock(&n, &ext));
  sim_run_until(n.s, 125 * P2PQ_S);
  assert_false(knock(&n, &ext));
  /* NAT-chosen port. */
  assert_int_equal(sim_nat_map_port(n.t.nat[0], &in, 0, 10 * P2PQ_S, &ext2), 0);
  assert_true(ext2.port >= 1024);
  assert_true(knock(&n, &ext2));
  sim_free(n.s);
}

static void test_link_down(void **state) {
  net n;
  p2pq_addr m;
  sim_link *l;
  (void)state;
  net_init(&n, 12, NULL, NULL);
  l = n.t.peer[0]->node.ifaces[0].link;
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 1, &n.s1, &m), 0);
  sim_link_set_down(l, 1);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 1, &n.s1, &m),
                   P2PQ_ERR_TIMEOUT);
  assert_int_equal(sim_link_dir_from(l, &n.t.peer[0]->node)->stats.drop_down, 1);
  sim_link_set_down(l, 0);
  assert_int_equal(sim_test_mapped(n.s, n.t.peer[0], &n.peer_rec[0], 1, &n.s1, &m), 0);
  sim_free(n.s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binding_expiry), cmocka_unit_test(test_refresh),
      cmocka_unit_test(test_inbound_refresh), cmocka_unit_test(test_rebind_and_flush),
      cmocka_unit_test(test_hairpin),        cmocka_unit_test(test_double_nat),
      cmocka_unit_test(test_firewall),       cmocka_unit_test(test_v6_through_nat),
      cmocka_unit_test(test_pooling_and_limits), cmocka_unit_test(test_hole_punching),
      cmocka_unit_test(test_port_mapping),   cmocka_unit_test(test_link_down),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
