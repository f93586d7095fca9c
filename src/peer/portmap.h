/* Port-mapping agent: asks the gateway for an inbound UDP mapping of one local
 * port and keeps it. It tries PCP (RFC 6887), then NAT-PMP (RFC 6886), both
 * through the sans-I/O clients in src/nat over the agent's own UDP socket,
 * then UPnP IGD through libminiupnpc, whose blocking calls run on a worker
 * thread. Every attempt is bounded; a granted mapping is renewed before it
 * expires and deleted on p2pq_portmap_delete / p2pq_portmap_free. The
 * external address and port reach the caller through a callback.
 *
 * This layer does I/O: it owns a socket and reads the monotonic clock.
 * Drive it either with p2pq_portmap_run (blocking, bounded), or from an event
 * loop: wait for p2pq_portmap_fd to be readable or p2pq_portmap_next_timeout,
 * then call p2pq_portmap_process. */
#ifndef P2PQ_PEER_PORTMAP_H
#define P2PQ_PEER_PORTMAP_H

#include <stdint.h>

#include "p2pq/types.h"

typedef struct p2pq_portmap p2pq_portmap;

/* Protocols (a bit mask in the config; one value in events). */
enum {
  P2PQ_PORTMAP_PCP = 1,
  P2PQ_PORTMAP_NATPMP = 2,
  P2PQ_PORTMAP_UPNP = 4,
  P2PQ_PORTMAP_ALL = 7,
};

typedef enum p2pq_portmap_state {
  P2PQ_PORTMAP_IDLE = 0,
  P2PQ_PORTMAP_TRYING,   /* asking, protocol by protocol */
  P2PQ_PORTMAP_MAPPED,   /* a mapping is held (and renewed) */
  P2PQ_PORTMAP_FAILED,   /* every protocol failed, or a held mapping was lost */
  P2PQ_PORTMAP_DELETING, /* removing the mapping */
  P2PQ_PORTMAP_DELETED,  /* removed (or the gateway did not confirm in time) */
} p2pq_portmap_state;

typedef enum p2pq_portmap_event_type {
  P2PQ_PORTMAP_EV_MAPPED = 1,  /* mapping granted or renewed: external, lifetime */
  P2PQ_PORTMAP_EV_PROTO_FAILED, /* one protocol failed (error, detail); next one follows */
  P2PQ_PORTMAP_EV_FAILED,      /* nothing worked (error, detail) */
  P2PQ_PORTMAP_EV_LOST,        /* a held mapping could not be renewed */
  P2PQ_PORTMAP_EV_DELETED,     /* deleted; error != 0 when the gateway did not confirm */
} p2pq_portmap_event_type;

typedef struct p2pq_portmap_event {
  p2pq_portmap_event_type type;
  int proto;          /* P2PQ_PORTMAP_PCP / _NATPMP / _UPNP (0 for EV_FAILED) */
  int error;          /* P2PQ_ERR_* (0 on success) */
  p2pq_addr external; /* EV_MAPPED: external address and port (ip 0 if unknown) */
  uint32_t lifetime;  /* EV_MAPPED: granted seconds (0: permanent UPnP lease) */
  const char *detail; /* one line for people, e.g. "PCP: NOT_AUTHORIZED" */
} p2pq_portmap_event;

typedef void (*p2pq_portmap_cb)(void *user, const p2pq_portmap_event *ev);

typedef struct p2pq_portmap_config {
  uint16_t internal_port;   /* the local UDP port to open (required) */
  uint16_t external_port;   /* wanted external port; 0: same as internal */
  uint32_t lifetime;        /* requested seconds; 0: 7200 */
  unsigned protocols;       /* P2PQ_PORTMAP_* mask; 0: all */
  p2pq_addr gateway;        /* family 0: the default IPv4 gateway (/proc/net/route) */
  uint16_t server_port;     /* PCP / NAT-PMP port; 0: 5351 (tests use others) */
  uint16_t upnp_port;       /* port of rootDesc.xml tried when SSDP finds nothing; 0: 5000 */
  p2pq_tstamp pcp_timeout;    /* bound on PCP; 0: 3 s */
  p2pq_tstamp natpmp_timeout; /* bound on NAT-PMP; 0: 2 s */
  p2pq_tstamp upnp_timeout;   /* bound on UPnP; 0: 6 s */
  p2pq_tstamp pcp_irt;        /* PCP first retransmission timeout; 0: 1 s */
  int keep_on_free;         /* p2pq_portmap_free leaves a held mapping to expire */
  p2pq_portmap_cb cb;       /* may be NULL */
  void *cb_user;
} p2pq_portmap_config;

/* Opens the socket towards the gateway. P2PQ_ERR_NO_GATEWAY when none is
 * configured or found, P2PQ_ERR_IO, P2PQ_ERR_CONFIG, P2PQ_ERR_NOMEM. */
int p2pq_portmap_new(p2pq_portmap **out, const p2pq_portmap_config *cfg);
/* Deletes a held mapping (waiting at most 1 s for the gateway; not with
 * keep_on_free), stops the
 * worker thread if it is done (or leaves it to delete what it may still
 * create), closes the socket. */
void p2pq_portmap_free(p2pq_portmap *pm);

/* Starts asking (protocols in the order PCP, NAT-PMP, UPnP). */
int p2pq_portmap_start(p2pq_portmap *pm);
/* Starts deleting the held mapping; P2PQ_ERR_STATE when none is held. */
int p2pq_portmap_delete(p2pq_portmap *pm);

/* Event loop integration: readable when there is something to process. */
int p2pq_portmap_fd(const p2pq_portmap *pm);
p2pq_tstamp p2pq_portmap_next_timeout(const p2pq_portmap *pm);
/* Reads what arrived and fires due timers; events go to the callback. */
void p2pq_portmap_process(p2pq_portmap *pm);

/* Blocks, processing, until the state is no longer TRYING / DELETING (returns
 * 0), or until the monotonic clock passes deadline (P2PQ_ERR_TIMEOUT), or
 * forever while MAPPED when hold is set (renewing; returns on loss). */
int p2pq_portmap_run(p2pq_portmap *pm, p2pq_tstamp deadline, int hold);

p2pq_portmap_state p2pq_portmap_get_state(const p2pq_portmap *pm);
/* The held (or last) mapping: protocol, external address, granted lifetime. */
int p2pq_portmap_mapping(const p2pq_portmap *pm, int *proto, p2pq_addr *external,
                         uint32_t *lifetime);
/* Last error and its explanation ("" if none). */
int p2pq_portmap_last_error(const p2pq_portmap *pm, const char **detail);
/* The gateway used and our address towards it. */
void p2pq_portmap_addrs(const p2pq_portmap *pm, p2pq_addr *gateway, p2pq_addr *local);

const char *p2pq_portmap_proto_name(int proto);
/* CLOCK_MONOTONIC in ns (the agent's clock, for deadlines). */
p2pq_tstamp p2pq_portmap_now(void);

#endif
