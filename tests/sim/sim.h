/* Deterministic in-process network simulator: virtual clock, links, routers, hosts
 * running sans-I/O "apps", NAT boxes and stateful firewalls (RFC 4787 behaviours).
 * Test-only code; everything is reproducible from the one 64-bit seed given to
 * sim_new(). See docs/simulator.md. */
#ifndef SIM_H
#define SIM_H

#include <stddef.h>
#include <stdint.h>

#include "p2pq/error.h"
#include "p2pq/types.h"

#define SIM_MAX_IFACES 16
#define SIM_MAX_ADDRS 8
#define SIM_MAX_ROUTES 32
#define SIM_MAX_POOL 4
#define SIM_NAME_LEN 32

typedef struct sim sim;
typedef struct sim_node sim_node;
typedef struct sim_host sim_host;
typedef struct sim_router sim_router;
typedef struct sim_nat sim_nat;
typedef struct sim_link sim_link;

/* ---- PRNG (xoshiro256**, seeded with splitmix64) ---- */
typedef struct sim_rng {
  uint64_t s[4];
} sim_rng;
void sim_rng_seed(sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng *r);

uint64_t sim_rand(sim *s);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t sim_rand_below(sim *s, uint64_t n);
/* Uniform in [0, 1). */
double sim_rand_double(sim *s);
/* p2pq_rand_fn adapter: pass the sim as user. */
void sim_rand_fill(void *sim_ptr, uint8_t *out, size_t len);

/* ---- links ---- */
typedef struct sim_link_cfg {
  p2pq_tstamp delay;   /* one-way propagation delay */
  p2pq_tstamp jitter;  /* extra delay, uniform in [0, jitter]; may reorder ... */
  int keep_order;      /* ... unless set: jitter then never overtakes (FIFO) */
  double loss;         /* independent loss probability */
  /* Gilbert-Elliott burst loss, used when ge_p_gb > 0: per packet the state moves
   * good->bad with ge_p_gb and bad->good with ge_p_bg; a packet is lost with
   * ge_loss_good / ge_loss_bad in the respective state. */
  double ge_p_gb, ge_p_bg, ge_loss_good, ge_loss_bad;
  double reorder;            /* probability that a packet is held back ... */
  p2pq_tstamp reorder_delay; /* ... by this much extra delay */
  double duplicate;          /* probability of delivering a second copy */
  uint64_t bandwidth;        /* bits per second; 0 = infinite (no queue) */
  size_t queue_limit;        /* drop-tail queue in bytes; 0 = unlimited */
  size_t mtu;                /* largest datagram payload; 0 = unlimited */
} sim_link_cfg;

typedef struct sim_link_stats {
  uint64_t sent, delivered, bytes_delivered;
  uint64_t drop_loss, drop_queue, drop_mtu, drop_down;
  uint64_t duplicated, reordered;
} sim_link_stats;

/* One direction of a link. */
typedef struct sim_link_dir {
  sim_link_cfg cfg;
  sim_link_stats stats;
  p2pq_tstamp busy_until; /* transmitter busy serialising until then */
  uint64_t next_seq;      /* per-direction sequence, to count reordering */
  uint64_t max_delivered; /* highest sequence delivered + 1 */
  int ge_bad;             /* Gilbert-Elliott state */
  int down;               /* sim_link_set_down: everything is dropped */
  p2pq_tstamp last_arrival; /* for keep_order */
} sim_link_dir;

struct sim_link {
  sim *s;
  sim_node *node[2];
  int iface[2];
  sim_link_dir dir[2]; /* dir[0]: node[0] -> node[1]; dir[1]: node[1] -> node[0] */
};

/* Connects a and b; cfg_ab applies to a->b, cfg_ba to b->a (NULL = same as cfg_ab,
 * cfg_ab NULL = ideal link). Returns NULL when out of memory or interfaces. */
sim_link *sim_link_new(sim *s, sim_node *a, sim_node *b, const sim_link_cfg *cfg_ab,
                       const sim_link_cfg *cfg_ba);
/* Takes both directions of l down (1) or up (0); packets in flight still arrive. */
void sim_link_set_down(sim_link *l, int down);
/* The direction of l that leaves node `from`, or NULL. */
sim_link_dir *sim_link_dir_from(sim_link *l, const sim_node *from);

/* ---- nodes, routes ---- */
typedef enum sim_node_kind { SIM_NODE_HOST, SIM_NODE_ROUTER, SIM_NODE_NAT } sim_node_kind;

typedef struct sim_route {
  p2pq_addr prefix; /* family + ip; port ignored */
  unsigned plen;
  int iface;
} sim_route;

typedef struct sim_iface {
  sim_link *link;
  int outside; /* NAT boxes: 1 for the public side */
} sim_iface;

typedef struct sim_node_stats {
  uint64_t rx, forwarded, drop_no_route, drop_not_local, drop_ttl, drop_no_app;
} sim_node_stats;

struct sim_node {
  sim *s;
  sim_node_kind kind;
  unsigned id;
  char name[SIM_NAME_LEN];
  sim_iface ifaces[SIM_MAX_IFACES];
  int n_ifaces;
  sim_route routes[SIM_MAX_ROUTES];
  int n_routes;
  sim_node_stats stats;
};

/* Adds a route; "198.51.100.0", 24. iface -1 means the node's last interface. */
int sim_node_add_route(sim_node *n, const char *prefix, unsigned plen, int iface);
int sim_node_add_route_addr(sim_node *n, const p2pq_addr *prefix, unsigned plen, int iface);
/* Longest-prefix match; returns the interface or P2PQ_ERR_NOT_FOUND. */
int sim_node_route(const sim_node *n, const p2pq_addr *dst);
/* 1 if a and b agree in their first plen bits (and family). */
int sim_prefix_match(const p2pq_addr *a, const p2pq_addr *b, unsigned plen);

/* ---- hosts and apps ---- */
typedef struct sim_app_ops {
  void (*on_recv)(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                  const uint8_t *d, size_t n, p2pq_tstamp now);
  /* Absolute time of the next timer, P2PQ_TSTAMP_MAX for none. May be NULL. */
  p2pq_tstamp (*next_timeout)(void *app);
  void (*on_timeout)(void *app, sim_host *h, p2pq_tstamp now);
} sim_app_ops;

struct sim_host {
  sim_node node;
  p2pq_addr addrs[SIM_MAX_ADDRS]; /* ports ignored */
  int n_addrs;
  const sim_app_ops *ops;
  void *app;
  p2pq_tstamp timer_at; /* cached ops->next_timeout() */
};

sim_host *sim_host_new(sim *s, const char *name);
/* Adds an address ("192.168.1.2" or "2001:db8::2"). */
int sim_host_add_addr(sim_host *h, const char *ip);
/* First address of the given family, port set to port. */
int sim_host_addr(const sim_host *h, int family, uint16_t port, p2pq_addr *out);
int sim_host_has_ip(const sim_host *h, const p2pq_addr *ip);
void sim_host_set_app(sim_host *h, const sim_app_ops *ops, void *app);
/* Re-reads the app's next_timeout (call after changing app state from outside). */
void sim_host_timer_update(sim_host *h);
/* Sends a datagram now. from must carry one of h's addresses. */
int sim_send(sim_host *h, const p2pq_addr *from, const p2pq_addr *to, const uint8_t *d,
             size_t n);

/* ---- routers ---- */
struct sim_router {
  sim_node node;
};
sim_router *sim_router_new(sim *s, const char *name);

/* ---- NAT boxes and firewalls (RFC 4787) ---- */
typedef enum sim_nat_behaviour {
  SIM_EI = 0, /* endpoint-independent */
  SIM_AD,     /* address-dependent */
  SIM_APD     /* address-and-port-dependent */
} sim_nat_behaviour;

typedef enum sim_port_alloc {
  SIM_PORT_PRESERVE = 0, /* keep the internal port when free, else next free */
  SIM_PORT_SEQUENTIAL,   /* next port after the last one allocated */
  SIM_PORT_RANDOM        /* uniform in [port_min, port_max] */
} sim_port_alloc;

typedef enum sim_pooling {
  SIM_POOL_PAIRED = 0, /* one external IP per internal IP (RFC 4787 REQ-2) */
  SIM_POOL_ARBITRARY   /* any external IP per mapping */
} sim_pooling;

typedef struct sim_nat_cfg {
  int firewall; /* 1: stateful firewall, no translation (filtering applies) */
  sim_nat_behaviour mapping, filtering;
  sim_port_alloc port_alloc;
  uint16_t port_min, port_max;  /* 0,0 = 1024..65535 */
  p2pq_tstamp binding_timeout;  /* 0 = 30 s */
  int refresh_inbound;          /* inbound packets also refresh the binding */
  int hairpin;                  /* translate inside->own public address->inside */
  sim_pooling pooling;
  unsigned max_bindings;        /* 0 = unlimited */
  int v6_firewall;              /* IPv6 through a NAT: 1 = stateful firewall, 0 = open */
  p2pq_addr pool[SIM_MAX_POOL]; /* public IPs (ports ignored); filled by helpers */
  int n_pool;
} sim_nat_cfg;

/* Defaults: EIM, APDF, preserving, 30 s, no hairpin (RFC 4787 "port-restricted"). */
void sim_nat_cfg_default(sim_nat_cfg *c);
/* Adds a public IP to cfg's pool. */
int sim_nat_cfg_add_public(sim_nat_cfg *c, const char *ip);

/* Expiry is lazy: bindings_expired counts when the NAT next looks at its table. */
typedef struct sim_nat_stats {
  uint64_t out_translated, in_translated, hairpinned, bindings_created, bindings_expired;
  uint64_t drop_no_binding, drop_filtered, drop_hairpin, drop_no_ports, drop_limit;
} sim_nat_stats;

typedef struct sim_nat_perm {
  p2pq_addr remote;
  p2pq_tstamp expires;
} sim_nat_perm;

typedef struct sim_nat_binding {
  p2pq_addr in;      /* internal endpoint */
  p2pq_addr ext;     /* external endpoint (== in for a firewall) */
  p2pq_addr remote;  /* mapping key part for AD/APD mapping */
  p2pq_tstamp expires;
  sim_nat_perm *perms; /* remotes the inside has sent to (filtering) */
  int open;            /* explicit port mapping: no filtering */
  size_t n_perms, cap_perms;
} sim_nat_binding;

struct sim_nat {
  sim_node node;
  sim_nat_cfg cfg;
  sim_nat_stats stats;
  sim_nat_binding *b;
  size_t n_b, cap_b;
  uint16_t next_port;             /* sequential allocation cursor */
  p2pq_addr retired[64];          /* external endpoints avoided after a rebind */
  size_t n_retired;
  p2pq_addr paired_in[64];        /* paired pooling: internal IP ... */
  uint8_t paired_ext[64];         /* ... -> pool index */
  size_t n_paired;
};

/* cfg is copied. The outside interface is marked with sim_nat_set_outside(). */
sim_nat *sim_nat_new(sim *s, const char *name, const sim_nat_cfg *cfg);
void sim_nat_set_outside(sim_nat *n, int iface);
/* Drops every binding now (like a NAT reboot or a timeout): new traffic gets fresh
 * mappings. sim_nat_rebind() also guarantees the new external ports differ. */
void sim_nat_flush(sim_nat *n);
void sim_nat_rebind(sim_nat *n);
/* Live bindings at the current time. */
size_t sim_nat_binding_count(sim_nat *n);
/* External endpoint currently mapped for internal endpoint in (towards remote, used
 * for AD/APD mapping); P2PQ_ERR_NOT_FOUND if none. */
int sim_nat_lookup(sim_nat *n, const p2pq_addr *in, const p2pq_addr *remote, p2pq_addr *ext);
/* An explicit port mapping, as PCP / NAT-PMP / UPnP would create: inbound to the
 * external endpoint from anyone reaches `in` for `lifetime` (refreshed by traffic
 * like any binding). ext_port 0 lets the NAT choose. Returns the external endpoint in
 * *ext; P2PQ_ERR_EXISTS if ext_port is taken, P2PQ_ERR_LIMIT if no port is free. */
int sim_nat_map_port(sim_nat *n, const p2pq_addr *in, uint16_t ext_port, p2pq_tstamp lifetime,
                     p2pq_addr *ext);

/* ---- the simulation ---- */
typedef enum sim_trace_kind {
  SIM_TR_DELIVER = 1, /* packet arrived at a node */
  SIM_TR_DROP,        /* packet dropped (reason in detail) */
  SIM_TR_TIMER,       /* app timer fired */
  SIM_TR_CALL         /* scheduled callback ran */
} sim_trace_kind;

typedef enum sim_drop_reason {
  SIM_DROP_LOSS = 1, SIM_DROP_QUEUE, SIM_DROP_MTU, SIM_DROP_NO_ROUTE, SIM_DROP_NOT_LOCAL,
  SIM_DROP_TTL, SIM_DROP_NO_APP, SIM_DROP_NO_BINDING, SIM_DROP_FILTERED,
  SIM_DROP_HAIRPIN, SIM_DROP_NO_PORTS, SIM_DROP_LIMIT, SIM_DROP_DOWN
} sim_drop_reason;

typedef struct sim_trace_ev {
  sim_trace_kind kind;
  p2pq_tstamp now;
  const sim_node *node;
  int detail; /* drop: sim_drop_reason; deliver: interface */
  const p2pq_addr *src, *dst;
  size_t len;
} sim_trace_ev;

typedef void (*sim_trace_fn)(void *user, const sim_trace_ev *ev);
typedef void (*sim_call_fn)(sim *s, void *arg);

/* The simulation owns every node and link created in it; sim_free frees them all. */
sim *sim_new(uint64_t seed);
void sim_free(sim *s);
uint64_t sim_seed(const sim *s);
p2pq_tstamp sim_now(const sim *s);
/* Hash of every event so far (time, kind, node, addresses, payload). */
uint64_t sim_trace_hash(const sim *s);
/* Observe events; sim_trace_print (user = FILE *) prints them. */
void sim_set_trace(sim *s, sim_trace_fn fn, void *user);
void sim_trace_print(void *file, const sim_trace_ev *ev);
/* Runs fn(s, arg) at time t (>= now). */
int sim_at(sim *s, p2pq_tstamp t, sim_call_fn fn, void *arg);

/* Runs the earliest event; returns 1 if one ran, 0 if nothing is pending. */
int sim_step(sim *s);
/* Runs events with time <= deadline, then sets the clock to deadline. Returns the
 * number of events run. */
uint64_t sim_run_until(sim *s, p2pq_tstamp deadline);
/* Runs until no event is pending or max_events ran (0 = no cap); returns events. */
uint64_t sim_run_until_idle(sim *s, uint64_t max_events);
/* Time of the next event or P2PQ_TSTAMP_MAX. */
p2pq_tstamp sim_next_event(sim *s);
/* Node by name (first match) or NULL. */
sim_node *sim_find(sim *s, const char *name);

/* ---- ready-made apps ---- */
/* Records every datagram received (remote, local, time, first bytes). */
#define SIM_REC_MAX 256
typedef struct sim_rec_entry {
  p2pq_addr local, remote;
  p2pq_tstamp at;
  size_t len;
  uint8_t data[64];
} sim_rec_entry;
typedef struct sim_recorder {
  sim_rec_entry e[SIM_REC_MAX];
  size_t n;     /* entries stored (<= SIM_REC_MAX) */
  size_t total; /* datagrams seen */
} sim_recorder;
extern const sim_app_ops sim_recorder_ops;

/* Answers each datagram to its sender, from the local address it arrived on, with
 * the sender's address as seen here encoded by sim_reflect_encode (a STUN-like
 * "mapped address" service). Also records like sim_recorder. */
extern const sim_app_ops sim_reflector_ops;
/* 1 family byte, 2 port bytes, 16 ip bytes. */
#define SIM_REFLECT_LEN 19
size_t sim_reflect_encode(const p2pq_addr *a, uint8_t *out, size_t cap);
int sim_reflect_decode(const uint8_t *p, size_t len, p2pq_addr *a);

/* ---- adapter for sans-I/O endpoints (p2pq_endpoint_* style) ---- */
/* Thin wrappers around an endpoint's API; the simulator calls send() until it
 * returns 0 after every input and timer. */
typedef struct sim_ep_ops {
  int (*recv)(void *ep, const uint8_t *d, size_t n, const p2pq_addr *local,
              const p2pq_addr *remote, p2pq_tstamp now);
  /* Writes one datagram into buf; returns its length, 0 when nothing is left, or
   * a negative error. local may be left unset (family 0): the host's first
   * address of the remote's family is used. */
  int (*send)(void *ep, uint8_t *buf, size_t cap, p2pq_addr *local, p2pq_addr *remote,
              p2pq_tstamp now);
  p2pq_tstamp (*next_timeout)(void *ep);
  void (*on_timeout)(void *ep, p2pq_tstamp now);
} sim_ep_ops;

#define SIM_EP_BUF 1500
#define SIM_EP_MAX_BURST 4096 /* datagrams per flush: guards against a stuck sender */

typedef struct sim_ep_app {
  const sim_ep_ops *ops;
  void *ep;
  uint64_t rx, tx;
  uint64_t errors; /* recv/send errors and datagrams sim_send refused */
  int last_err;
} sim_ep_app;

extern const sim_app_ops sim_ep_app_ops;
void sim_ep_app_init(sim_ep_app *a, const sim_ep_ops *ops, void *ep);
/* Drains the endpoint's pending datagrams now (call after acting on the endpoint
 * from outside, e.g. starting a connection) and re-arms its timer. Returns the
 * number of datagrams sent. */
int sim_ep_app_flush(sim_ep_app *a, sim_host *h);

/* ---- topology helpers ---- */
/* Creates a host with address ip linked to `up` (router or NAT inside): adds a
 * /32 (/128) route on up and a default route on the host. */
sim_host *sim_attach_host(sim *s, sim_node *up, const char *name, const char *ip,
                          const sim_link_cfg *lc);
/* Adds a second address (e.g. IPv6) to h, routed by up over h's existing link. */
int sim_host_add_routed_addr(sim_host *h, sim_node *up, const char *ip);
/* Creates a NAT whose outside links to up, with public IP(s) from cfg->pool (or
 * `public_ip` if not NULL) routed to it by up, and a default route out. */
sim_nat *sim_attach_nat(sim *s, sim_node *up, const char *name, const sim_nat_cfg *cfg,
                        const char *public_ip, const sim_link_cfg *lc);
/* A firewall in front of a public prefix: hosts attached to it get public addresses
 * in prefix/plen, which up routes to it. */
sim_nat *sim_attach_firewall(sim *s, sim_node *up, const char *name, const sim_nat_cfg *cfg,
                             const char *prefix, unsigned plen, const sim_link_cfg *lc);

typedef struct sim_topo {
  sim_router *internet;
  sim_host *server[2]; /* 198.51.100.200 and 203.0.113.200 (+ 2001:db8:1::200/:2::200) */
  sim_nat *nat[2];     /* NULL when that peer has a public address */
  sim_host *peer[2];   /* 192.168.1.2 behind nat[0], 10.0.0.2 behind nat[1] */
  sim_recorder rec[2]; /* the servers' reflector state (keep the topo alive) */
} sim_topo;

/* Two peers, each behind its own NAT (cfg NULL = public address 198.51.100.2 /
 * 203.0.113.2), two reflector servers on the internet; lc for every link. The
 * servers' apps point into *out, which must outlive the simulation's use.
 * NAT public IPs: 198.51.100.10 and 203.0.113.10 unless the cfg has a pool. */
int sim_topo_two_peers_behind_nats(sim *s, const sim_nat_cfg *a, const sim_nat_cfg *b,
                                   const sim_link_cfg *lc, sim_topo *out);

#endif
