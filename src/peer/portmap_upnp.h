/* UPnP IGD calls (libminiupnpc, blocking) on a worker thread, for the
 * port-mapping agent. A job is one operation; the caller waits on its fd and
 * either collects the result or abandons the job, which then cleans up after
 * itself (and deletes a mapping it made too late to be wanted). */
#ifndef P2PQ_PEER_PORTMAP_UPNP_H
#define P2PQ_PEER_PORTMAP_UPNP_H

#include <stdint.h>

enum { P2PQ_UPNP_ADD = 1, P2PQ_UPNP_DELETE = 2 };

#define P2PQ_UPNP_URL_MAX 512

typedef struct p2pq_upnp_igd {
  char control_url[P2PQ_UPNP_URL_MAX];
  char service_type[128];
  char lanaddr[64]; /* our address as the IGD sees it (the mapping's target) */
} p2pq_upnp_igd;

typedef struct p2pq_upnp_req {
  int op;
  char gateway[48];      /* IPv4 text, for http://GATEWAY:PORT/rootDesc.xml */
  uint16_t upnp_port;    /* that URL's port */
  int discover_ms;       /* SSDP wait */
  uint16_t internal_port, external_port;
  uint32_t lifetime;
  p2pq_upnp_igd igd;     /* control_url[0] == 0: discover first */
} p2pq_upnp_req;

typedef struct p2pq_upnp_res {
  int error;             /* 0 or P2PQ_ERR_* */
  char detail[256];
  char ext_ip[48];       /* "" if the IGD did not say */
  uint32_t lifetime;     /* lease granted (0: permanent) */
  p2pq_upnp_igd igd;
} p2pq_upnp_res;

typedef struct p2pq_upnp_job p2pq_upnp_job;

/* Starts the thread. P2PQ_ERR_UNSUPPORTED without libminiupnpc. */
int p2pq_upnp_job_start(p2pq_upnp_job **out, const p2pq_upnp_req *req);
/* Becomes readable when the job is done. */
int p2pq_upnp_job_fd(const p2pq_upnp_job *j);
/* 1 when done (then finish may be called). */
int p2pq_upnp_job_done(p2pq_upnp_job *j);
/* Joins and frees a done job, filling res. */
void p2pq_upnp_job_finish(p2pq_upnp_job *j, p2pq_upnp_res *res);
/* Gives up on a running job: the thread frees it (deleting what it mapped). */
void p2pq_upnp_job_abandon(p2pq_upnp_job *j);

#endif
