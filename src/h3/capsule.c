/* Capsule Protocol and HTTP/3 Datagram framing (RFC 9297 sections 3 and 2.1). */
#include "p2pq/h3.h"

#include "common/buf.h"

int p2pq_h3_capsule_decode(const uint8_t *p, size_t len, p2pq_h3_capsule *c, size_t *consumed) {
  p2pq_rd r;
  uint64_t vlen;
  int rc;
  p2pq_rd_init(&r, p, len);
  if ((rc = p2pq_rd_varint(&r, &c->type)) < 0 || (rc = p2pq_rd_varint(&r, &vlen)) < 0)
    return rc;
  if (vlen > p2pq_rd_left(&r))
    return P2PQ_ERR_TRUNCATED;
  p2pq_rd_bytes(&r, (size_t)vlen, &c->value);
  c->len = (size_t)vlen;
  *consumed = len - p2pq_rd_left(&r);
  return 0;
}

int p2pq_h3_capsule_encode(uint8_t *out, size_t cap, uint64_t type, const uint8_t *value,
                           size_t len) {
  p2pq_wr w;
  int rc;
  p2pq_wr_init(&w, out, cap);
  if ((rc = p2pq_wr_varint(&w, type)) < 0 || (rc = p2pq_wr_varint(&w, len)) < 0 ||
      (rc = p2pq_wr_bytes(&w, value, len)) < 0)
    return rc;
  return (int)(cap - p2pq_wr_left(&w));
}

int p2pq_h3_capsule_next_datagram(const uint8_t *p, size_t len, const uint8_t **payload,
                                  size_t *payload_len, size_t *consumed) {
  size_t off = 0;
  *consumed = 0;
  while (off < len) {
    p2pq_h3_capsule c;
    size_t n;
    int rc = p2pq_h3_capsule_decode(p + off, len - off, &c, &n);
    if (rc < 0)
      return off ? 0 : rc; /* report the skipped prefix first */
    off += n;
    *consumed = off;
    if (c.type == P2PQ_H3_CAPSULE_DATAGRAM) {
      *payload = c.value;
      *payload_len = c.len;
      return 1;
    }
  }
  return off ? 0 : P2PQ_ERR_TRUNCATED;
}

#define QSID_MAX ((1ull << 60) - 1)

int p2pq_h3_datagram_encode(uint8_t *out, size_t cap, int64_t stream_id, const uint8_t *payload,
                            size_t len) {
  p2pq_wr w;
  int rc;
  /* only client-initiated bidirectional streams carry requests */
  if (stream_id < 0 || (stream_id & 3) != 0)
    return P2PQ_ERR_INVALID_ARG;
  p2pq_wr_init(&w, out, cap);
  if ((rc = p2pq_wr_varint(&w, (uint64_t)stream_id / 4)) < 0 ||
      (rc = p2pq_wr_bytes(&w, payload, len)) < 0)
    return rc;
  return (int)(cap - p2pq_wr_left(&w));
}

int p2pq_h3_datagram_decode(const uint8_t *p, size_t len, int64_t *stream_id,
                            const uint8_t **payload, size_t *payload_len, uint64_t *h3_err) {
  p2pq_rd r;
  uint64_t q;
  p2pq_rd_init(&r, p, len);
  if (p2pq_rd_varint(&r, &q) < 0 || q > QSID_MAX) {
    *h3_err = P2PQ_H3_DATAGRAM_ERROR;
    return P2PQ_ERR_H3;
  }
  *stream_id = (int64_t)(q * 4);
  *payload = r.p;
  *payload_len = p2pq_rd_left(&r);
  return 0;
}
