/* Bounds-checked readers and writers, network byte order, QUIC varints
 * (RFC 9000 section 16). Every parser in p2pquic reads through p2pq_rd so that
 * no parser can read past its input. */
#ifndef P2PQ_COMMON_BUF_H
#define P2PQ_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "p2pq/error.h"

#define P2PQ_VARINT_MAX ((1ull << 62) - 1)

typedef struct p2pq_rd {
  const uint8_t *p;
  const uint8_t *end;
} p2pq_rd;

typedef struct p2pq_wr {
  uint8_t *p;
  uint8_t *end;
} p2pq_wr;

static inline void p2pq_rd_init(p2pq_rd *r, const uint8_t *p, size_t len) {
  r->p = p;
  r->end = p + len;
}
static inline size_t p2pq_rd_left(const p2pq_rd *r) { return (size_t)(r->end - r->p); }

static inline int p2pq_rd_u8(p2pq_rd *r, uint8_t *v) {
  if (r->p >= r->end)
    return P2PQ_ERR_TRUNCATED;
  *v = *r->p++;
  return 0;
}
static inline int p2pq_rd_u16(p2pq_rd *r, uint16_t *v) {
  if (p2pq_rd_left(r) < 2)
    return P2PQ_ERR_TRUNCATED;
  *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
  r->p += 2;
  return 0;
}
static inline int p2pq_rd_u32(p2pq_rd *r, uint32_t *v) {
  if (p2pq_rd_left(r) < 4)
    return P2PQ_ERR_TRUNCATED;
  *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
       r->p[3];
  r->p += 4;
  return 0;
}
static inline int p2pq_rd_u64(p2pq_rd *r, uint64_t *v) {
  uint32_t hi = 0, lo = 0;
  if (p2pq_rd_left(r) < 8)
    return P2PQ_ERR_TRUNCATED;
  p2pq_rd_u32(r, &hi);
  p2pq_rd_u32(r, &lo);
  *v = ((uint64_t)hi << 32) | lo;
  return 0;
}
/* Returns a pointer to the next n bytes in *out and advances. */
static inline int p2pq_rd_bytes(p2pq_rd *r, size_t n, const uint8_t **out) {
  if (p2pq_rd_left(r) < n)
    return P2PQ_ERR_TRUNCATED;
  *out = r->p;
  r->p += n;
  return 0;
}
static inline int p2pq_rd_copy(p2pq_rd *r, void *dst, size_t n) {
  if (p2pq_rd_left(r) < n)
    return P2PQ_ERR_TRUNCATED;
  memcpy(dst, r->p, n);
  r->p += n;
  return 0;
}
static inline int p2pq_rd_skip(p2pq_rd *r, size_t n) {
  if (p2pq_rd_left(r) < n)
    return P2PQ_ERR_TRUNCATED;
  r->p += n;
  return 0;
}

/* QUIC variable-length integer. */
static inline int p2pq_rd_varint(p2pq_rd *r, uint64_t *v) {
  size_t n, i;
  uint64_t x;
  if (r->p >= r->end)
    return P2PQ_ERR_TRUNCATED;
  n = (size_t)1 << (r->p[0] >> 6);
  if (p2pq_rd_left(r) < n)
    return P2PQ_ERR_TRUNCATED;
  x = r->p[0] & 0x3f;
  for (i = 1; i < n; i++)
    x = (x << 8) | r->p[i];
  r->p += n;
  *v = x;
  return 0;
}

/* Bytes needed to encode v as a varint (v must be <= P2PQ_VARINT_MAX). */
static inline size_t p2pq_varint_len(uint64_t v) {
  return v < 64 ? 1 : v < 16384 ? 2 : v < 1073741824 ? 4 : 8;
}

static inline void p2pq_wr_init(p2pq_wr *w, uint8_t *p, size_t cap) {
  w->p = p;
  w->end = p + cap;
}
static inline size_t p2pq_wr_left(const p2pq_wr *w) { return (size_t)(w->end - w->p); }

static inline int p2pq_wr_u8(p2pq_wr *w, uint8_t v) {
  if (w->p >= w->end)
    return P2PQ_ERR_NOBUF;
  *w->p++ = v;
  return 0;
}
static inline int p2pq_wr_u16(p2pq_wr *w, uint16_t v) {
  if (p2pq_wr_left(w) < 2)
    return P2PQ_ERR_NOBUF;
  w->p[0] = (uint8_t)(v >> 8);
  w->p[1] = (uint8_t)v;
  w->p += 2;
  return 0;
}
static inline int p2pq_wr_u32(p2pq_wr *w, uint32_t v) {
  if (p2pq_wr_left(w) < 4)
    return P2PQ_ERR_NOBUF;
  w->p[0] = (uint8_t)(v >> 24);
  w->p[1] = (uint8_t)(v >> 16);
  w->p[2] = (uint8_t)(v >> 8);
  w->p[3] = (uint8_t)v;
  w->p += 4;
  return 0;
}
static inline int p2pq_wr_u64(p2pq_wr *w, uint64_t v) {
  if (p2pq_wr_left(w) < 8)
    return P2PQ_ERR_NOBUF;
  p2pq_wr_u32(w, (uint32_t)(v >> 32));
  p2pq_wr_u32(w, (uint32_t)v);
  return 0;
}
static inline int p2pq_wr_bytes(p2pq_wr *w, const void *src, size_t n) {
  if (p2pq_wr_left(w) < n)
    return P2PQ_ERR_NOBUF;
  if (n)
    memcpy(w->p, src, n);
  w->p += n;
  return 0;
}
static inline int p2pq_wr_varint_n(p2pq_wr *w, uint64_t v, size_t n) {
  size_t i;
  static const uint8_t prefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  if (n != 1 && n != 2 && n != 4 && n != 8)
    return P2PQ_ERR_INVALID_ARG;
  if (v > P2PQ_VARINT_MAX || p2pq_varint_len(v) > n)
    return P2PQ_ERR_INVALID_ARG;
  if (p2pq_wr_left(w) < n)
    return P2PQ_ERR_NOBUF;
  for (i = n; i > 0; i--) {
    w->p[i - 1] = (uint8_t)v;
    v >>= 8;
  }
  w->p[0] |= prefix[n];
  w->p += n;
  return 0;
}
/* Writes v in its shortest encoding. */
static inline int p2pq_wr_varint(p2pq_wr *w, uint64_t v) {
  if (v > P2PQ_VARINT_MAX)
    return P2PQ_ERR_INVALID_ARG;
  return p2pq_wr_varint_n(w, v, p2pq_varint_len(v));
}

#endif
