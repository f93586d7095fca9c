/* QUIC connection IDs (RFC 9000 section 5.1): up to 20 bytes in version 1. */
#ifndef P2PQ_QUIC_CID_H
#define P2PQ_QUIC_CID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "p2pq/error.h"

#define P2PQ_MAX_CIDLEN 20

typedef struct p2pq_cid {
  uint8_t len;
  uint8_t data[P2PQ_MAX_CIDLEN];
} p2pq_cid;

static inline int p2pq_cid_equal(const p2pq_cid *a, const p2pq_cid *b) {
  return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Copies len bytes into c; P2PQ_ERR_INVALID_ARG if len > 20 (c is left empty). */
static inline int p2pq_cid_init(p2pq_cid *c, const uint8_t *p, size_t len) {
  memset(c, 0, sizeof(*c));
  if (len > P2PQ_MAX_CIDLEN)
    return P2PQ_ERR_INVALID_ARG;
  if (len)
    memcpy(c->data, p, len);
  c->len = (uint8_t)len;
  return 0;
}

#endif
