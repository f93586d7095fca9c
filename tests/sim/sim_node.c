/* Nodes: packets, longest-prefix routing, forwarding, drops; routers. */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

sim_pkt *sim_pkt_new(const p2pq_addr *src, const p2pq_addr *dst, const uint8_t *d, size_t n) {
  sim_pkt *p = malloc(sizeof(*p) + n + 1);
  if (!p)
    return NULL;
  p->src = *src;
  p->dst = *dst;
  p->ttl = SIM_TTL;
  p->len = n;
  if (n)
    memcpy(p->data, d, n);
  return p;
}

sim_pkt *sim_pkt_dup(const sim_pkt *p) {
  sim_pkt *c = sim_pkt_new(&p->src, &p->dst, p->data, p->len);
  if (c)
    c->ttl = p->ttl;
  return c;
}

int sim_prefix_match(const p2pq_addr *a, const p2pq_addr *b, unsigned plen) {
  unsigned bytes = plen / 8, bits = plen % 8;
  if (a->family != b->family || plen > 8 * p2pq_addr_iplen(a))
    return 0;
  if (memcmp(a->ip, b->ip, bytes) != 0)
    return 0;
  if (bits) {
    uint8_t mask = (uint8_t)(0xff << (8 - bits));
    if ((a->ip[bytes] & mask) != (b->ip[bytes] & mask))
      return 0;
  }
  return 1;
}

int sim_node_add_route_addr(sim_node *n, const p2pq_addr *prefix, unsigned plen, int iface) {
  sim_route *r;
  if (iface < 0)
    iface = n->n_ifaces - 1;
  if (iface < 0 || iface >= n->n_ifaces || (prefix->family != 4 && prefix->family != 6) ||
      plen > 8 * p2pq_addr_iplen(prefix))
    return P2PQ_ERR_INVALID_ARG;
  if (n->n_routes >= SIM_MAX_ROUTES)
    return P2PQ_ERR_LIMIT;
  r = &n->routes[n->n_routes++];
  r->prefix = *prefix;
  r->prefix.port = 0;
  r->plen = plen;
  r->iface = iface;
  return 0;
}

int sim_node_add_route(sim_node *n, const char *prefix, unsigned plen, int iface) {
  p2pq_addr a;
  int rc = p2pq_addr_parse(&a, prefix, 0);
  if (rc)
    return rc;
  return sim_node_add_route_addr(n, &a, plen, iface);
}

int sim_node_route(const sim_node *n, const p2pq_addr *dst) {
  int best = P2PQ_ERR_NOT_FOUND;
  unsigned best_len = 0;
  for (int i = 0; i < n->n_routes; i++) {
    const sim_route *r = &n->routes[i];
    if (sim_prefix_match(&r->prefix, dst, r->plen) &&
        (best < 0 || r->plen > best_len)) {
      best = r->iface;
      best_len = r->plen;
    }
  }
  return best;
}

void sim_drop(sim_node *n, sim_pkt *p, sim_drop_reason reason) {
  sim_trace_emit(n->s, SIM_TR_DROP, n, (int)reason, p);
  free(p);
}

void sim_node_output(sim_node *n, sim_pkt *p) {
  int i = sim_node_route(n, &p->dst);
  if (i < 0 || !n->ifaces[i].link) {
    n->stats.drop_no_route++;
    sim_drop(n, p, SIM_DROP_NO_ROUTE);
    return;
  }
  sim_link_tx(n->ifaces[i].link, n, p);
}

void sim_node_forward(sim_node *n, sim_pkt *p) {
  if (--p->ttl <= 0) {
    n->stats.drop_ttl++;
    sim_drop(n, p, SIM_DROP_TTL);
    return;
  }
  n->stats.forwarded++;
  sim_node_output(n, p);
}

void sim_node_input(sim_node *n, int iface, sim_pkt *p) {
  n->stats.rx++;
  sim_trace_emit(n->s, SIM_TR_DELIVER, n, iface, p);
  switch (n->kind) {
  case SIM_NODE_HOST:
    sim_host_input((sim_host *)n, iface, p);
    break;
  case SIM_NODE_NAT:
    sim_nat_input((sim_nat *)n, iface, p);
    break;
  default:
    sim_node_forward(n, p);
    break;
  }
}

sim_router *sim_router_new(sim *s, const char *name) {
  sim_router *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  if (sim_node_register(s, &r->node, SIM_NODE_ROUTER, name)) {
    free(r);
    return NULL;
  }
  return r;
}
