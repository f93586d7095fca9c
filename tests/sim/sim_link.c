/* Links: per-direction delay, jitter, loss (Bernoulli and Gilbert-Elliott),
 * reordering, duplication, bandwidth with a drop-tail queue, MTU. */
#include <stdlib.h>

#include "sim_internal.h"

static int attach(sim_node *n, sim_link *l, int end) {
  if (n->n_ifaces >= SIM_MAX_IFACES)
    return P2PQ_ERR_LIMIT;
  l->node[end] = n;
  l->iface[end] = n->n_ifaces;
  n->ifaces[n->n_ifaces].link = l;
  n->ifaces[n->n_ifaces].outside = 0;
  n->n_ifaces++;
  return 0;
}

sim_link *sim_link_new(sim *s, sim_node *a, sim_node *b, const sim_link_cfg *cfg_ab,
                       const sim_link_cfg *cfg_ba) {
  sim_link *l;
  if (!a || !b || a == b || a->n_ifaces >= SIM_MAX_IFACES || b->n_ifaces >= SIM_MAX_IFACES)
    return NULL;
  l = calloc(1, sizeof(*l));
  if (!l)
    return NULL;
  l->s = s;
  if (cfg_ab)
    l->dir[0].cfg = *cfg_ab;
  l->dir[1].cfg = cfg_ba ? *cfg_ba : l->dir[0].cfg;
  attach(a, l, 0);
  attach(b, l, 1);
  return l;
}

void sim_link_set_down(sim_link *l, int down) {
  l->dir[0].down = l->dir[1].down = down;
}

sim_link_dir *sim_link_dir_from(sim_link *l, const sim_node *from) {
  if (l->node[0] == from)
    return &l->dir[0];
  if (l->node[1] == from)
    return &l->dir[1];
  return NULL;
}

static int lost(sim *s, sim_link_dir *d) {
  const sim_link_cfg *c = &d->cfg;
  if (c->loss > 0 && sim_rand_double(s) < c->loss)
    return 1;
  if (c->ge_p_gb > 0) {
    double p = d->ge_bad ? c->ge_loss_bad : c->ge_loss_good;
    int l = p > 0 && sim_rand_double(s) < p;
    /* Move the chain after deciding this packet's fate. */
    if (sim_rand_double(s) < (d->ge_bad ? c->ge_p_bg : c->ge_p_gb))
      d->ge_bad = !d->ge_bad;
    return l;
  }
  return 0;
}

/* Time the last bit leaves the sender, or 0 with *drop set if the queue is full. */
static p2pq_tstamp serialise(sim_link_dir *d, p2pq_tstamp now, size_t len, int *drop) {
  const sim_link_cfg *c = &d->cfg;
  p2pq_tstamp start = d->busy_until > now ? d->busy_until : now;
  unsigned __int128 ser;
  *drop = 0;
  if (!c->bandwidth)
    return now;
  if (c->queue_limit) {
    unsigned __int128 backlog = (unsigned __int128)(start - now) * c->bandwidth;
    uint64_t queued = (uint64_t)((backlog + 8 * P2PQ_S - 1) / (8 * P2PQ_S));
    if (queued + len > c->queue_limit) {
      *drop = 1;
      return 0;
    }
  }
  ser = ((unsigned __int128)len * 8 * P2PQ_S + c->bandwidth - 1) / c->bandwidth;
  d->busy_until = start + (p2pq_tstamp)ser;
  return d->busy_until;
}

static p2pq_tstamp arrival(sim *s, sim_link_dir *d, p2pq_tstamp sent) {
  const sim_link_cfg *c = &d->cfg;
  p2pq_tstamp t = sent + c->delay;
  if (c->jitter)
    t += sim_rand_below(s, c->jitter + 1);
  if (c->keep_order) {
    if (t < d->last_arrival)
      t = d->last_arrival;
    d->last_arrival = t;
  }
  if (c->reorder > 0 && sim_rand_double(s) < c->reorder)
    t += c->reorder_delay;
  return t;
}

void sim_link_tx(sim_link *l, const sim_node *from, sim_pkt *p) {
  sim *s = l->s;
  int di = l->node[0] == from ? 0 : 1, drop;
  sim_link_dir *d = &l->dir[di];
  sim_node *n = (sim_node *)from;
  p2pq_tstamp now = sim_now(s), sent;
  uint64_t seq = d->next_seq++;
  d->stats.sent++;
  if (d->down) {
    d->stats.drop_down++;
    sim_drop(n, p, SIM_DROP_DOWN);
    return;
  }
  if (d->cfg.mtu && p->len > d->cfg.mtu) {
    d->stats.drop_mtu++;
    sim_drop(n, p, SIM_DROP_MTU);
    return;
  }
  sent = serialise(d, now, p->len, &drop);
  if (drop) {
    d->stats.drop_queue++;
    sim_drop(n, p, SIM_DROP_QUEUE);
    return;
  }
  /* Lost on the wire: it used its share of the bandwidth. */
  if (lost(s, d)) {
    d->stats.drop_loss++;
    sim_drop(n, p, SIM_DROP_LOSS);
    return;
  }
  if (d->cfg.duplicate > 0 && sim_rand_double(s) < d->cfg.duplicate) {
    sim_pkt *c = sim_pkt_dup(p);
    if (c) {
      d->stats.duplicated++;
      if (sim_sched_arrival(s, arrival(s, d, sent), l, di, seq, c))
        free(c);
    }
  }
  if (sim_sched_arrival(s, arrival(s, d, sent), l, di, seq, p))
    free(p);
}

void sim_link_arrive(sim_link *l, int di, uint64_t seq, sim_pkt *p) {
  sim_link_dir *d = &l->dir[di];
  int to = 1 - di;
  d->stats.delivered++;
  d->stats.bytes_delivered += p->len;
  if (seq + 1 < d->max_delivered)
    d->stats.reordered++;
  else if (seq + 1 > d->max_delivered)
    d->max_delivered = seq + 1;
  sim_node_input(l->node[to], l->iface[to], p);
}
