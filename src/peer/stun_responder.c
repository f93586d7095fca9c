/* STUN Binding answers on the QUIC port (see stun_responder.h). */
#include "peer/stun_responder.h"

#include <string.h>

#include "nat/stun_server.h"

void p2pq_stun_responder_init(p2pq_stun_responder *r, const char *software) {
  memset(r, 0, sizeof(*r));
  r->software = software;
}

void p2pq_stun_responder_clear(p2pq_stun_responder *r) { memset(r, 0, sizeof(*r)); }

void p2pq_stun_responder_attach(p2pq_stun_responder *r, p2pq_config *cfg) {
  cfg->on_other = p2pq_stun_responder_on_other;
  cfg->other_user = r;
}

/* A wildcard socket address (0.0.0.0, ::) says nothing about where the
 * request arrived: leave RESPONSE-ORIGIN out rather than lie. */
static int addr_specific(const p2pq_addr *a) {
  static const uint8_t zero[16];
  return a != NULL && (a->family == 4 || a->family == 6) &&
         memcmp(a->ip, zero, p2pq_addr_iplen(a)) != 0;
}

void p2pq_stun_responder_on_other(void *user, p2pq_endpoint *ep, const uint8_t *data,
                                  size_t len, const p2pq_addr *local, const p2pq_addr *remote,
                                  p2pq_tstamp now) {
  p2pq_stun_responder *r = user;
  p2pq_stun_server_opts opts;
  uint8_t out[512];
  uint32_t change = 0;
  int n;
  (void)now;
  memset(&opts, 0, sizeof(opts));
  opts.software = r->software;
  if (addr_specific(local))
    opts.local = *local;
  /* no alternate address: a CHANGE-REQUEST is answered with 420 */
  n = p2pq_stun_server_respond_ex(data, len, remote, &opts, out, sizeof(out), &change);
  if (n <= 0) {
    r->ignored++;
    return;
  }
  if (p2pq_endpoint_queue_raw(ep, out, (size_t)n, local, remote) != 0)
    r->queue_full++;
  else
    r->answered++;
}
