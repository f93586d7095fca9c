/* The simulation: virtual clock, event heap, run loop, trace hash, node registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

enum { EV_ARRIVE = 1, EV_CALL };

typedef struct sim_ev {
  p2pq_tstamp t;
  uint64_t seq; /* insertion order breaks ties deterministically */
  int kind;
  sim_link *link;
  int dir;
  uint64_t pkt_seq;
  sim_pkt *pkt;
  sim_call_fn fn;
  void *arg;
} sim_ev;

struct sim {
  uint64_t seed;
  sim_rng rng;
  p2pq_tstamp now;
  uint64_t ev_seq;
  sim_ev *heap;
  size_t n_heap, cap_heap;
  sim_node **nodes;
  size_t n_nodes, cap_nodes;
  uint64_t hash;
  sim_trace_fn trace;
  void *trace_user;
};

sim *sim_new(uint64_t seed) {
  sim *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->seed = seed;
  sim_rng_seed(&s->rng, seed);
  s->hash = 0xcbf29ce484222325ull;
  return s;
}

void sim_free(sim *s) {
  size_t i;
  if (!s)
    return;
  for (i = 0; i < s->n_heap; i++)
    free(s->heap[i].pkt);
  free(s->heap);
  /* A link is owned by its node[0] end: first forget the other ends' pointers. */
  for (i = 0; i < s->n_nodes; i++)
    for (int k = 0; k < s->nodes[i]->n_ifaces; k++)
      if (s->nodes[i]->ifaces[k].link && s->nodes[i]->ifaces[k].link->node[0] != s->nodes[i])
        s->nodes[i]->ifaces[k].link = NULL;
  for (i = 0; i < s->n_nodes; i++) {
    sim_node *n = s->nodes[i];
    int k;
    if (n->kind == SIM_NODE_NAT)
      sim_nat_clear((sim_nat *)n);
    for (k = 0; k < n->n_ifaces; k++)
      free(n->ifaces[k].link);
    free(n);
  }
  free(s->nodes);
  free(s);
}

uint64_t sim_seed(const sim *s) { return s->seed; }
p2pq_tstamp sim_now(const sim *s) { return s->now; }
uint64_t sim_trace_hash(const sim *s) { return s->hash; }
sim_rng *sim_rng_of(sim *s) { return &s->rng; }

void sim_set_trace(sim *s, sim_trace_fn fn, void *user) {
  s->trace = fn;
  s->trace_user = user;
}

sim_node *const *sim_nodes(const sim *s, size_t *n) {
  *n = s->n_nodes;
  return s->nodes;
}

int sim_node_register(sim *s, sim_node *n, sim_node_kind kind, const char *name) {
  if (s->n_nodes == s->cap_nodes) {
    size_t cap = s->cap_nodes ? 2 * s->cap_nodes : 16;
    sim_node **nn = realloc(s->nodes, cap * sizeof(*nn));
    if (!nn)
      return P2PQ_ERR_NOMEM;
    s->nodes = nn;
    s->cap_nodes = cap;
  }
  n->s = s;
  n->kind = kind;
  n->id = (unsigned)s->n_nodes;
  snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
  s->nodes[s->n_nodes++] = n;
  return 0;
}

sim_node *sim_find(sim *s, const char *name) {
  for (size_t i = 0; i < s->n_nodes; i++)
    if (strcmp(s->nodes[i]->name, name) == 0)
      return s->nodes[i];
  return NULL;
}

/* ---- trace ---- */
static void mix(uint64_t *h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    *h ^= b[i];
    *h *= 0x100000001b3ull;
  }
}

static void mix_addr(uint64_t *h, const p2pq_addr *a) {
  mix(h, &a->family, 1);
  mix(h, &a->port, 2);
  mix(h, a->ip, p2pq_addr_iplen(a));
}

void sim_trace_emit(sim *s, sim_trace_kind kind, const sim_node *n, int detail,
                    const sim_pkt *p) {
  uint32_t v[3] = {(uint32_t)kind, n ? n->id : 0xffffffffu, (uint32_t)detail};
  mix(&s->hash, &s->now, sizeof(s->now));
  mix(&s->hash, v, sizeof(v));
  if (p) {
    mix_addr(&s->hash, &p->src);
    mix_addr(&s->hash, &p->dst);
    mix(&s->hash, p->data, p->len);
  }
  if (s->trace) {
    sim_trace_ev ev = {kind, s->now, n, detail, p ? &p->src : NULL, p ? &p->dst : NULL,
                       p ? p->len : 0};
    s->trace(s->trace_user, &ev);
  }
}

void sim_trace_print(void *file, const sim_trace_ev *ev) {
  static const char *kinds[] = {"?", "deliver", "drop", "timer", "call"};
  char a[P2PQ_ADDR_STRLEN] = "-", b[P2PQ_ADDR_STRLEN] = "-";
  if (ev->src)
    p2pq_addr_format(ev->src, a, sizeof(a));
  if (ev->dst)
    p2pq_addr_format(ev->dst, b, sizeof(b));
  fprintf(file, "%12.6f %-7s %-10s %s -> %s len %zu %s %d\n", (double)ev->now / 1e9,
          kinds[ev->kind <= SIM_TR_CALL ? ev->kind : 0], ev->node ? ev->node->name : "-", a,
          b, ev->len, ev->kind == SIM_TR_DROP ? "reason" : "iface", ev->detail);
}

/* ---- event heap ---- */
static int ev_less(const sim_ev *a, const sim_ev *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static int heap_push(sim *s, sim_ev *ev) {
  size_t i;
  if (s->n_heap == s->cap_heap) {
    size_t cap = s->cap_heap ? 2 * s->cap_heap : 256;
    sim_ev *nh = realloc(s->heap, cap * sizeof(*nh));
    if (!nh)
      return P2PQ_ERR_NOMEM;
    s->heap = nh;
    s->cap_heap = cap;
  }
  ev->seq = s->ev_seq++;
  i = s->n_heap++;
  while (i > 0 && ev_less(ev, &s->heap[(i - 1) / 2])) {
    s->heap[i] = s->heap[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  s->heap[i] = *ev;
  return 0;
}

static sim_ev heap_pop(sim *s) {
  sim_ev top = s->heap[0], last = s->heap[--s->n_heap];
  size_t i = 0, n = s->n_heap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && ev_less(&s->heap[c + 1], &s->heap[c]))
      c++;
    if (!ev_less(&s->heap[c], &last))
      break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n)
    s->heap[i] = last;
  return top;
}

int sim_sched_arrival(sim *s, p2pq_tstamp t, sim_link *l, int d, uint64_t seq, sim_pkt *p) {
  sim_ev ev = {0};
  ev.t = t;
  ev.kind = EV_ARRIVE;
  ev.link = l;
  ev.dir = d;
  ev.pkt_seq = seq;
  ev.pkt = p;
  return heap_push(s, &ev);
}

int sim_at(sim *s, p2pq_tstamp t, sim_call_fn fn, void *arg) {
  sim_ev ev = {0};
  if (!fn || t < s->now)
    return P2PQ_ERR_INVALID_ARG;
  ev.t = t;
  ev.kind = EV_CALL;
  ev.fn = fn;
  ev.arg = arg;
  return heap_push(s, &ev);
}

/* ---- run loop ---- */
/* Earliest host timer; ties go to the host created first. */
static sim_host *next_timer(sim *s) {
  sim_host *best = NULL;
  for (size_t i = 0; i < s->n_nodes; i++) {
    sim_host *h;
    if (s->nodes[i]->kind != SIM_NODE_HOST)
      continue;
    h = (sim_host *)s->nodes[i];
    if (h->timer_at != P2PQ_TSTAMP_MAX && (!best || h->timer_at < best->timer_at))
      best = h;
  }
  return best;
}

p2pq_tstamp sim_next_event(sim *s) {
  sim_host *h = next_timer(s);
  p2pq_tstamp t = s->n_heap ? s->heap[0].t : P2PQ_TSTAMP_MAX;
  if (h && h->timer_at < t)
    t = h->timer_at;
  return t < s->now ? s->now : t;
}

int sim_step(sim *s) {
  sim_host *h = next_timer(s);
  /* Packets and calls win ties against timers: the app sees input first. */
  if (h && (!s->n_heap || h->timer_at < s->heap[0].t)) {
    if (h->timer_at > s->now)
      s->now = h->timer_at;
    sim_host_fire_timer(h, s->now);
    return 1;
  }
  if (!s->n_heap)
    return 0;
  sim_ev ev = heap_pop(s);
  if (ev.t > s->now)
    s->now = ev.t;
  if (ev.kind == EV_ARRIVE) {
    sim_link_arrive(ev.link, ev.dir, ev.pkt_seq, ev.pkt);
  } else {
    sim_trace_emit(s, SIM_TR_CALL, NULL, 0, NULL);
    ev.fn(s, ev.arg);
  }
  return 1;
}

uint64_t sim_run_until(sim *s, p2pq_tstamp deadline) {
  uint64_t n = 0;
  while (sim_next_event(s) <= deadline && sim_step(s))
    n++;
  if (deadline > s->now)
    s->now = deadline;
  return n;
}

uint64_t sim_run_until_idle(sim *s, uint64_t max_events) {
  uint64_t n = 0;
  while ((!max_events || n < max_events) && sim_step(s))
    n++;
  return n;
}
