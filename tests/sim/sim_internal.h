/* Simulator internals shared by the sim_*.c files (not for tests). */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "sim.h"

#define SIM_TTL 64

typedef struct sim_pkt {
  p2pq_addr src, dst;
  int ttl;
  size_t len;
  uint8_t data[];
} sim_pkt;

sim_pkt *sim_pkt_new(const p2pq_addr *src, const p2pq_addr *dst, const uint8_t *d, size_t n);
sim_pkt *sim_pkt_dup(const sim_pkt *p);

/* Registers a freshly allocated node (kind, name) with the simulation. */
int sim_node_register(sim *s, sim_node *n, sim_node_kind kind, const char *name);
/* A packet arrives at n on iface (takes ownership). */
void sim_node_input(sim_node *n, int iface, sim_pkt *p);
/* n forwards/sends p by its routing table (takes ownership). */
void sim_node_output(sim_node *n, sim_pkt *p);
/* Router behaviour: decrement TTL then route. */
void sim_node_forward(sim_node *n, sim_pkt *p);
/* Drops p at n for reason (traces, frees). */
void sim_drop(sim_node *n, sim_pkt *p, sim_drop_reason reason);

/* Puts p on link l leaving node from (takes ownership). */
void sim_link_tx(sim_link *l, const sim_node *from, sim_pkt *p);
/* Called by the event loop when p reaches the far end of direction d. */
void sim_link_arrive(sim_link *l, int d, uint64_t seq, sim_pkt *p);
/* Schedules a delivery event. */
int sim_sched_arrival(sim *s, p2pq_tstamp t, sim_link *l, int d, uint64_t seq, sim_pkt *p);

void sim_host_input(sim_host *h, int iface, sim_pkt *p);
void sim_host_fire_timer(sim_host *h, p2pq_tstamp now);
void sim_nat_input(sim_nat *n, int iface, sim_pkt *p);
void sim_nat_clear(sim_nat *n);

void sim_trace_emit(sim *s, sim_trace_kind kind, const sim_node *n, int detail,
                    const sim_pkt *p);
sim_rng *sim_rng_of(sim *s);
/* All registered nodes. */
sim_node *const *sim_nodes(const sim *s, size_t *n);

#endif
