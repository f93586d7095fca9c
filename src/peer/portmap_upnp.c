/* UPnP IGD worker thread (see portmap_upnp.h). */
#include "peer/portmap_upnp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2pq/error.h"

#ifdef P2PQ_HAVE_MINIUPNPC
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#endif

struct p2pq_upnp_job {
  pthread_t thread;
  pthread_mutex_t mu;
  int done, abandoned;
  int pipe[2];
  p2pq_upnp_req req;
  p2pq_upnp_res res;
};

#ifdef P2PQ_HAVE_MINIUPNPC
static void copy_igd(p2pq_upnp_igd *igd, const struct UPNPUrls *u, const struct IGDdatas *d,
                     const char *lan) {
  snprintf(igd->control_url, sizeof(igd->control_url), "%s", u->controlURL ? u->controlURL : "");
  snprintf(igd->service_type, sizeof(igd->service_type), "%s", d->first.servicetype);
  snprintf(igd->lanaddr, sizeof(igd->lanaddr), "%s", lan);
}

/* Whether url's host is the gateway (any host when none is configured): SSDP
 * answers come from every IGD on the LAN, not only from our router. */
static int at_gateway(const char *url, const char *gw) {
  const char *h = url ? strstr(url, "://") : NULL;
  size_t n = strlen(gw);
  if (gw[0] == '\0')
    return 1;
  if (h == NULL)
    return 0;
  h += 3;
  return strncmp(h, gw, n) == 0 && (h[n] == ':' || h[n] == '/' || h[n] == '\0');
}

/* SSDP first; an IGD that calls itself "not connected" (status 2) is used all
 * the same: miniupnpd says so whenever its external address is on its
 * reserved list, yet it maps. Then the usual rootDesc.xml URL on the gateway. */
static int discover(const p2pq_upnp_req *q, p2pq_upnp_res *r) {
  struct UPNPUrls urls;
  struct IGDdatas data;
  struct UPNPDev *devs;
  char lan[64] = "", url[128];
  int err = 0, st = 0;
  memset(&urls, 0, sizeof(urls));
  memset(&data, 0, sizeof(data));
  devs = upnpDiscover(q->discover_ms, NULL, NULL, 0, 0, 2, &err);
  if (devs != NULL) {
    st = UPNP_GetValidIGD(devs, &urls, &data, lan, sizeof(lan));
    freeUPNPDevlist(devs);
  }
  if ((st == 1 || st == 2) && !at_gateway(urls.controlURL, q->gateway)) {
    FreeUPNPUrls(&urls);
    st = 0; /* someone else's IGD: try the gateway's own URL below */
  }
  if (st == 1 || st == 2) {
    copy_igd(&r->igd, &urls, &data, lan);
    FreeUPNPUrls(&urls);
    snprintf(r->detail, sizeof(r->detail), "IGD found by SSDP%s",
             st == 2 ? " (reports itself not connected; used anyway)" : "");
    return 0;
  }
  if (st == 3)
    FreeUPNPUrls(&urls);
  memset(&urls, 0, sizeof(urls));
  memset(&data, 0, sizeof(data));
  if (q->gateway[0] == '\0')
    return P2PQ_ERR_NOT_FOUND;
  snprintf(url, sizeof(url), "http://%s:%u/rootDesc.xml", q->gateway, (unsigned)q->upnp_port);
  if (UPNP_GetIGDFromUrl(url, &urls, &data, lan, sizeof(lan)) != 1) {
    FreeUPNPUrls(&urls);
    return P2PQ_ERR_NOT_FOUND;
  }
  copy_igd(&r->igd, &urls, &data, lan);
  FreeUPNPUrls(&urls);
  snprintf(r->detail, sizeof(r->detail), "IGD at %s", url);
  return 0;
}

static void do_add(const p2pq_upnp_req *q, p2pq_upnp_res *r) {
  char ext[8], in[8], lease[16], ip[40] = "";
  int rv;
  r->igd = q->igd;
  if (r->igd.control_url[0] == '\0' && discover(q, r) != 0) {
    r->error = P2PQ_ERR_NOT_FOUND;
    snprintf(r->detail, sizeof(r->detail), "no UPnP IGD answered (SSDP, %s:%u)",
             q->gateway[0] ? q->gateway : "no gateway", (unsigned)q->upnp_port);
    return;
  }
  if (UPNP_GetExternalIPAddress(r->igd.control_url, r->igd.service_type, ip) == 0)
    snprintf(r->ext_ip, sizeof(r->ext_ip), "%s", ip);
  snprintf(ext, sizeof(ext), "%u", (unsigned)q->external_port);
  snprintf(in, sizeof(in), "%u", (unsigned)q->internal_port);
  snprintf(lease, sizeof(lease), "%u", (unsigned)q->lifetime);
  r->lifetime = q->lifetime;
  rv = UPNP_AddPortMapping(r->igd.control_url, r->igd.service_type, ext, in, r->igd.lanaddr,
                           "p2pquic", "UDP", NULL, lease);
  if (rv == 725) { /* OnlyPermanentLeasesSupported */
    r->lifetime = 0;
    rv = UPNP_AddPortMapping(r->igd.control_url, r->igd.service_type, ext, in,
                             r->igd.lanaddr, "p2pquic", "UDP", NULL, "0");
  }
  if (rv != 0) {
    r->error = P2PQ_ERR_PORTMAP;
    snprintf(r->detail, sizeof(r->detail), "AddPortMapping refused: %d %s", rv,
             strupnperror(rv) ? strupnperror(rv) : "");
  }
}

static void do_delete(const p2pq_upnp_req *q, p2pq_upnp_res *r) {
  char ext[8];
  int rv;
  r->igd = q->igd;
  snprintf(ext, sizeof(ext), "%u", (unsigned)q->external_port);
  rv = UPNP_DeletePortMapping(q->igd.control_url, q->igd.service_type, ext, "UDP", NULL);
  if (rv != 0) {
    r->error = P2PQ_ERR_PORTMAP;
    snprintf(r->detail, sizeof(r->detail), "DeletePortMapping failed: %d %s", rv,
             strupnperror(rv) ? strupnperror(rv) : "");
  }
}

static void *job_main(void *arg) {
  p2pq_upnp_job *j = arg;
  int abandoned;
  if (j->req.op == P2PQ_UPNP_ADD)
    do_add(&j->req, &j->res);
  else
    do_delete(&j->req, &j->res);
  pthread_mutex_lock(&j->mu);
  j->done = 1;
  abandoned = j->abandoned;
  pthread_mutex_unlock(&j->mu);
  if (!abandoned) {
    ssize_t n = write(j->pipe[1], "x", 1);
    (void)n;
    return NULL;
  }
  /* Nobody waits any more: a mapping made now would be left open. */
  if (j->req.op == P2PQ_UPNP_ADD && j->res.error == 0) {
    p2pq_upnp_req d = j->req;
    p2pq_upnp_res dr;
    memset(&dr, 0, sizeof(dr));
    d.op = P2PQ_UPNP_DELETE;
    d.igd = j->res.igd;
    do_delete(&d, &dr);
  }
  close(j->pipe[0]);
  close(j->pipe[1]);
  pthread_mutex_destroy(&j->mu);
  free(j);
  return NULL;
}

int p2pq_upnp_job_start(p2pq_upnp_job **out, const p2pq_upnp_req *req) {
  p2pq_upnp_job *j = calloc(1, sizeof(*j));
  if (j == NULL)
    return P2PQ_ERR_NOMEM;
  j->req = *req;
  if (pipe2(j->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    free(j);
    return P2PQ_ERR_IO;
  }
  pthread_mutex_init(&j->mu, NULL);
  if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
    close(j->pipe[0]);
    close(j->pipe[1]);
    pthread_mutex_destroy(&j->mu);
    free(j);
    return P2PQ_ERR_IO;
  }
  *out = j;
  return 0;
}
#else
int p2pq_upnp_job_start(p2pq_upnp_job **out, const p2pq_upnp_req *req) {
  (void)out;
  (void)req;
  return P2PQ_ERR_UNSUPPORTED;
}
#endif

int p2pq_upnp_job_fd(const p2pq_upnp_job *j) { return j->pipe[0]; }

int p2pq_upnp_job_done(p2pq_upnp_job *j) {
  int d;
  pthread_mutex_lock(&j->mu);
  d = j->done;
  pthread_mutex_unlock(&j->mu);
  return d;
}

void p2pq_upnp_job_finish(p2pq_upnp_job *j, p2pq_upnp_res *res) {
  pthread_join(j->thread, NULL);
  *res = j->res;
  close(j->pipe[0]);
  close(j->pipe[1]);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

void p2pq_upnp_job_abandon(p2pq_upnp_job *j) {
  int done;
  pthread_mutex_lock(&j->mu);
  done = j->done;
  j->abandoned = !done;
  pthread_mutex_unlock(&j->mu);
  if (done) {
    /* finished meanwhile: undo an unwanted mapping on a thread of its own */
    p2pq_upnp_req q = j->req;
    p2pq_upnp_res r;
    p2pq_upnp_job *d;
    p2pq_upnp_job_finish(j, &r);
    if (q.op == P2PQ_UPNP_ADD && r.error == 0) {
      q.op = P2PQ_UPNP_DELETE;
      q.igd = r.igd;
      if (p2pq_upnp_job_start(&d, &q) == 0)
        p2pq_upnp_job_abandon(d);
    }
    return;
  }
  pthread_detach(j->thread);
}
