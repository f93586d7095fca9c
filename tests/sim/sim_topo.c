/* Topology helpers: a few calls build hosts behind NATs, firewalls and routers. */
#include <string.h>

#include "sim_internal.h"

static unsigned host_plen(const p2pq_addr *a) { return a->family == 4 ? 32 : 128; }

sim_host *sim_attach_host(sim *s, sim_node *up, const char *name, const char *ip,
                          const sim_link_cfg *lc) {
  sim_host *h = sim_host_new(s, name);
  sim_link *l;
  if (!h || sim_host_add_addr(h, ip))
    return NULL;
  l = sim_link_new(s, &h->node, up, lc, NULL);
  if (!l)
    return NULL;
  if (sim_node_add_route_addr(up, &h->addrs[0], host_plen(&h->addrs[0]), l->iface[1]) ||
      sim_node_add_route(&h->node, "0.0.0.0", 0, 0) || sim_node_add_route(&h->node, "::", 0, 0))
    return NULL;
  return h;
}

int sim_host_add_routed_addr(sim_host *h, sim_node *up, const char *ip) {
  sim_link *l = h->node.n_ifaces ? h->node.ifaces[0].link : NULL;
  int rc;
  if (!l || l->node[1] != up)
    return P2PQ_ERR_INVALID_ARG;
  if ((rc = sim_host_add_addr(h, ip)))
    return rc;
  return sim_node_add_route_addr(up, &h->addrs[h->n_addrs - 1],
                                 host_plen(&h->addrs[h->n_addrs - 1]), l->iface[1]);
}

/* Links box to up as its outside, routes `prefixes` on up to it, default route out. */
static int uplink(sim *s, sim_nat *n, sim_node *up, const sim_link_cfg *lc) {
  sim_link *l = sim_link_new(s, &n->node, up, lc, NULL);
  if (!l)
    return P2PQ_ERR_LIMIT;
  sim_nat_set_outside(n, l->iface[0]);
  if (sim_node_add_route(&n->node, "0.0.0.0", 0, l->iface[0]) ||
      sim_node_add_route(&n->node, "::", 0, l->iface[0]))
    return P2PQ_ERR_LIMIT;
  return 0;
}

sim_nat *sim_attach_nat(sim *s, sim_node *up, const char *name, const sim_nat_cfg *cfg,
                        const char *public_ip, const sim_link_cfg *lc) {
  sim_nat_cfg c = *cfg;
  sim_nat *n;
  sim_link *l;
  if (public_ip && sim_nat_cfg_add_public(&c, public_ip))
    return NULL;
  n = sim_nat_new(s, name, &c);
  if (!n || uplink(s, n, up, lc))
    return NULL;
  l = n->node.ifaces[n->node.n_ifaces - 1].link;
  for (int i = 0; i < n->cfg.n_pool; i++)
    if (sim_node_add_route_addr(up, &n->cfg.pool[i], host_plen(&n->cfg.pool[i]), l->iface[1]))
      return NULL;
  return n;
}

sim_nat *sim_attach_firewall(sim *s, sim_node *up, const char *name, const sim_nat_cfg *cfg,
                             const char *prefix, unsigned plen, const sim_link_cfg *lc) {
  sim_nat_cfg c = *cfg;
  sim_nat *n;
  c.firewall = 1;
  n = sim_nat_new(s, name, &c);
  if (!n || uplink(s, n, up, lc))
    return NULL;
  if (sim_node_add_route(up, prefix, plen, n->node.ifaces[n->node.n_ifaces - 1].link->iface[1]))
    return NULL;
  return n;
}

static sim_host *peer(sim *s, sim_router *inet, const sim_nat_cfg *cfg, int i,
                      const sim_link_cfg *lc, sim_nat **nat_out) {
  static const char *pub[2] = {"198.51.100.10", "203.0.113.10"};
  static const char *direct[2] = {"198.51.100.2", "203.0.113.2"};
  static const char *priv[2] = {"192.168.1.2", "10.0.0.2"};
  static const char *nat_name[2] = {"nat-a", "nat-b"}, *peer_name[2] = {"peer-a", "peer-b"};
  *nat_out = NULL;
  if (!cfg)
    return sim_attach_host(s, &inet->node, peer_name[i], direct[i], lc);
  *nat_out = sim_attach_nat(s, &inet->node, nat_name[i], cfg, cfg->n_pool ? NULL : pub[i], lc);
  if (!*nat_out)
    return NULL;
  return sim_attach_host(s, &(*nat_out)->node, peer_name[i], priv[i], lc);
}

int sim_topo_two_peers_behind_nats(sim *s, const sim_nat_cfg *a, const sim_nat_cfg *b,
                                   const sim_link_cfg *lc, sim_topo *out) {
  memset(out, 0, sizeof(*out));
  out->internet = sim_router_new(s, "internet");
  if (!out->internet)
    return P2PQ_ERR_NOMEM;
  out->server[0] = sim_attach_host(s, &out->internet->node, "server-1", "198.51.100.200", lc);
  out->server[1] = sim_attach_host(s, &out->internet->node, "server-2", "203.0.113.200", lc);
  if (!out->server[0] || !out->server[1] ||
      sim_host_add_routed_addr(out->server[0], &out->internet->node, "2001:db8:1::200") ||
      sim_host_add_routed_addr(out->server[1], &out->internet->node, "2001:db8:2::200"))
    return P2PQ_ERR_NOMEM;
  out->peer[0] = peer(s, out->internet, a, 0, lc, &out->nat[0]);
  out->peer[1] = peer(s, out->internet, b, 1, lc, &out->nat[1]);
  if (!out->peer[0] || !out->peer[1])
    return P2PQ_ERR_CONFIG;
  sim_host_set_app(out->server[0], &sim_reflector_ops, &out->rec[0]);
  sim_host_set_app(out->server[1], &sim_reflector_ops, &out->rec[1]);
  return 0;
}
