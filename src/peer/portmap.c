/* Port-mapping agent (see portmap.h): PCP, then NAT-PMP over our own UDP
 * socket, then UPnP IGD on a worker thread; bounded attempts, renewal,
 * deletion. */
#include "peer/portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nat/natpmp_client.h"
#include "nat/pcp_client.h"
#include "p2pq/error.h"
#include "peer/gateway.h"
#include "peer/portmap_upnp.h"

enum phase {
  PH_IDLE,
  PH_PCP,
  PH_NATPMP_ADDR, /* public address first: it also shows NAT-PMP is there */
  PH_NATPMP_MAP,
  PH_UPNP,
  PH_MAPPED,
  PH_FAILED,
  PH_DELETING,
  PH_DELETED,
};

#define DELETE_BOUND (1 * P2PQ_S)

struct p2pq_portmap {
  p2pq_portmap_config cfg;
  int sock, epfd;
  p2pq_addr gw;     /* gateway, port = server_port */
  p2pq_addr local;  /* our address towards it */
  enum phase phase;
  int proto;        /* protocol of the current phase or held mapping */
  p2pq_tstamp deadline; /* bound of the current attempt / deletion */
  p2pq_pcp_client pcp;
  p2pq_natpmp_client nat_addr, nat_map;
  p2pq_upnp_job *job;
  p2pq_upnp_igd igd;
  p2pq_tstamp upnp_renew_at; /* P2PQ_TSTAMP_MAX: no renewal due */
  int upnp_renewing;
  p2pq_tstamp last_expiry;   /* to tell a renewal from a duplicate answer */
  p2pq_addr external;
  uint32_t lifetime;
  int last_error;
  char detail[256];
};

p2pq_tstamp p2pq_portmap_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (p2pq_tstamp)ts.tv_sec * P2PQ_S + (p2pq_tstamp)ts.tv_nsec;
}

static void os_random(void *user, uint8_t *out, size_t len) {
  (void)user;
  while (len > 0) {
    ssize_t n = getrandom(out, len, 0);
    if (n <= 0)
      continue; /* EINTR; getrandom does not fail otherwise once seeded */
    out += n;
    len -= (size_t)n;
  }
}

const char *p2pq_portmap_proto_name(int proto) {
  switch (proto) {
  case P2PQ_PORTMAP_PCP: return "PCP";
  case P2PQ_PORTMAP_NATPMP: return "NAT-PMP";
  case P2PQ_PORTMAP_UPNP: return "UPnP";
  default: return "none";
  }
}

static void emit(p2pq_portmap *pm, p2pq_portmap_event_type type, int proto, int error) {
  p2pq_portmap_event ev;
  if (pm->cfg.cb == NULL)
    return;
  memset(&ev, 0, sizeof(ev));
  ev.type = type;
  ev.proto = proto;
  ev.error = error;
  ev.external = pm->external;
  ev.lifetime = pm->lifetime;
  ev.detail = pm->detail;
  pm->cfg.cb(pm->cfg.cb_user, &ev);
}

static void send_req(p2pq_portmap *pm, const uint8_t *p, size_t len) {
  if (len > 0 && send(pm->sock, p, len, 0) < 0 && errno != EAGAIN)
    pm->last_error = P2PQ_ERR_IO; /* ICMP errors surface on recv: handled there */
}

static void start_proto(p2pq_portmap *pm, int after);

/* The protocol of the current phase failed: report it, go on to the next. */
static void proto_failed(p2pq_portmap *pm, int err) {
  int proto = pm->proto;
  pm->last_error = err;
  emit(pm, P2PQ_PORTMAP_EV_PROTO_FAILED, proto, err);
  start_proto(pm, proto);
}

static void mapped(p2pq_portmap *pm, int proto, const p2pq_addr *ext, uint32_t life) {
  pm->phase = PH_MAPPED;
  pm->proto = proto;
  pm->external = *ext;
  pm->lifetime = life;
  pm->last_error = 0;
  snprintf(pm->detail, sizeof(pm->detail), "%s mapping granted for %u s",
           p2pq_portmap_proto_name(proto), (unsigned)life);
  emit(pm, P2PQ_PORTMAP_EV_MAPPED, proto, 0);
}

static void lost(p2pq_portmap *pm, int err) {
  pm->phase = PH_FAILED;
  pm->last_error = err;
  snprintf(pm->detail, sizeof(pm->detail), "%s mapping could not be renewed: %s",
           p2pq_portmap_proto_name(pm->proto), p2pq_strerror(err));
  emit(pm, P2PQ_PORTMAP_EV_LOST, pm->proto, err);
}

static void deleted(p2pq_portmap *pm, int err) {
  pm->phase = PH_DELETED;
  pm->last_error = err;
  if (err == 0)
    snprintf(pm->detail, sizeof(pm->detail), "%s mapping deleted",
             p2pq_portmap_proto_name(pm->proto));
  else
    snprintf(pm->detail, sizeof(pm->detail), "%s delete not confirmed: %s",
             p2pq_portmap_proto_name(pm->proto), p2pq_strerror(err));
  emit(pm, P2PQ_PORTMAP_EV_DELETED, pm->proto, err);
}

/* ------------------------------------------------------------------ PCP */

static int pcp_begin(p2pq_portmap *pm, p2pq_tstamp now) {
  p2pq_pcp_client_cfg c;
  uint8_t out[128];
  size_t n = 0;
  int rv;
  p2pq_pcp_client_cfg_default(&c);
  c.server = pm->gw;
  c.client = pm->local;
  c.internal_port = pm->cfg.internal_port;
  c.lifetime = pm->cfg.lifetime;
  c.suggested = pm->local;
  memset(c.suggested.ip, 0, sizeof(c.suggested.ip)); /* any external address */
  c.suggested.port = pm->cfg.external_port;
  c.irt = pm->cfg.pcp_irt;
  c.max_total = pm->cfg.pcp_timeout;
  c.rand = os_random;
  if ((rv = p2pq_pcp_client_init(&pm->pcp, &c)) != 0 ||
      (rv = p2pq_pcp_client_start(&pm->pcp, now, out, sizeof(out), &n)) != 0)
    return rv;
  send_req(pm, out, n);
  return 0;
}

static p2pq_tstamp bound_of(const p2pq_portmap *pm, int proto);

static void explain_timeout(p2pq_portmap *pm) {
  snprintf(pm->detail, sizeof(pm->detail), "%s: no answer within %.1f s",
           p2pq_portmap_proto_name(pm->proto),
           (double)bound_of(pm, pm->proto) / (double)P2PQ_S);
}

static void pcp_explain(p2pq_portmap *pm, int err) {
  if (err == P2PQ_ERR_TIMEOUT && pm->phase == PH_PCP)
    explain_timeout(pm);
  else if (err == P2PQ_ERR_UNSUPPORTED)
    snprintf(pm->detail, sizeof(pm->detail), "PCP: gateway does not speak PCP (UNSUPP_VERSION)");
  else if (err == P2PQ_ERR_PORTMAP)
    snprintf(pm->detail, sizeof(pm->detail), "PCP: gateway refused: %s (for %u s)",
             p2pq_pcp_result_name(pm->pcp.result), (unsigned)pm->pcp.error_lifetime);
  else
    snprintf(pm->detail, sizeof(pm->detail), "PCP: %s", p2pq_strerror(err));
}

/* Reacts to the PCP client's state after a datagram or a timer. */
static void pcp_sync(p2pq_portmap *pm) {
  p2pq_pcp_client *c = &pm->pcp;
  switch (c->state) {
  case P2PQ_PCP_MAPPED:
    if (pm->phase == PH_PCP || (pm->phase == PH_MAPPED && c->expires != pm->last_expiry)) {
      pm->last_expiry = c->expires;
      mapped(pm, P2PQ_PORTMAP_PCP, &c->external, c->granted);
    }
    break;
  case P2PQ_PCP_FAILED:
    pcp_explain(pm, c->last_error);
    if (pm->phase == PH_PCP)
      proto_failed(pm, c->last_error);
    else if (pm->phase == PH_MAPPED)
      lost(pm, c->last_error);
    else if (pm->phase == PH_DELETING)
      deleted(pm, c->last_error);
    break;
  case P2PQ_PCP_DELETED:
    if (pm->phase == PH_DELETING)
      deleted(pm, 0);
    break;
  default: break;
  }
}

/* ------------------------------------------------------------------ NAT-PMP */

static int natpmp_begin(p2pq_natpmp_client *c, p2pq_portmap *pm, uint8_t op, p2pq_tstamp now,
                        p2pq_tstamp bound) {
  p2pq_natpmp_client_cfg cfg;
  uint8_t out[16];
  size_t n = 0;
  int rv;
  p2pq_natpmp_client_cfg_default(&cfg);
  cfg.server = pm->gw;
  cfg.op = op;
  cfg.internal_port = pm->cfg.internal_port;
  cfg.suggested_port = pm->cfg.external_port;
  cfg.lifetime = pm->cfg.lifetime;
  cfg.max_total = bound;
  if ((rv = p2pq_natpmp_client_init(c, &cfg)) != 0 ||
      (rv = p2pq_natpmp_client_start(c, now, out, sizeof(out), &n)) != 0)
    return rv;
  send_req(pm, out, n);
  return 0;
}

static void natpmp_explain(p2pq_portmap *pm, const p2pq_natpmp_client *c, int err) {
  if (err == P2PQ_ERR_TIMEOUT && (pm->phase == PH_NATPMP_ADDR || pm->phase == PH_NATPMP_MAP))
    explain_timeout(pm);
  else if (err == P2PQ_ERR_PORTMAP)
    snprintf(pm->detail, sizeof(pm->detail), "NAT-PMP: gateway refused: %s",
             p2pq_natpmp_result_name(c->result));
  else if (err == P2PQ_ERR_UNSUPPORTED)
    snprintf(pm->detail, sizeof(pm->detail), "NAT-PMP: gateway answered another version");
  else
    snprintf(pm->detail, sizeof(pm->detail), "NAT-PMP: %s", p2pq_strerror(err));
}

static void natpmp_sync(p2pq_portmap *pm, p2pq_tstamp now) {
  p2pq_natpmp_client *a = &pm->nat_addr, *c = &pm->nat_map;
  p2pq_addr ext;
  if (pm->phase == PH_NATPMP_ADDR) {
    if (a->state == P2PQ_NATPMP_FAILED) {
      natpmp_explain(pm, a, a->last_error);
      proto_failed(pm, a->last_error);
    } else if (a->state == P2PQ_NATPMP_DONE) {
      p2pq_tstamp left = pm->deadline > now ? pm->deadline - now : 1;
      int rv;
      pm->phase = PH_NATPMP_MAP;
      if ((rv = natpmp_begin(c, pm, P2PQ_NATPMP_OP_MAP_UDP, now, left)) != 0) {
        natpmp_explain(pm, c, rv);
        proto_failed(pm, rv);
      }
    }
    return;
  }
  switch (c->state) {
  case P2PQ_NATPMP_MAPPED:
    if (pm->phase == PH_NATPMP_MAP ||
        (pm->phase == PH_MAPPED && c->expires != pm->last_expiry)) {
      pm->last_expiry = c->expires;
      p2pq_addr_v4(&ext, a->external_ip, c->external_port);
      mapped(pm, P2PQ_PORTMAP_NATPMP, &ext, c->granted);
    }
    break;
  case P2PQ_NATPMP_FAILED:
    natpmp_explain(pm, c, c->last_error);
    if (pm->phase == PH_NATPMP_MAP)
      proto_failed(pm, c->last_error);
    else if (pm->phase == PH_MAPPED)
      lost(pm, c->last_error);
    else if (pm->phase == PH_DELETING)
      deleted(pm, c->last_error);
    break;
  case P2PQ_NATPMP_DELETED:
    if (pm->phase == PH_DELETING)
      deleted(pm, 0);
    break;
  default: break;
  }
}

/* ------------------------------------------------------------------ UPnP */

static int upnp_begin(p2pq_portmap *pm, int op, p2pq_tstamp bound) {
  p2pq_upnp_req q;
  int rv;
  memset(&q, 0, sizeof(q));
  q.op = op;
  if (pm->gw.family == 4)
    inet_ntop(AF_INET, pm->gw.ip, q.gateway, sizeof(q.gateway));
  q.upnp_port = pm->cfg.upnp_port;
  /* leave at least half of the bound for the SOAP calls */
  q.discover_ms = (int)(bound / P2PQ_MS / 2 < 2000 ? bound / P2PQ_MS / 2 : 2000);
  if (q.discover_ms < 100)
    q.discover_ms = 100;
  q.internal_port = pm->cfg.internal_port;
  q.external_port = op == P2PQ_UPNP_DELETE ? pm->external.port : pm->cfg.external_port;
  q.lifetime = pm->cfg.lifetime;
  q.igd = pm->igd;
  if ((rv = p2pq_upnp_job_start(&pm->job, &q)) != 0)
    return rv;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  epoll_ctl(pm->epfd, EPOLL_CTL_ADD, p2pq_upnp_job_fd(pm->job), &ev);
  return 0;
}

static void upnp_drop_job(p2pq_portmap *pm, p2pq_upnp_res *res) {
  epoll_ctl(pm->epfd, EPOLL_CTL_DEL, p2pq_upnp_job_fd(pm->job), NULL);
  if (res != NULL)
    p2pq_upnp_job_finish(pm->job, res);
  else
    p2pq_upnp_job_abandon(pm->job);
  pm->job = NULL;
}

static void upnp_result(p2pq_portmap *pm, const p2pq_upnp_res *r, p2pq_tstamp now) {
  p2pq_addr ext;
  if (pm->phase == PH_DELETING) {
    snprintf(pm->detail, sizeof(pm->detail), "%s", r->detail);
    deleted(pm, r->error);
    return;
  }
  if (r->error != 0) {
    snprintf(pm->detail, sizeof(pm->detail), "UPnP: %.240s", r->detail);
    if (pm->phase == PH_UPNP)
      proto_failed(pm, r->error);
    else
      lost(pm, r->error);
    return;
  }
  pm->igd = r->igd;
  memset(&ext, 0, sizeof(ext));
  if (p2pq_addr_parse(&ext, r->ext_ip, pm->cfg.external_port) != 0)
    p2pq_addr_v4(&ext, (const uint8_t[4]){0, 0, 0, 0}, pm->cfg.external_port);
  pm->upnp_renewing = 0;
  pm->upnp_renew_at =
      r->lifetime ? now + (p2pq_tstamp)r->lifetime * P2PQ_S / 2 : P2PQ_TSTAMP_MAX;
  mapped(pm, P2PQ_PORTMAP_UPNP, &ext, r->lifetime);
}

/* ------------------------------------------------------------------ driving */

static p2pq_tstamp bound_of(const p2pq_portmap *pm, int proto) {
  return proto == P2PQ_PORTMAP_PCP      ? pm->cfg.pcp_timeout
         : proto == P2PQ_PORTMAP_NATPMP ? pm->cfg.natpmp_timeout
                                        : pm->cfg.upnp_timeout;
}

/* Starts the first enabled protocol after `after` (0: from the top); none
 * left: the whole attempt failed. */
static void start_proto(p2pq_portmap *pm, int after) {
  static const int order[] = {P2PQ_PORTMAP_PCP, P2PQ_PORTMAP_NATPMP, P2PQ_PORTMAP_UPNP};
  p2pq_tstamp now = p2pq_portmap_now();
  size_t i = 0;
  if (after != 0) {
    while (i < 3 && order[i] != after)
      i++;
    i++;
  }
  for (; i < 3; i++) {
    int proto = order[i], rv;
    p2pq_tstamp bound = bound_of(pm, proto);
    if (!(pm->cfg.protocols & (unsigned)proto))
      continue;
    pm->proto = proto;
    pm->deadline = now + bound;
    if (proto != P2PQ_PORTMAP_PCP && pm->gw.family != 4) {
      rv = P2PQ_ERR_UNSUPPORTED;
      snprintf(pm->detail, sizeof(pm->detail), "%s: IPv4 gateways only",
               p2pq_portmap_proto_name(proto));
    } else if (proto == P2PQ_PORTMAP_PCP) {
      pm->phase = PH_PCP;
      rv = pcp_begin(pm, now);
    } else if (proto == P2PQ_PORTMAP_NATPMP) {
      pm->phase = PH_NATPMP_ADDR;
      rv = natpmp_begin(&pm->nat_addr, pm, P2PQ_NATPMP_OP_ADDRESS, now, bound);
    } else {
      pm->phase = PH_UPNP;
      memset(&pm->igd, 0, sizeof(pm->igd));
      rv = upnp_begin(pm, P2PQ_UPNP_ADD, bound);
      if (rv == P2PQ_ERR_UNSUPPORTED)
        snprintf(pm->detail, sizeof(pm->detail), "UPnP: built without libminiupnpc");
    }
    if (rv == 0)
      return;
    if (rv != P2PQ_ERR_UNSUPPORTED)
      snprintf(pm->detail, sizeof(pm->detail), "%s: cannot start: %s",
               p2pq_portmap_proto_name(proto), p2pq_strerror(rv));
    pm->last_error = rv;
    emit(pm, P2PQ_PORTMAP_EV_PROTO_FAILED, proto, rv);
  }
  pm->phase = PH_FAILED;
  if (pm->last_error == 0)
    pm->last_error = P2PQ_ERR_CONFIG;
  snprintf(pm->detail, sizeof(pm->detail), "no port mapping: every protocol tried failed");
  emit(pm, P2PQ_PORTMAP_EV_FAILED, 0, pm->last_error);
}

/* ICMP port unreachable: no PCP / NAT-PMP server on the gateway at all. */
static void unreachable(p2pq_portmap *pm) {
  if (pm->phase == PH_PCP || pm->phase == PH_NATPMP_ADDR || pm->phase == PH_NATPMP_MAP) {
    snprintf(pm->detail, sizeof(pm->detail), "%s: gateway port %u unreachable (ICMP)",
             p2pq_portmap_proto_name(pm->proto), (unsigned)pm->gw.port);
    proto_failed(pm, P2PQ_ERR_IO);
  }
}

static void on_datagram(p2pq_portmap *pm, const uint8_t *p, size_t n, p2pq_tstamp now) {
  if (pm->proto == P2PQ_PORTMAP_PCP &&
      (pm->phase == PH_PCP || pm->phase == PH_MAPPED || pm->phase == PH_DELETING)) {
    (void)p2pq_pcp_client_on_recv(&pm->pcp, p, n, &pm->gw, now);
    pcp_sync(pm);
  } else if (pm->proto == P2PQ_PORTMAP_NATPMP && pm->phase != PH_FAILED &&
             pm->phase != PH_DELETED) {
    /* the opcode says which exchange it answers */
    p2pq_natpmp_client *c = n >= 2 && p[1] == 128 && pm->phase == PH_NATPMP_ADDR
                                ? &pm->nat_addr
                                : &pm->nat_map;
    (void)p2pq_natpmp_client_on_recv(c, p, n, &pm->gw, now);
    natpmp_sync(pm, now);
  }
}

static void read_socket(p2pq_portmap *pm, p2pq_tstamp now) {
  uint8_t buf[1100];
  for (;;) {
    ssize_t n = recv(pm->sock, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ECONNREFUSED) {
        unreachable(pm);
        continue;
      }
      return; /* EAGAIN, or nothing useful to do about it */
    }
    on_datagram(pm, buf, (size_t)n, now);
  }
}

/* Runs the current client's timer; the agent's own bound backs it up. */
static void timers(p2pq_portmap *pm, p2pq_tstamp now) {
  uint8_t out[128];
  size_t n = 0;
  if (pm->proto == P2PQ_PORTMAP_PCP &&
      (pm->phase == PH_PCP || pm->phase == PH_MAPPED || pm->phase == PH_DELETING)) {
    if (now >= p2pq_pcp_client_next_timeout(&pm->pcp)) {
      (void)p2pq_pcp_client_on_timeout(&pm->pcp, now, out, sizeof(out), &n);
      send_req(pm, out, n);
      pcp_sync(pm);
    }
  } else if (pm->proto == P2PQ_PORTMAP_NATPMP &&
             (pm->phase == PH_NATPMP_ADDR || pm->phase == PH_NATPMP_MAP ||
              pm->phase == PH_MAPPED || pm->phase == PH_DELETING)) {
    p2pq_natpmp_client *c = pm->phase == PH_NATPMP_ADDR ? &pm->nat_addr : &pm->nat_map;
    if (now >= p2pq_natpmp_client_next_timeout(c)) {
      (void)p2pq_natpmp_client_on_timeout(c, now, out, sizeof(out), &n);
      send_req(pm, out, n);
      natpmp_sync(pm, now);
    }
  } else if (pm->proto == P2PQ_PORTMAP_UPNP && pm->phase == PH_MAPPED && pm->job == NULL &&
             now >= pm->upnp_renew_at) {
    pm->upnp_renewing = 1;
    pm->deadline = now + pm->cfg.upnp_timeout;
    if (upnp_begin(pm, P2PQ_UPNP_ADD, pm->cfg.upnp_timeout) != 0)
      lost(pm, P2PQ_ERR_IO);
  }
  /* the backstop: a bounded attempt never outlives its bound */
  if (now < pm->deadline)
    return;
  if (pm->phase == PH_PCP || pm->phase == PH_NATPMP_ADDR || pm->phase == PH_NATPMP_MAP ||
      pm->phase == PH_UPNP) {
    if (pm->job != NULL)
      upnp_drop_job(pm, NULL);
    explain_timeout(pm);
    proto_failed(pm, P2PQ_ERR_TIMEOUT);
  } else if (pm->phase == PH_DELETING) {
    if (pm->job != NULL)
      upnp_drop_job(pm, NULL);
    deleted(pm, P2PQ_ERR_TIMEOUT);
  } else if (pm->phase == PH_MAPPED && pm->upnp_renewing && pm->job != NULL) {
    upnp_drop_job(pm, NULL);
    lost(pm, P2PQ_ERR_TIMEOUT);
  }
}

void p2pq_portmap_process(p2pq_portmap *pm) {
  p2pq_tstamp now = p2pq_portmap_now();
  read_socket(pm, now);
  if (pm->job != NULL && p2pq_upnp_job_done(pm->job)) {
    p2pq_upnp_res r;
    upnp_drop_job(pm, &r);
    upnp_result(pm, &r, now);
  }
  timers(pm, p2pq_portmap_now());
}

p2pq_tstamp p2pq_portmap_next_timeout(const p2pq_portmap *pm) {
  p2pq_tstamp t = P2PQ_TSTAMP_MAX, c = P2PQ_TSTAMP_MAX;
  int bounded = pm->phase == PH_PCP || pm->phase == PH_NATPMP_ADDR ||
                pm->phase == PH_NATPMP_MAP || pm->phase == PH_UPNP ||
                pm->phase == PH_DELETING || (pm->phase == PH_MAPPED && pm->upnp_renewing);
  if (bounded)
    t = pm->deadline;
  if (pm->proto == P2PQ_PORTMAP_PCP &&
      (pm->phase == PH_PCP || pm->phase == PH_MAPPED || pm->phase == PH_DELETING))
    c = p2pq_pcp_client_next_timeout(&pm->pcp);
  else if (pm->proto == P2PQ_PORTMAP_NATPMP && pm->phase == PH_NATPMP_ADDR)
    c = p2pq_natpmp_client_next_timeout(&pm->nat_addr);
  else if (pm->proto == P2PQ_PORTMAP_NATPMP &&
           (pm->phase == PH_NATPMP_MAP || pm->phase == PH_MAPPED || pm->phase == PH_DELETING))
    c = p2pq_natpmp_client_next_timeout(&pm->nat_map);
  else if (pm->proto == P2PQ_PORTMAP_UPNP && pm->phase == PH_MAPPED && pm->job == NULL)
    c = pm->upnp_renew_at;
  return c < t ? c : t;
}

int p2pq_portmap_fd(const p2pq_portmap *pm) { return pm->epfd; }

p2pq_portmap_state p2pq_portmap_get_state(const p2pq_portmap *pm) {
  switch (pm->phase) {
  case PH_IDLE: return P2PQ_PORTMAP_IDLE;
  case PH_MAPPED: return P2PQ_PORTMAP_MAPPED;
  case PH_FAILED: return P2PQ_PORTMAP_FAILED;
  case PH_DELETING: return P2PQ_PORTMAP_DELETING;
  case PH_DELETED: return P2PQ_PORTMAP_DELETED;
  default: return P2PQ_PORTMAP_TRYING;
  }
}

int p2pq_portmap_run(p2pq_portmap *pm, p2pq_tstamp deadline, int hold) {
  for (;;) {
    p2pq_portmap_state st = p2pq_portmap_get_state(pm);
    p2pq_tstamp now = p2pq_portmap_now(), until;
    struct epoll_event ev;
    int ms;
    if (st != P2PQ_PORTMAP_TRYING && st != P2PQ_PORTMAP_DELETING &&
        !(hold && st == P2PQ_PORTMAP_MAPPED))
      return 0;
    if (now >= deadline)
      return P2PQ_ERR_TIMEOUT;
    until = p2pq_portmap_next_timeout(pm);
    if (until > deadline)
      until = deadline;
    ms = until <= now ? 0 : (int)((until - now + P2PQ_MS - 1) / P2PQ_MS);
    if (ms > 1000)
      ms = 1000; /* also lets a caller's signal flag be seen */
    if (epoll_wait(pm->epfd, &ev, 1, ms) < 0 && errno != EINTR)
      return P2PQ_ERR_IO;
    p2pq_portmap_process(pm);
  }
}

int p2pq_portmap_start(p2pq_portmap *pm) {
  if (pm->phase != PH_IDLE && pm->phase != PH_FAILED && pm->phase != PH_DELETED)
    return P2PQ_ERR_STATE;
  pm->last_error = 0;
  pm->detail[0] = '\0';
  pm->upnp_renew_at = P2PQ_TSTAMP_MAX;
  pm->upnp_renewing = 0;
  start_proto(pm, 0);
  return 0;
}

int p2pq_portmap_delete(p2pq_portmap *pm) {
  p2pq_tstamp now = p2pq_portmap_now();
  uint8_t out[128];
  size_t n = 0;
  int rv = 0;
  if (pm->phase != PH_MAPPED)
    return P2PQ_ERR_STATE;
  if (pm->job != NULL) /* a renewal in flight: its answer no longer matters */
    upnp_drop_job(pm, NULL);
  pm->phase = PH_DELETING;
  pm->deadline = now + (pm->proto == P2PQ_PORTMAP_UPNP ? pm->cfg.upnp_timeout : DELETE_BOUND);
  if (pm->proto == P2PQ_PORTMAP_PCP)
    rv = p2pq_pcp_client_delete(&pm->pcp, now, out, sizeof(out), &n);
  else if (pm->proto == P2PQ_PORTMAP_NATPMP)
    rv = p2pq_natpmp_client_delete(&pm->nat_map, now, out, sizeof(out), &n);
  else
    rv = upnp_begin(pm, P2PQ_UPNP_DELETE, pm->cfg.upnp_timeout);
  if (rv != 0) {
    deleted(pm, rv);
    return rv;
  }
  send_req(pm, out, n);
  return 0;
}

int p2pq_portmap_new(p2pq_portmap **out, const p2pq_portmap_config *cfg) {
  p2pq_portmap *pm;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  if (cfg == NULL || cfg->internal_port == 0)
    return P2PQ_ERR_CONFIG;
  if ((pm = calloc(1, sizeof(*pm))) == NULL)
    return P2PQ_ERR_NOMEM;
  pm->cfg = *cfg;
  pm->sock = pm->epfd = -1;
  if (!pm->cfg.external_port)
    pm->cfg.external_port = cfg->internal_port;
  if (!pm->cfg.lifetime)
    pm->cfg.lifetime = 7200;
  if (!pm->cfg.protocols)
    pm->cfg.protocols = P2PQ_PORTMAP_ALL;
  if (!pm->cfg.server_port)
    pm->cfg.server_port = P2PQ_PCP_SERVER_PORT;
  if (!pm->cfg.upnp_port)
    pm->cfg.upnp_port = 5000;
  if (!pm->cfg.pcp_timeout)
    pm->cfg.pcp_timeout = 3 * P2PQ_S;
  if (!pm->cfg.natpmp_timeout)
    pm->cfg.natpmp_timeout = 2 * P2PQ_S;
  if (!pm->cfg.upnp_timeout)
    pm->cfg.upnp_timeout = 6 * P2PQ_S;
  if (!pm->cfg.pcp_irt)
    pm->cfg.pcp_irt = 1 * P2PQ_S;
  pm->gw = cfg->gateway;
  if (pm->gw.family == 0) {
    p2pq_gateway g;
    int rv = p2pq_gateway_default(4, &g);
    if (rv != 0) {
      free(pm);
      return rv == P2PQ_ERR_IO ? P2PQ_ERR_NO_GATEWAY : rv;
    }
    pm->gw = g.addr;
  }
  pm->gw.port = pm->cfg.server_port;
  sl = (socklen_t)p2pq_addr_to_sockaddr(&pm->gw, &ss);
  pm->sock = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (pm->sock < 0 || connect(pm->sock, (struct sockaddr *)&ss, sl) != 0)
    goto io_fail;
  sl = sizeof(ss);
  if (getsockname(pm->sock, (struct sockaddr *)&ss, &sl) != 0 ||
      p2pq_addr_from_sockaddr(&pm->local, (struct sockaddr *)&ss) != 0)
    goto io_fail;
  if ((pm->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
      epoll_ctl(pm->epfd, EPOLL_CTL_ADD, pm->sock, &ev) != 0)
    goto io_fail;
  pm->upnp_renew_at = P2PQ_TSTAMP_MAX;
  *out = pm;
  return 0;
io_fail:
  if (pm->sock >= 0)
    close(pm->sock);
  if (pm->epfd >= 0)
    close(pm->epfd);
  free(pm);
  return P2PQ_ERR_IO;
}

void p2pq_portmap_free(p2pq_portmap *pm) {
  if (pm == NULL)
    return;
  if (pm->phase == PH_MAPPED && !pm->cfg.keep_on_free && p2pq_portmap_delete(pm) == 0)
    (void)p2pq_portmap_run(pm, p2pq_portmap_now() + DELETE_BOUND, 0);
  if (pm->job != NULL)
    upnp_drop_job(pm, NULL);
  close(pm->sock);
  close(pm->epfd);
  free(pm);
}

int p2pq_portmap_mapping(const p2pq_portmap *pm, int *proto, p2pq_addr *external,
                         uint32_t *lifetime) {
  if (pm->external.family == 0)
    return P2PQ_ERR_NOT_FOUND;
  if (proto)
    *proto = pm->proto;
  if (external)
    *external = pm->external;
  if (lifetime)
    *lifetime = pm->lifetime;
  return 0;
}

int p2pq_portmap_last_error(const p2pq_portmap *pm, const char **detail) {
  if (detail)
    *detail = pm->detail;
  return pm->last_error;
}

void p2pq_portmap_addrs(const p2pq_portmap *pm, p2pq_addr *gateway, p2pq_addr *local) {
  if (gateway)
    *gateway = pm->gw;
  if (local)
    *local = pm->local;
}
