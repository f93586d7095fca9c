/* Ready-made apps: a recorder and a reflector ("what address did you come from"). */
#include <string.h>

#include "common/buf.h"
#include "sim_internal.h"

static void record(sim_recorder *r, const p2pq_addr *local, const p2pq_addr *remote,
                   const uint8_t *d, size_t n, p2pq_tstamp now) {
  r->total++;
  if (r->n < SIM_REC_MAX) {
    sim_rec_entry *e = &r->e[r->n++];
    e->local = *local;
    e->remote = *remote;
    e->at = now;
    e->len = n;
    memcpy(e->data, d, n < sizeof(e->data) ? n : sizeof(e->data));
  }
}

static void rec_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                     const uint8_t *d, size_t n, p2pq_tstamp now) {
  record(app, local, remote, d, n, now);
}

const sim_app_ops sim_recorder_ops = {rec_recv, NULL, NULL};

size_t sim_reflect_encode(const p2pq_addr *a, uint8_t *out, size_t cap) {
  p2pq_wr w;
  p2pq_wr_init(&w, out, cap);
  if (p2pq_wr_u8(&w, a->family) || p2pq_wr_u16(&w, a->port) || p2pq_wr_bytes(&w, a->ip, 16))
    return 0;
  return SIM_REFLECT_LEN;
}

int sim_reflect_decode(const uint8_t *p, size_t len, p2pq_addr *a) {
  p2pq_rd r;
  uint8_t fam;
  uint16_t port;
  uint8_t ip[16];
  int rc;
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_u8(&r, &fam)) || (rc = p2pq_rd_u16(&r, &port)) ||
      (rc = p2pq_rd_copy(&r, ip, sizeof(ip))))
    return rc;
  if (fam == 4)
    p2pq_addr_v4(a, ip, port);
  else if (fam == 6)
    p2pq_addr_v6(a, ip, port);
  else
    return P2PQ_ERR_MALFORMED;
  return 0;
}

static void refl_recv(void *app, sim_host *h, const p2pq_addr *local, const p2pq_addr *remote,
                      const uint8_t *d, size_t n, p2pq_tstamp now) {
  uint8_t out[SIM_REFLECT_LEN];
  record(app, local, remote, d, n, now);
  if (sim_reflect_encode(remote, out, sizeof(out)))
    sim_send(h, local, remote, out, sizeof(out));
}

const sim_app_ops sim_reflector_ops = {refl_recv, NULL, NULL};
