/* Hosts: addresses, one app each, sending and receiving datagrams, app timers. */
#include <stdlib.h>

#include "sim_internal.h"

sim_host *sim_host_new(sim *s, const char *name) {
  sim_host *h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  h->timer_at = P2PQ_TSTAMP_MAX;
  if (sim_node_register(s, &h->node, SIM_NODE_HOST, name)) {
    free(h);
    return NULL;
  }
  return h;
}

int sim_host_add_addr(sim_host *h, const char *ip) {
  p2pq_addr a;
  int rc = p2pq_addr_parse(&a, ip, 0);
  if (rc)
    return rc;
  if (h->n_addrs >= SIM_MAX_ADDRS)
    return P2PQ_ERR_LIMIT;
  if (sim_host_has_ip(h, &a))
    return P2PQ_ERR_EXISTS;
  h->addrs[h->n_addrs++] = a;
  return 0;
}

int sim_host_addr(const sim_host *h, int family, uint16_t port, p2pq_addr *out) {
  for (int i = 0; i < h->n_addrs; i++)
    if (h->addrs[i].family == family) {
      *out = h->addrs[i];
      out->port = port;
      return 0;
    }
  return P2PQ_ERR_NOT_FOUND;
}

int sim_host_has_ip(const sim_host *h, const p2pq_addr *ip) {
  for (int i = 0; i < h->n_addrs; i++)
    if (p2pq_addr_equal_ip(&h->addrs[i], ip))
      return 1;
  return 0;
}

void sim_host_timer_update(sim_host *h) {
  h->timer_at = h->ops && h->ops->next_timeout ? h->ops->next_timeout(h->app)
                                               : P2PQ_TSTAMP_MAX;
}

void sim_host_set_app(sim_host *h, const sim_app_ops *ops, void *app) {
  h->ops = ops;
  h->app = app;
  sim_host_timer_update(h);
}

int sim_send(sim_host *h, const p2pq_addr *from, const p2pq_addr *to, const uint8_t *d,
             size_t n) {
  sim_pkt *p;
  if (!from || !to || (n && !d) || from->family != to->family || !sim_host_has_ip(h, from))
    return P2PQ_ERR_INVALID_ARG;
  p = sim_pkt_new(from, to, d, n);
  if (!p)
    return P2PQ_ERR_NOMEM;
  /* Loopback to one of our own addresses never touches a link. */
  if (sim_host_has_ip(h, to)) {
    sim_host_input(h, -1, p);
    return 0;
  }
  sim_node_output(&h->node, p);
  return 0;
}

void sim_host_input(sim_host *h, int iface, sim_pkt *p) {
  if (!sim_host_has_ip(h, &p->dst)) {
    h->node.stats.drop_not_local++;
    sim_drop(&h->node, p, SIM_DROP_NOT_LOCAL);
    return;
  }
  if (!h->ops || !h->ops->on_recv) {
    h->node.stats.drop_no_app++;
    sim_drop(&h->node, p, SIM_DROP_NO_APP);
    return;
  }
  h->ops->on_recv(h->app, h, &p->dst, &p->src, p->data, p->len, sim_now(h->node.s));
  free(p);
  sim_host_timer_update(h);
}

void sim_host_fire_timer(sim_host *h, p2pq_tstamp now) {
  sim_trace_emit(h->node.s, SIM_TR_TIMER, &h->node, 0, NULL);
  h->timer_at = P2PQ_TSTAMP_MAX;
  if (h->ops && h->ops->on_timeout)
    h->ops->on_timeout(h->app, h, now);
  sim_host_timer_update(h);
}
