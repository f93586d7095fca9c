/* natprobe wire format (see probe_msg.h):
 *   magic u32 | version u8 | type u8 | flags u8 | from u8 | txid u64
 *   response only: family u8 (4 or 6) | port u16 | ip (4 or 16 bytes) */
#include "probe_msg.h"

#include <string.h>

#include "common/buf.h"
#include "p2pq/error.h"

int p2pq_probe_encode(const p2pq_probe_msg *m, uint8_t *out, size_t cap) {
  p2pq_wr w;
  int rc;
  size_t iplen = m->observed.family == 6 ? 16 : 4;

  if (m->type != P2PQ_PROBE_REQ && m->type != P2PQ_PROBE_RESP)
    return P2PQ_ERR_INVALID_ARG;
  if ((m->flags & ~P2PQ_PROBE_F_ALL) || m->from > 3)
    return P2PQ_ERR_INVALID_ARG;
  if (m->type == P2PQ_PROBE_RESP && m->observed.family != 4 && m->observed.family != 6)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if ((rc = p2pq_wr_u32(&w, P2PQ_PROBE_MAGIC)) || (rc = p2pq_wr_u8(&w, P2PQ_PROBE_VERSION)) ||
      (rc = p2pq_wr_u8(&w, m->type)) || (rc = p2pq_wr_u8(&w, m->flags)) ||
      (rc = p2pq_wr_u8(&w, m->from)) || (rc = p2pq_wr_u64(&w, m->txid)))
    return rc;
  if (m->type == P2PQ_PROBE_RESP &&
      ((rc = p2pq_wr_u8(&w, m->observed.family)) || (rc = p2pq_wr_u16(&w, m->observed.port)) ||
       (rc = p2pq_wr_bytes(&w, m->observed.ip, iplen))))
    return rc;
  return (int)(w.p - out);
}

static int probe_decode_observed(p2pq_rd *r, p2pq_addr *a) {
  uint8_t fam;
  uint16_t port;
  int rc;

  if ((rc = p2pq_rd_u8(r, &fam)) || (rc = p2pq_rd_u16(r, &port)))
    return rc;
  if (fam != 4 && fam != 6)
    return P2PQ_ERR_MALFORMED;
  memset(a, 0, sizeof(*a));
  a->family = fam;
  a->port = port;
  return p2pq_rd_copy(r, a->ip, fam == 6 ? 16 : 4);
}

int p2pq_probe_decode(const uint8_t *p, size_t len, p2pq_probe_msg *m) {
  p2pq_rd r;
  uint32_t magic;
  uint8_t ver;
  int rc;

  memset(m, 0, sizeof(*m));
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_u32(&r, &magic)))
    return rc;
  if (magic != P2PQ_PROBE_MAGIC)
    return P2PQ_ERR_MALFORMED;
  if ((rc = p2pq_rd_u8(&r, &ver)))
    return rc;
  if (ver != P2PQ_PROBE_VERSION)
    return P2PQ_ERR_UNSUPPORTED;
  if ((rc = p2pq_rd_u8(&r, &m->type)) || (rc = p2pq_rd_u8(&r, &m->flags)) ||
      (rc = p2pq_rd_u8(&r, &m->from)) || (rc = p2pq_rd_u64(&r, &m->txid)))
    return rc;
  if (m->type != P2PQ_PROBE_REQ && m->type != P2PQ_PROBE_RESP)
    return P2PQ_ERR_MALFORMED;
  if ((m->flags & ~P2PQ_PROBE_F_ALL) || m->from > 3)
    return P2PQ_ERR_MALFORMED;
  if (m->type == P2PQ_PROBE_RESP && (rc = probe_decode_observed(&r, &m->observed)))
    return rc;
  return p2pq_rd_left(&r) ? P2PQ_ERR_MALFORMED : 0;
}
