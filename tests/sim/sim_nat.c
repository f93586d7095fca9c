/* NAT boxes and stateful firewalls with RFC 4787 mapping, filtering, port
 * assignment, pooling, binding lifetime and hairpinning. A firewall is a NAT whose
 * external endpoint equals the internal one. */
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

#define DEFAULT_TIMEOUT (30 * P2PQ_S)

void sim_nat_cfg_default(sim_nat_cfg *c) {
  memset(c, 0, sizeof(*c));
  c->mapping = SIM_EI;
  c->filtering = SIM_APD;
  c->port_alloc = SIM_PORT_PRESERVE;
}

int sim_nat_cfg_add_public(sim_nat_cfg *c, const char *ip) {
  p2pq_addr a;
  int rc = p2pq_addr_parse(&a, ip, 0);
  if (rc)
    return rc;
  if (c->n_pool >= SIM_MAX_POOL)
    return P2PQ_ERR_LIMIT;
  c->pool[c->n_pool++] = a;
  return 0;
}

sim_nat *sim_nat_new(sim *s, const char *name, const sim_nat_cfg *cfg) {
  sim_nat *n;
  if (!cfg || (!cfg->firewall && cfg->n_pool < 1) || cfg->n_pool > SIM_MAX_POOL ||
      cfg->port_min > cfg->port_max)
    return NULL;
  n = calloc(1, sizeof(*n));
  if (!n)
    return NULL;
  n->cfg = *cfg;
  if (!n->cfg.port_min && !n->cfg.port_max) {
    n->cfg.port_min = 1024;
    n->cfg.port_max = 65535;
  }
  if (!n->cfg.binding_timeout)
    n->cfg.binding_timeout = DEFAULT_TIMEOUT;
  if (sim_node_register(s, &n->node, SIM_NODE_NAT, name)) {
    free(n);
    return NULL;
  }
  n->next_port = (uint16_t)(n->cfg.port_min +
                            sim_rand_below(s, (uint64_t)n->cfg.port_max - n->cfg.port_min + 1));
  return n;
}

void sim_nat_set_outside(sim_nat *n, int iface) {
  if (iface >= 0 && iface < n->node.n_ifaces)
    n->node.ifaces[iface].outside = 1;
}

static void binding_free(sim_nat_binding *b) { free(b->perms); }

void sim_nat_clear(sim_nat *n) {
  for (size_t i = 0; i < n->n_b; i++)
    binding_free(&n->b[i]);
  free(n->b);
  n->b = NULL;
  n->n_b = n->cap_b = 0;
}

void sim_nat_flush(sim_nat *n) {
  for (size_t i = 0; i < n->n_b; i++)
    binding_free(&n->b[i]);
  n->n_b = 0;
}

void sim_nat_rebind(sim_nat *n) {
  n->n_retired = 0;
  for (size_t i = 0; i < n->n_b && n->n_retired < 64; i++)
    if (!p2pq_addr_equal(&n->b[i].ext, &n->b[i].in))
      n->retired[n->n_retired++] = n->b[i].ext;
  sim_nat_flush(n);
}

static void expire(sim_nat *n, p2pq_tstamp now) {
  size_t i = 0;
  while (i < n->n_b) {
    if (n->b[i].expires <= now) {
      binding_free(&n->b[i]);
      n->b[i] = n->b[--n->n_b];
      n->stats.bindings_expired++;
    } else {
      i++;
    }
  }
}

size_t sim_nat_binding_count(sim_nat *n) {
  expire(n, sim_now(n->node.s));
  return n->n_b;
}

/* Translating for this family? Otherwise the box filters only (firewall) or, for
 * IPv6 through a NAT without v6_firewall, is a plain router. */
static int translates(const sim_nat *n, int family) { return !n->cfg.firewall && family == 4; }
static int filters(const sim_nat *n, int family) {
  return n->cfg.firewall || family == 4 || n->cfg.v6_firewall;
}

static int in_pool(const sim_nat *n, const p2pq_addr *a) {
  for (int i = 0; i < n->cfg.n_pool; i++)
    if (p2pq_addr_equal_ip(&n->cfg.pool[i], a))
      return 1;
  return 0;
}

static int same_remote(sim_nat_behaviour bhv, const p2pq_addr *a, const p2pq_addr *b) {
  if (bhv == SIM_EI)
    return 1;
  if (bhv == SIM_AD)
    return p2pq_addr_equal_ip(a, b);
  return p2pq_addr_equal(a, b);
}

static sim_nat_binding *find_out(sim_nat *n, const p2pq_addr *in, const p2pq_addr *remote) {
  sim_nat_behaviour m = translates(n, in->family) ? n->cfg.mapping : SIM_EI;
  for (size_t i = 0; i < n->n_b; i++)
    if (p2pq_addr_equal(&n->b[i].in, in) &&
        (n->b[i].open || same_remote(m, &n->b[i].remote, remote)))
      return &n->b[i];
  return NULL;
}

static sim_nat_binding *find_ext(sim_nat *n, const p2pq_addr *ext) {
  for (size_t i = 0; i < n->n_b; i++)
    if (p2pq_addr_equal(&n->b[i].ext, ext))
      return &n->b[i];
  return NULL;
}

int sim_nat_lookup(sim_nat *n, const p2pq_addr *in, const p2pq_addr *remote, p2pq_addr *ext) {
  sim_nat_binding *b;
  expire(n, sim_now(n->node.s));
  b = find_out(n, in, remote);
  if (!b)
    return P2PQ_ERR_NOT_FOUND;
  *ext = b->ext;
  return 0;
}

static int permit(sim_nat *n, sim_nat_binding *b, const p2pq_addr *remote, p2pq_tstamp now) {
  p2pq_tstamp exp = now + n->cfg.binding_timeout;
  for (size_t i = 0; i < b->n_perms; i++)
    if (p2pq_addr_equal(&b->perms[i].remote, remote)) {
      b->perms[i].expires = exp;
      return 0;
    }
  if (b->n_perms == b->cap_perms) {
    size_t cap = b->cap_perms ? 2 * b->cap_perms : 4;
    sim_nat_perm *np = realloc(b->perms, cap * sizeof(*np));
    if (!np)
      return P2PQ_ERR_NOMEM;
    b->perms = np;
    b->cap_perms = cap;
  }
  b->perms[b->n_perms].remote = *remote;
  b->perms[b->n_perms].expires = exp;
  b->n_perms++;
  return 0;
}

static int permitted(const sim_nat *n, const sim_nat_binding *b, const p2pq_addr *remote,
                     p2pq_tstamp now) {
  if (n->cfg.filtering == SIM_EI || b->open)
    return 1;
  for (size_t i = 0; i < b->n_perms; i++)
    if (b->perms[i].expires > now && same_remote(n->cfg.filtering, &b->perms[i].remote, remote))
      return 1;
  return 0;
}

static int port_used(const sim_nat *n, const p2pq_addr *ip, uint16_t port) {
  p2pq_addr a = *ip;
  a.port = port;
  for (size_t i = 0; i < n->n_retired; i++)
    if (p2pq_addr_equal(&n->retired[i], &a))
      return 1;
  for (size_t i = 0; i < n->n_b; i++)
    if (p2pq_addr_equal(&n->b[i].ext, &a))
      return 1;
  return 0;
}

/* First free port at or after start, wrapping inside the range; 0 if none. */
static uint16_t scan_free(const sim_nat *n, const p2pq_addr *ip, uint32_t start) {
  uint32_t lo = n->cfg.port_min, span = (uint32_t)n->cfg.port_max - lo + 1;
  for (uint32_t k = 0; k < span; k++) {
    uint16_t port = (uint16_t)(lo + (start - lo + k) % span);
    if (port && !port_used(n, ip, port))
      return port;
  }
  return 0;
}

static uint16_t alloc_port(sim_nat *n, const p2pq_addr *ip, uint16_t want) {
  uint32_t lo = n->cfg.port_min, hi = n->cfg.port_max, span = hi - lo + 1;
  uint16_t port = 0;
  switch (n->cfg.port_alloc) {
  case SIM_PORT_PRESERVE:
    port = scan_free(n, ip, want >= lo && want <= hi ? want : n->next_port);
    break;
  case SIM_PORT_SEQUENTIAL:
    port = scan_free(n, ip, n->next_port);
    if (port)
      n->next_port = (uint16_t)(lo + ((uint32_t)port + 1 - lo) % span);
    break;
  case SIM_PORT_RANDOM:
    for (int i = 0; i < 64 && !port; i++) {
      uint16_t c = (uint16_t)(lo + sim_rand_below(n->node.s, span));
      if (c && !port_used(n, ip, c))
        port = c;
    }
    if (!port)
      port = scan_free(n, ip, (uint32_t)(lo + sim_rand_below(n->node.s, span)));
    break;
  }
  return port;
}

static const p2pq_addr *pick_ip(sim_nat *n, const p2pq_addr *in) {
  size_t i;
  uint8_t idx;
  if (n->cfg.n_pool == 1)
    return &n->cfg.pool[0];
  if (n->cfg.pooling == SIM_POOL_ARBITRARY)
    return &n->cfg.pool[sim_rand_below(n->node.s, (uint64_t)n->cfg.n_pool)];
  for (i = 0; i < n->n_paired; i++)
    if (p2pq_addr_equal_ip(&n->paired_in[i], in))
      return &n->cfg.pool[n->paired_ext[i]];
  idx = (uint8_t)sim_rand_below(n->node.s, (uint64_t)n->cfg.n_pool);
  if (n->n_paired < 64) {
    n->paired_in[n->n_paired] = *in;
    n->paired_ext[n->n_paired++] = idx;
  }
  return &n->cfg.pool[idx];
}

/* Never shortens an explicit mapping's longer lifetime. */
static void refresh(const sim_nat *n, sim_nat_binding *b, p2pq_tstamp now) {
  if (now + n->cfg.binding_timeout > b->expires)
    b->expires = now + n->cfg.binding_timeout;
}

static sim_nat_binding *append(sim_nat *n, const sim_nat_binding *nb) {
  if (n->n_b == n->cap_b) {
    size_t cap = n->cap_b ? 2 * n->cap_b : 16;
    sim_nat_binding *bb = realloc(n->b, cap * sizeof(*bb));
    if (!bb)
      return NULL;
    n->b = bb;
    n->cap_b = cap;
  }
  n->b[n->n_b] = *nb;
  n->stats.bindings_created++;
  return &n->b[n->n_b++];
}

int sim_nat_map_port(sim_nat *n, const p2pq_addr *in, uint16_t ext_port, p2pq_tstamp lifetime,
                     p2pq_addr *ext) {
  sim_nat_binding nb, *b;
  p2pq_tstamp now = sim_now(n->node.s);
  expire(n, now);
  if (!translates(n, in->family) || !lifetime)
    return P2PQ_ERR_INVALID_ARG;
  memset(&nb, 0, sizeof(nb));
  nb.in = *in;
  nb.ext = *pick_ip(n, in);
  if (ext_port) {
    if (port_used(n, &nb.ext, ext_port))
      return P2PQ_ERR_EXISTS;
    nb.ext.port = ext_port;
  } else if (!(nb.ext.port = alloc_port(n, &nb.ext, in->port))) {
    return P2PQ_ERR_LIMIT;
  }
  /* No remote: an open mapping serves any destination under every mapping type. */
  nb.open = 1;
  nb.expires = now + lifetime;
  b = append(n, &nb);
  if (!b)
    return P2PQ_ERR_NOMEM;
  *ext = b->ext;
  return 0;
}

/* Finds or creates the binding for an outbound packet; refreshes it. */
static sim_nat_binding *outbound(sim_nat *n, const sim_pkt *p, p2pq_tstamp now,
                                 sim_drop_reason *why) {
  sim_nat_binding *b = find_out(n, &p->src, &p->dst);
  if (!b) {
    sim_nat_binding nb;
    memset(&nb, 0, sizeof(nb));
    if (n->cfg.max_bindings && n->n_b >= n->cfg.max_bindings) {
      *why = SIM_DROP_LIMIT;
      return NULL;
    }
    nb.in = p->src;
    nb.remote = p->dst;
    nb.ext = p->src;
    if (translates(n, p->src.family)) {
      const p2pq_addr *ip = pick_ip(n, &p->src);
      uint16_t port = alloc_port(n, ip, p->src.port);
      if (!port) {
        *why = SIM_DROP_NO_PORTS;
        return NULL;
      }
      nb.ext = *ip;
      nb.ext.port = port;
    }
    b = append(n, &nb);
    if (!b) {
      *why = SIM_DROP_LIMIT;
      return NULL;
    }
  }
  refresh(n, b, now);
  if (permit(n, b, &p->dst, now)) {
    *why = SIM_DROP_LIMIT;
    return NULL;
  }
  return b;
}

static void count_drop(sim_nat *n, sim_drop_reason why) {
  switch (why) {
  case SIM_DROP_NO_BINDING: n->stats.drop_no_binding++; break;
  case SIM_DROP_FILTERED: n->stats.drop_filtered++; break;
  case SIM_DROP_HAIRPIN: n->stats.drop_hairpin++; break;
  case SIM_DROP_NO_PORTS: n->stats.drop_no_ports++; break;
  default: n->stats.drop_limit++; break;
  }
}

static void drop(sim_nat *n, sim_pkt *p, sim_drop_reason why) {
  count_drop(n, why);
  sim_drop(&n->node, p, why);
}

/* Packet towards an external endpoint of ours: filter, translate, forward inside. */
static void inbound(sim_nat *n, sim_pkt *p, p2pq_tstamp now) {
  sim_nat_binding *b = find_ext(n, &p->dst);
  if (!b) {
    drop(n, p, SIM_DROP_NO_BINDING);
    return;
  }
  if (!permitted(n, b, &p->src, now)) {
    drop(n, p, SIM_DROP_FILTERED);
    return;
  }
  if (n->cfg.refresh_inbound) {
    /* The binding and the permission that let this packet in. */
    refresh(n, b, now);
    for (size_t i = 0; i < b->n_perms; i++)
      if (b->perms[i].expires > now && same_remote(n->cfg.filtering, &b->perms[i].remote, &p->src))
        b->perms[i].expires = now + n->cfg.binding_timeout;
  }
  if (!p2pq_addr_equal(&b->in, &b->ext))
    n->stats.in_translated++;
  p->dst = b->in;
  sim_node_forward(&n->node, p);
}

static int routes_outside(const sim_nat *n, const p2pq_addr *dst) {
  int i = sim_node_route(&n->node, dst);
  return i >= 0 && n->node.ifaces[i].outside;
}

static void from_inside(sim_nat *n, sim_pkt *p, p2pq_tstamp now) {
  sim_drop_reason why = SIM_DROP_LIMIT;
  int hairpin = translates(n, p->dst.family) && in_pool(n, &p->dst);
  sim_nat_binding *b;
  if (!hairpin && !routes_outside(n, &p->dst)) {
    sim_node_forward(&n->node, p); /* inside to inside */
    return;
  }
  if (hairpin && !n->cfg.hairpin) {
    drop(n, p, SIM_DROP_HAIRPIN);
    return;
  }
  b = outbound(n, p, now, &why);
  if (!b) {
    drop(n, p, why);
    return;
  }
  if (!p2pq_addr_equal(&b->in, &b->ext))
    n->stats.out_translated++;
  p->src = b->ext;
  if (hairpin) {
    n->stats.hairpinned++;
    inbound(n, p, now);
    return;
  }
  sim_node_forward(&n->node, p);
}

void sim_nat_input(sim_nat *n, int iface, sim_pkt *p) {
  p2pq_tstamp now = sim_now(n->node.s);
  expire(n, now);
  if (!filters(n, p->dst.family)) {
    sim_node_forward(&n->node, p);
    return;
  }
  if (iface < 0 || !n->node.ifaces[iface].outside) {
    from_inside(n, p, now);
    return;
  }
  if (translates(n, p->dst.family) ? !in_pool(n, &p->dst) : routes_outside(n, &p->dst)) {
    /* Not ours: a NAT drops it, a firewall lets transit traffic pass. */
    if (translates(n, p->dst.family))
      drop(n, p, SIM_DROP_NO_BINDING);
    else
      sim_node_forward(&n->node, p);
    return;
  }
  inbound(n, p, now);
}
